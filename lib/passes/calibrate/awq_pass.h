/* The awq pass (Olive's AutoAWQQuantizer): MatMuls with a constant 2-D float weight become
 * com.microsoft MatMulNBits after AutoAWQ's activation-aware scale search and clipping search
 * (kernels/awq.h), from their inputs on calibration data.
 *
 * MatMuls reading the same value form one group (q/k/v, gate/up), scaled together. The scale
 * s of input channel k multiplies row k of the group's weights; the input is divided by s: in
 * the LayerNormalization / SimplifiedLayerNormalization / SkipLayerNormalization /
 * SkipSimplifiedLayerNormalization that writes it, when nothing but the group reads that value
 * and its weight (and bias) are constants read by no other node (folded as AutoAWQ folds them),
 * else in a Mul inserted before the group. The loss of the scale search is measured on the
 * group's own outputs (AutoAWQ measures q/k/v through the attention block). Clipping is not
 * searched for MatMuls named like queries and keys (q_, k_, query, key, qkv), as AutoAWQ.
 *
 * Memory: the group's x_mean is computed over every calibration token; the search uses the
 * first max_calib_tokens rows of the group's inputs (held as float32), with the groups whose
 * rows fit in calib_budget_mb captured per run of the calibration data. */
#ifndef OLIVE_PASSES_CALIBRATE_AWQ_PASS_H
#define OLIVE_PASSES_CALIBRATE_AWQ_PASS_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_awq;

#endif
