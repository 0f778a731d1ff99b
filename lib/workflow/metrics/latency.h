/* Olive's latency and throughput sub-types from measured run times: avg, max, min and the
 * percentiles p50 ... p999 (numpy's default, linear interpolation between order statistics), in
 * milliseconds rounded to 5 decimals as Olive reports them; throughput is batch_size / latency
 * per second, its min from the max latency and its max from the min. */
#ifndef OLIVE_WORKFLOW_METRICS_LATENCY_H
#define OLIVE_WORKFLOW_METRICS_LATENCY_H

#include <stddef.h>

/* The sub-type names, in Olive's order. */
extern const char *const wf_latency_sub_types[9];

/* The q-th percentile (0..100) of n values, numpy.percentile's linear method. `sorted` ascending. */
double wf_percentile(const double *sorted, size_t n, double q);
/* Rounds to `digits` decimals as Python's round() does (correctly rounded, ties to even). */
double wf_round(double x, int digits);
/* One latency sub-type (ms) from run times in seconds. Errors: OLIVE_EINVALID for an unknown
 * sub-type or no samples. `seconds` is not modified. */
int wf_latency_value(double *out, const char *sub_type, const double *seconds, size_t n);
/* One throughput sub-type (per second) for `batch_size` items per run. */
int wf_throughput_value(double *out, const char *sub_type, const double *seconds, size_t n, double batch_size);

#endif
