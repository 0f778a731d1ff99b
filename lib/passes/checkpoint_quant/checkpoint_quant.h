/* Olive's checkpoint-side quantization passes, SelectiveMixedPrecision and Rtn (and Quarot, the
 * rotation before them). Olive runs them
 * on the torch model before ModelBuilder; here they are a plan: a workflow folds them into the
 * convert pass that follows (its quant_plan parameter, workflow_quant_plan.c), and convert
 * quantizes each Linear as the plan says while it streams the weights (scoring the weights
 * first for snr / iqe). Run on their own they only explain that. */
#ifndef OLIVE_PASSES_CHECKPOINT_QUANT_H
#define OLIVE_PASSES_CHECKPOINT_QUANT_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_selective_mixed_precision;
extern const olive_pass_def olive_pass_checkpoint_rtn;
/* Olive's Quarot: folded into the convert pass after it (its rotate_mode and rotate_seed). */
extern const olive_pass_def olive_pass_quarot;

/* The algorithms of SelectiveMixedPrecision a search tries: Olive's layer-position rules. */
#define OLIVE_SMP_RULE_ALGORITHMS "k_quant_mixed|k_quant_down|k_quant_last"

#endif
