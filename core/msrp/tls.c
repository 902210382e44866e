/*
 * tls.c — server credentials, loaded or made self-signed. See tls.h.
 */
#define G_LOG_DOMAIN "sylk-tls"
#include "msrp/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALID_DAYS 3650

static int fail(char **error, int gnutls_rc, const char *what)
{
    *error = g_strdup_printf("%s: %s", what, gnutls_strerror(gnutls_rc));
    return -EINVAL;
}

/* An IP literal goes in subjectAltName as an address, anything else as a DNS name. */
static int set_alt_name(gnutls_x509_crt_t crt, const char *host)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4,
                                                    GNUTLS_FSAN_SET);
    if (inet_pton(AF_INET6, host, addr) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 16,
                                                    GNUTLS_FSAN_SET);
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
                                                (unsigned)strlen(host), GNUTLS_FSAN_SET);
}

static int make_certificate(gnutls_x509_privkey_t key, const char *host, gnutls_x509_crt_t crt)
{
    unsigned char serial[16];
    for (size_t i = 0; i < sizeof(serial); i++)
        serial[i] = (unsigned char)g_random_int_range(0, 256);
    serial[0] &= 0x7f; /* a positive number */
    time_t now = time(NULL);
    int rc;
    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, now + VALID_DAYS * 86400L)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host,
                                            (unsigned)strlen(host))) < 0 ||
        (rc = set_alt_name(crt, host)) < 0 || (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        return rc;
    return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

/* The certificate and key as one PEM text. */
static int export_pem(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, GString *out, char **error)
{
    gnutls_datum_t c = {0}, k = {0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c);
    if (rc >= 0)
        rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k);
    if (rc >= 0) {
        g_string_append_len(out, (const char *)c.data, c.size);
        g_string_append_len(out, (const char *)k.data, k.size);
    }
    gnutls_free(c.data);
    gnutls_free(k.data);
    return rc < 0 ? fail(error, rc, "cannot export the certificate") : 0;
}

/* Writes `pem` into `path` (0600) through a temporary file; false (errno kept) on failure. */
static bool write_pem(const char *path, const GString *pem)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return false;
    g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, pem->str, pem->len) == (ssize_t)pem->len && fsync(fd) == 0;
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (!ok || g_rename(tmp, path) < 0) {
        err = ok ? errno : err;
        g_unlink(tmp);
        errno = err;
        return false;
    }
    return true;
}

/*
 * A new self-signed certificate into `pem`, kept in `path` when it can be written. When it
 * cannot (a spool directory the user may not write), the server still starts, with a
 * certificate that lives as long as the process: said in a warning.
 */
static int generate(const char *path, const char *host, GString *pem, char **error)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_init(&key);
    gnutls_x509_crt_init(&crt);
    int rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (rc >= 0)
        rc = make_certificate(key, host, crt);
    int ret = rc < 0 ? fail(error, rc, "cannot make a self-signed certificate")
                     : export_pem(crt, key, pem, error);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    if (ret < 0)
        return ret;
    if (write_pem(path, pem)) {
        g_message("made a self-signed TLS certificate for %s in %s", host, path);
        return 0;
    }
    g_warning("cannot write %s (%s): using a self-signed TLS certificate for %s kept in memory "
              "only, a new one at each start; set spool_dir to a writable directory, or configure "
              "a certificate",
              path, g_strerror(errno), host);
    return 1;
}

int sylk_tls_server_credentials(const char *pem, const char *spool_dir, const char *name,
                                const char *host, gnutls_certificate_credentials_t *out,
                                char **used_path, char **error)
{
    *error = NULL;
    g_autofree char *path = pem ? g_strdup(pem) : NULL;
    g_autoptr(GString) made = g_string_new(NULL);
    bool in_memory = false;
    if (!path) {
        g_autofree char *file = g_strdup_printf("%s.pem", name);
        path = g_build_filename(spool_dir, "tls", file, NULL);
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            int rc = generate(path, host, made, error);
            if (rc < 0)
                return rc;
            in_memory = rc == 1;
        }
    }
    gnutls_certificate_credentials_t cred;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0)
        return fail(error, rc, "cannot allocate TLS credentials");
    if (in_memory) {
        gnutls_datum_t d = {(unsigned char *)made->str, (unsigned)made->len};
        rc = gnutls_certificate_set_x509_key_mem(cred, &d, &d, GNUTLS_X509_FMT_PEM);
    } else {
        rc = gnutls_certificate_set_x509_key_file(cred, path, path, GNUTLS_X509_FMT_PEM);
    }
    if (rc < 0) {
        gnutls_certificate_free_credentials(cred);
        *error = g_strdup_printf("%s: %s", in_memory ? "self-signed certificate" : path,
                                 gnutls_strerror(rc));
        return -EINVAL;
    }
    *out = cred;
    *used_path = in_memory ? g_strdup("(in memory)") : g_steal_pointer(&path);
    return 0;
}
