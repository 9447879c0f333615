/*
 * metrics_int.h - the registry's internals shared by metrics.c,
 * metrics_db.c (the collector) and metrics_http.c (the listener).
 */
#ifndef MR_METRICS_INT_H
#define MR_METRICS_INT_H

#include <stddef.h>

#include "relayer/metrics.h"

/* The index of a series in its family (created on first use), or -1 when
 * no slot is left. */
int metric_series_index(enum metric_id id, const char *const *values);
/* How many series family `id` has, and the i-th (i < that). */
size_t metric_family_size(enum metric_id id);
struct metric_series *metric_series_at(enum metric_id id, size_t i);

/* A sample value in the text format: integers exactly, "+Inf", "-Inf",
 * "NaN", else the shortest decimal that reads back to v. */
void metric_format_number(char *out, size_t cap, double v);

#endif /* MR_METRICS_INT_H */
