/* Olive's perplexity sub-type: torchmetrics' Perplexity over the model's logits and the token
 * labels, with the one-position shift Olive applies (logits[..., :-1, :] against
 * labels[..., 1:]) and tokens whose label is ignore_index left out. The sums run over every
 * window, so the result is exp(total negative log-likelihood / scored tokens). */
#ifndef OLIVE_WORKFLOW_METRICS_PERPLEXITY_H
#define OLIVE_WORKFLOW_METRICS_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

typedef struct wf_perplexity {
    double nll;   /* sum of -log p(label) */
    double count; /* scored tokens */
    int has_ignore_index;
    int64_t ignore_index; /* Olive: -100 */
} wf_perplexity;

void wf_perplexity_init(wf_perplexity *p, int has_ignore_index, int64_t ignore_index);
/* Adds one window: logits [t, vocab] (row-major) and its t labels, shifted as Olive does.
 * Errors: OLIVE_EINVALID for a label outside [0, vocab) that is not ignored (named with its
 * position), OLIVE_EFORMAT for NaN or Inf logits. */
int wf_perplexity_add(wf_perplexity *p, const float *logits, const int64_t *labels, size_t t, size_t vocab);
/* exp(nll / count). Errors: OLIVE_EINVALID when no token was scored. */
int wf_perplexity_value(double *out, const wf_perplexity *p);

#endif
