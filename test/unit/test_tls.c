/* Unit tests for core/msrp/tls.c: a self-signed certificate is made once, kept with mode 0600,
 * names the host, and is reused; a configured file that is no PEM is refused with a reason. */
#include "msrp/tls.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void self_signed_made_once(void)
{
    g_autofree char *spool = g_dir_make_tmp("sylk-tls-XXXXXX", NULL);
    gnutls_certificate_credentials_t cred;
    g_autofree char *path = NULL, *error = NULL;
    g_assert_cmpint(
        sylk_tls_server_credentials(NULL, spool, "msrp", "127.0.0.1", &cred, &path, &error), ==, 0);
    g_assert_null(error);
    g_assert_true(g_str_has_suffix(path, "/tls/msrp.pem"));
    struct stat st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    gnutls_certificate_free_credentials(cred);

    /* the certificate names the host, as CN and as an IP subjectAltName */
    g_autofree char *pem = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &pem, &len, NULL));
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    g_assert_cmpint(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), ==, 0);
    char cn[64];
    size_t cn_len = sizeof(cn);
    g_assert_cmpint(
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len), ==, 0);
    g_assert_cmpstr(cn, ==, "127.0.0.1");
    g_assert_true(gnutls_x509_crt_check_ip(crt, (const unsigned char *)"\x7f\0\0\x01", 4, 0));
    gnutls_x509_crt_deinit(crt);

    /* a second start reuses it */
    g_autofree char *path2 = NULL, *pem2 = NULL;
    g_assert_cmpint(
        sylk_tls_server_credentials(NULL, spool, "msrp", "127.0.0.1", &cred, &path2, &error), ==,
        0);
    gnutls_certificate_free_credentials(cred);
    g_assert_true(g_file_get_contents(path2, &pem2, NULL, NULL));
    g_assert_cmpstr(pem, ==, pem2);
    g_unlink(path);
    g_autofree char *dir = g_path_get_dirname(path);
    g_rmdir(dir);
    g_rmdir(spool);
}

static void bad_pem_refused(void)
{
    g_autofree char *file = NULL;
    int fd = g_file_open_tmp("sylk-bad-XXXXXX.pem", &file, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "not a certificate\n", 18), ==, 18);
    close(fd);
    gnutls_certificate_credentials_t cred;
    g_autofree char *path = NULL, *error = NULL;
    g_assert_cmpint(sylk_tls_server_credentials(file, "/nonexistent", "msrp", "127.0.0.1", &cred,
                                                &path, &error),
                    <, 0);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error, file));
    g_unlink(file);
}

/* A spool the server cannot write (here: under a file): it still starts, with a certificate
 * kept in memory. */
static void unwritable_spool_falls_back_to_memory(void)
{
    g_autofree char *file = NULL;
    int fd = g_file_open_tmp("sylk-notadir-XXXXXX", &file, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    gnutls_certificate_credentials_t cred;
    g_autofree char *path = NULL, *error = NULL;
    g_test_expect_message("sylk-tls", G_LOG_LEVEL_WARNING, "*in memory only*");
    g_assert_cmpint(
        sylk_tls_server_credentials(NULL, file, "msrp", "127.0.0.1", &cred, &path, &error), ==, 0);
    g_test_assert_expected_messages();
    g_assert_cmpstr(path, ==, "(in memory)");
    gnutls_certificate_free_credentials(cred);
    g_unlink(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tls/self-signed-made-once", self_signed_made_once);
    g_test_add_func("/tls/bad-pem-refused", bad_pem_refused);
    g_test_add_func("/tls/unwritable-spool-falls-back-to-memory",
                    unwritable_spool_falls_back_to_memory);
    return g_test_run();
}
