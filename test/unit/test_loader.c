/* Unit tests for core/plugin/loader.c's ABI verdicts. (Loading real .so files, good and bad,
 * is covered by test/integration/test_abi.py.) */
#include "plugin/loader.h"

#include <glib.h>
#include <string.h>

static void test_accepts_current(void)
{
    struct sylk_plugin p = SYLK_PLUGIN_INIT(.name = "good");
    g_assert_null(sylk_plugin_check_abi(&p));
}

static void test_refuses(void)
{
    struct sylk_plugin p = SYLK_PLUGIN_INIT(.name = "x");
    p.abi_major = SYLK_ABI_MAJOR + 1;
    g_autofree char *major = sylk_plugin_check_abi(&p);
    g_assert_nonnull(strstr(major, "ABI major 2 differs from the server's 1"));

    p.abi_major = SYLK_ABI_MAJOR;
    p.abi_minor = SYLK_ABI_MINOR + 1;
    g_autofree char *minor = sylk_plugin_check_abi(&p);
    g_assert_nonnull(strstr(minor, "is newer than the server's"));

    p.abi_minor = SYLK_ABI_MINOR;
    p.struct_size = 16;
    g_autofree char *small = sylk_plugin_check_abi(&p);
    g_assert_nonnull(strstr(small, "struct_size 16 is smaller"));

    p.struct_size = sizeof(p);
    p.name = "bad name/..";
    g_autofree char *name = sylk_plugin_check_abi(&p);
    g_assert_nonnull(name);
    p.name = NULL;
    g_autofree char *none = sylk_plugin_check_abi(&p);
    g_assert_nonnull(none);
}

static void test_older_minor_and_bigger_struct(void)
{
    /* A plugin from a future minor the server does not know is refused above; an older minor
     * (or equal) with a bigger struct from a newer SDK revision of the same minor is fine. */
    struct sylk_plugin p = SYLK_PLUGIN_INIT(.name = "older");
    p.struct_size = sizeof(p) + 64;
    g_assert_null(sylk_plugin_check_abi(&p));
    g_assert_cmpuint(SYLK_PLUGIN_SIZE_1_0, <=, sizeof(struct sylk_plugin));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/loader/accepts-current", test_accepts_current);
    g_test_add_func("/loader/refuses", test_refuses);
    g_test_add_func("/loader/older-minor", test_older_minor_and_bigger_struct);
    return g_test_run();
}
