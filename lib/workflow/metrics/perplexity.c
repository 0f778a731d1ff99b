/* Perplexity from logits: a log-softmax per position, in double precision. */
#include <math.h>

#include "core/status.h"
#include "workflow/metrics/perplexity.h"

void wf_perplexity_init(wf_perplexity *p, int has_ignore_index, int64_t ignore_index)
{
    p->nll = 0;
    p->count = 0;
    p->has_ignore_index = has_ignore_index;
    p->ignore_index = ignore_index;
}

int wf_perplexity_add(wf_perplexity *p, const float *logits, const int64_t *labels, size_t t, size_t vocab)
{
    /* Position i predicts label i + 1. */
    for (size_t i = 0; i + 1 < t; i++) {
        const float *row = logits + i * vocab;
        int64_t y = labels[i + 1];
        double m = -INFINITY, s = 0;
        if (p->has_ignore_index && y == p->ignore_index)
            continue;
        if (y < 0 || (uint64_t)y >= vocab)
            return olive_fail(OLIVE_EINVALID, "label %lld at position %zu: outside the vocabulary of %zu tokens",
                              (long long)y, i + 1, vocab);
        for (size_t v = 0; v < vocab; v++)
            m = row[v] > m ? row[v] : m;
        if (!isfinite(m))
            return olive_fail(OLIVE_EFORMAT, "logits at position %zu are NaN or infinite", i);
        for (size_t v = 0; v < vocab; v++)
            s += exp((double)row[v] - m);
        if (!isfinite(s) || !isfinite((double)row[y]))
            return olive_fail(OLIVE_EFORMAT, "logits at position %zu are NaN or infinite", i);
        p->nll += -((double)row[y] - m - log(s));
        p->count += 1;
    }
    return OLIVE_OK;
}

int wf_perplexity_value(double *out, const wf_perplexity *p)
{
    if (p->count <= 0)
        return olive_fail(OLIVE_EINVALID, "perplexity: no token to score (every label is ignore_index, or every "
                                          "window has one token)");
    *out = exp(p->nll / p->count);
    return OLIVE_OK;
}
