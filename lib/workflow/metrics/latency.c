/* Latency statistics as Olive computes them from time.perf_counter() run times. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/metrics/latency.h"

const char *const wf_latency_sub_types[9] = {"avg", "max", "min", "p50", "p75", "p90", "p95", "p99", "p999"};

double wf_percentile(const double *sorted, size_t n, double q)
{
    double pos = (double)(n - 1) * (q / 100.0), lo_f = floor(pos), t = pos - lo_f;
    size_t lo = (size_t)lo_f, hi = lo + 1 < n ? lo + 1 : lo;
    double a = sorted[lo], b = sorted[hi], d = b - a;
    /* numpy's lerp: from the nearer end, so that t == 1 gives b exactly. */
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

double wf_round(double x, int digits)
{
    char buf[64];
    if (!isfinite(x))
        return x;
    snprintf(buf, sizeof buf, "%.*f", digits, x);
    return strtod(buf, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int wf_latency_value(double *out, const char *sub_type, const double *seconds, size_t n)
{
    static const double qs[] = {50, 75, 90, 95, 99, 99.9};
    double *s, v;
    if (!n)
        return olive_fail(OLIVE_EINVALID, "latency: no measured run (repeat_test_num must be at least 1)");
    if (!(s = olive_memdup(seconds, n * sizeof *seconds)))
        return OLIVE_ENOMEM;
    qsort(s, n, sizeof *s, cmp_double);
    if (!strcmp(sub_type, "avg")) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += seconds[i]; /* in measured order, as Python's sum() adds them */
        v = sum / (double)n;
    } else if (!strcmp(sub_type, "max")) {
        v = s[n - 1];
    } else if (!strcmp(sub_type, "min")) {
        v = s[0];
    } else {
        size_t i = 3;
        while (i < 9 && strcmp(sub_type, wf_latency_sub_types[i]))
            i++;
        if (i == 9) {
            free(s);
            return olive_fail(OLIVE_EINVALID,
                              "latency sub-type '%s' is not one of avg, max, min, p50, p75, p90, p95, "
                              "p99, p999",
                              sub_type);
        }
        v = wf_percentile(s, n, qs[i - 3]);
    }
    free(s);
    *out = wf_round(v * 1000, 5);
    return OLIVE_OK;
}

int wf_throughput_value(double *out, const char *sub_type, const double *seconds, size_t n, double batch_size)
{
    double ms;
    const char *lat = !strcmp(sub_type, "min") ? "max" : !strcmp(sub_type, "max") ? "min" : sub_type;
    OLIVE_TRY(wf_latency_value(&ms, lat, seconds, n));
    if (ms <= 0)
        return olive_fail(OLIVE_EINVALID, "throughput: a measured latency of %g ms", ms);
    *out = wf_round(batch_size / ms * 1000, 5);
    return OLIVE_OK;
}
