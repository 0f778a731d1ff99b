/* Olive's search_strategy: {execution_order: joint | pass-by-pass, sampler: sequential | random |
 * tpe, max_samples, seed, stop_when_goals_met, max_iter, max_time}. `true` is Olive's default
 * (joint, tpe, seed 1, no limits); `false` or null turns searching off. The older form
 * {search_algorithm: "tpe" | "random" | "exhaustive", search_algorithm_config: {num_samples,
 * seed}} is mapped to the new one with a note in the log ("exhaustive" is "sequential"). */
#ifndef OLIVE_WORKFLOW_SEARCH_STRATEGY_H
#define OLIVE_WORKFLOW_SEARCH_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "workflow/search/sampler.h"

typedef struct ws_strategy {
    int enabled;
    int pass_by_pass; /* execution_order "pass-by-pass" (else joint) */
    ws_sampler_kind sampler;
    size_t max_samples; /* 0: no limit */
    uint64_t seed;
    int stop_when_goals_met;
    size_t max_iter; /* 0: no limit */
    double max_time; /* seconds; 0: no limit */
} ws_strategy;

/* Parses `v` (may be NULL: searching off). Unknown keys are warnings, or OLIVE_EINVALID when
 * `strict`. Errors: OLIVE_EINVALID for a wrong type, an unknown sampler or execution order,
 * max_samples / max_iter <= 0, a negative max_time. */
int ws_strategy_parse(ws_strategy *out, const json_t *v, int strict);

#endif
