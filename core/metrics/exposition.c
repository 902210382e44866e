/*
 * exposition.c — the Prometheus text format writer. See exposition.h.
 *
 * Families are kept in the order first seen, each with its samples as text; the sample keys
 * ("name{labels}") already written are kept to refuse a second sample of the same series.
 */
#define G_LOG_DOMAIN "sylk-metrics"
#include "metrics/exposition.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

struct family {
    char *name, *help;
    enum sylk_metric_type type;
    GString *samples;
};

struct sylk_exposition {
    GPtrArray *families; /* struct family *, in the order first seen */
    GHashTable *by_name; /* name -> struct family * (owned by families) */
    GHashTable *series;  /* "name{labels}" written, owned */
};

static void family_free(gpointer data)
{
    struct family *f = data;
    g_free(f->name);
    g_free(f->help);
    g_string_free(f->samples, TRUE);
    g_free(f);
}

struct sylk_exposition *sylk_exposition_new(void)
{
    struct sylk_exposition *e = g_new0(struct sylk_exposition, 1);
    e->families = g_ptr_array_new_with_free_func(family_free);
    e->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    e->series = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return e;
}

void sylk_exposition_free(struct sylk_exposition *e)
{
    if (!e)
        return;
    g_hash_table_destroy(e->series);
    g_hash_table_destroy(e->by_name);
    g_ptr_array_free(e->families, TRUE);
    g_free(e);
}

bool sylk_exposition_name_valid(const char *name, bool label)
{
    if (!name || !*name)
        return false;
    if (label && g_str_has_prefix(name, "__"))
        return false; /* reserved for Prometheus itself */
    for (const char *p = name; *p; p++) {
        bool ok = g_ascii_isalpha(*p) || *p == '_' || (!label && *p == ':') ||
                  (p != name && g_ascii_isdigit(*p));
        if (!ok)
            return false;
    }
    return true;
}

/* Escapes for a label value (quotes too) or help text (`quote` false). */
static void append_escaped(GString *out, const char *text, bool quote)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);
    for (const char *p = valid; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (quote && *p == '"')
            g_string_append(out, "\\\"");
        else
            g_string_append_c(out, *p);
    }
}

static void append_value(GString *out, double v)
{
    if (isnan(v)) {
        g_string_append(out, "NaN");
    } else if (isinf(v)) {
        g_string_append(out, v > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), v));
    }
}

/* "name{a="x",b="y"}" with the values escaped, or NULL when a label is not valid. */
static GString *series_key(const char *name, const char *const *labels)
{
    GString *key = g_string_new(name);
    if (!labels || !labels[0])
        return key;
    g_string_append_c(key, '{');
    for (size_t i = 0; labels[i]; i += 2) {
        if (!labels[i + 1] || !sylk_exposition_name_valid(labels[i], true)) {
            g_string_free(key, TRUE);
            return NULL;
        }
        g_string_append_printf(key, "%s%s=\"", i ? "," : "", labels[i]);
        append_escaped(key, labels[i + 1], true);
        g_string_append_c(key, '"');
    }
    g_string_append_c(key, '}');
    return key;
}

int sylk_exposition_add(struct sylk_exposition *e, const char *name, const char *help,
                        enum sylk_metric_type type, const char *const *labels, double value)
{
    if (!e || !sylk_exposition_name_valid(name, false) || !help)
        return -EINVAL;
    if (type == SYLK_METRIC_COUNTER) {
        if (!g_str_has_suffix(name, "_total") || isnan(value) || value < 0)
            return -EINVAL;
    } else if (type != SYLK_METRIC_GAUGE) {
        return -EINVAL;
    }
    struct family *f = g_hash_table_lookup(e->by_name, name);
    if (f && (f->type != type || strcmp(f->help, help) != 0))
        return -EINVAL;
    GString *key = series_key(name, labels);
    if (!key)
        return -EINVAL;
    if (g_hash_table_contains(e->series, key->str)) {
        g_string_free(key, TRUE);
        return -EEXIST;
    }
    if (!f) {
        f = g_new0(struct family, 1);
        f->name = g_strdup(name);
        f->help = g_strdup(help);
        f->type = type;
        f->samples = g_string_new(NULL);
        g_ptr_array_add(e->families, f);
        g_hash_table_insert(e->by_name, f->name, f);
    }
    g_string_append_len(f->samples, key->str, (gssize)key->len);
    g_string_append_c(f->samples, ' ');
    append_value(f->samples, value);
    g_string_append_c(f->samples, '\n');
    g_hash_table_add(e->series, g_string_free(key, FALSE));
    return 0;
}

char *sylk_exposition_finish(struct sylk_exposition *e, size_t *len)
{
    GString *out = g_string_new(NULL);
    for (guint i = 0; e && i < e->families->len; i++) {
        const struct family *f = g_ptr_array_index(e->families, i);
        g_string_append_printf(out, "# HELP %s ", f->name);
        append_escaped(out, f->help, false);
        g_string_append_printf(out, "\n# TYPE %s %s\n", f->name,
                               f->type == SYLK_METRIC_COUNTER ? "counter" : "gauge");
        g_string_append_len(out, f->samples->str, (gssize)f->samples->len);
    }
    sylk_exposition_free(e);
    if (len)
        *len = out->len;
    return g_string_free(out, FALSE);
}
