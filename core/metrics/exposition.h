/*
 * exposition.h — the Prometheus text exposition format (version 0.0.4), written from samples:
 * one "# HELP" and one "# TYPE" line per metric family, then its samples, each family's samples
 * together whatever order they were added in.
 *
 * Checked here, so that no scrape ever carries text a Prometheus server refuses: metric names
 * ([a-zA-Z_:][a-zA-Z0-9_:]*), label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"),
 * counters named "…_total" with a value neither negative nor NaN, one type and help per family,
 * one sample per label set. Label values are escaped (\\, \", \n) and made valid UTF-8; help
 * text is escaped (\\, \n).
 *
 * A pure module: no thread of its own, no global state (the caller owns the object).
 */
#ifndef SYLK_EXPOSITION_H
#define SYLK_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <sylk/host.h>

struct sylk_exposition;

/** The Content-Type of the text this module writes. */
#define SYLK_EXPOSITION_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sylk_exposition *sylk_exposition_new(void);
void sylk_exposition_free(struct sylk_exposition *e);

/** True for a valid metric name, and for a valid label name (`label` true). */
bool sylk_exposition_name_valid(const char *name, bool label);

/**
 * Adds one sample. `labels` is NULL or a NULL-terminated list of name, value pairs. 0, or
 * -EINVAL (a name, a label name or the pair list that is not valid, a counter not named
 * "…_total" or with a negative or NaN value, a family seen before with another type or help,
 * an unknown type) or -EEXIST (the same name and labels again). Nothing is added on error.
 */
int sylk_exposition_add(struct sylk_exposition *e, const char *name, const char *help,
                        enum sylk_metric_type type, const char *const *labels, double value);

/** The text of every family added (g_free'd by the caller); `e` is freed. */
char *sylk_exposition_finish(struct sylk_exposition *e, size_t *len);

#endif
