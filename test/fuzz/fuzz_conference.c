/*
 * libFuzzer target: what the conference takes from participants before using it (its
 * sanitize.c): offered file names (files_sanitize_name) and screen-sharing payloads
 * (screen_decode). A stored name is a plain file name: valid UTF-8, at most 200 bytes, no
 * slash or control character, not hidden; a decoded screen image is a whole JPEG.
 */
#include "files.h"
#include "screen.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_name(const uint8_t *data, size_t size)
{
    char *offered = g_strndup((const char *)data, size);
    char *name = files_sanitize_name(offered);
    size_t len = strlen(name);
    if (len == 0 || len > 200 || !g_utf8_validate(name, -1, NULL) || name[0] == '.' ||
        strpbrk(name, "/\\\r\n\t") || strcmp(name, "..") == 0)
        abort();
    char *again = files_sanitize_name(name); /* stable: a stored name stays as it is */
    if (strcmp(again, name) != 0)
        abort();
    g_free(again);
    g_free(name);
    g_free(offered);
}

static void check_image(const uint8_t *data, size_t size)
{
    GBytes *image = screen_decode(data, size);
    if (!image)
        return;
    gsize n;
    const uint8_t *jpeg = g_bytes_get_data(image, &n);
    if (n < 4 || jpeg[0] != 0xff || jpeg[1] != 0xd8 || jpeg[n - 2] != 0xff || jpeg[n - 1] != 0xd9)
        abort();
    g_bytes_unref(image);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_name(data, size);
    check_image(data, size);
    return 0;
}
