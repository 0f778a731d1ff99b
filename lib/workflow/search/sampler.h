/* Samplers: the order in which a search proposes the points of a space.
 *
 * - sequential: every valid point in the space's stable order.
 * - random: every valid point once, in an order drawn from the seed (no repeats).
 * - tpe: Optuna's Tree-structured Parzen Estimator as Olive configures it (multivariate, prior
 *   weight 1, n_startup_trials 10, gamma(n) = min(ceil(n / 10), 25), Optuna's default
 *   weights). The first 10 proposals are random; after them the trials told so far are split
 *   into the best gamma(n) ("below", l) and the rest ("above", g), each becomes a mixture of
 *   categorical kernels (one per trial plus the uniform prior) and the proposal is the point
 *   that maximises log l(x) - log g(x). Optuna draws 24 candidates from l and takes the best of
 *   them; here every point not yet proposed is a candidate, so the choice is deterministic and
 *   equals Optuna's whenever its 24 draws include the best point, and never repeats a point
 *   (Olive asks Optuna again on a repeat). Several objectives are ordered by priority
 *   (lexicographically, Olive's priority order) instead of Optuna's non-domination ranks.
 *
 * A sampler never repeats a point, so a search ends after at most every point. */
#ifndef OLIVE_WORKFLOW_SEARCH_SAMPLER_H
#define OLIVE_WORKFLOW_SEARCH_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "workflow/search/space.h"

typedef enum { WS_SEQUENTIAL, WS_RANDOM, WS_TPE } ws_sampler_kind;

/* The outcome of a trial told to the sampler. */
typedef enum { WS_TRIAL_COMPLETE, WS_TRIAL_PRUNED, WS_TRIAL_FAILED } ws_trial_state;

#define WS_TPE_STARTUP 10

typedef struct ws_sampler ws_sampler;

/* A sampler over `space` (borrowed: it must outlive the sampler). Errors: OLIVE_EINVALID for
 * a space without points or too many; OLIVE_ENOMEM. */
int ws_sampler_new(ws_sampler **out, ws_sampler_kind kind, const ws_space *space, uint64_t seed);
/* Parses "sequential" | "random" | "tpe" (case-insensitive). Errors: OLIVE_EINVALID naming
 * the known samplers. */
int ws_sampler_kind_parse(ws_sampler_kind *out, const char *name, const char *where);
/* Proposes the next point into idx (one index per parameter); returns 1, or 0 when every
 * point has been proposed. */
int ws_sampler_next(ws_sampler *s, size_t *idx);
/* Marks `idx` as proposed out of turn (a trial recorded earlier, replayed so that it can be
 * told). Errors: OLIVE_EINVALID for a point not in the space or already proposed. */
int ws_sampler_replay(ws_sampler *s, const size_t *idx);
/* Tells the outcome of a proposed point: `scores` (n_scores values, priority order, lower is
 * better) for a complete trial; ignored for pruned trials; a failed trial counts as the worst.
 * Errors: OLIVE_EINVALID for a point never proposed or told twice. */
int ws_sampler_tell(ws_sampler *s, const size_t *idx, const double *scores, size_t n_scores, ws_trial_state state);
void ws_sampler_free(ws_sampler *s);

/* ---- TPE's parts, exposed for tests against Optuna ---- */

/* Optuna's default_gamma: min(ceil(0.1 n), 25). */
size_t ws_tpe_gamma(size_t n);
/* Optuna's default_weights for n observations into w[n]: ones below 25, else a ramp from 1/n
 * to 1 over the oldest n - 25 and ones for the newest 25. */
void ws_tpe_weights(double *w, size_t n);
/* log of the multivariate categorical Parzen estimator's density at `x` (n_params category
 * indices; n_choices[p] categories each), built from n_obs observations (row-major
 * n_obs x n_params, in trial order) with default weights and a uniform prior of weight 1. */
double ws_tpe_log_pdf(const size_t *x, size_t n_params, const size_t *n_choices, const size_t *obs, size_t n_obs);

#endif
