/* The gptq pass (Olive's Gptq / GptqQuantizer): MatMuls with a constant 2-D float weight become
 * com.microsoft MatMulNBits quantized by GPTQ (kernels/gptq.h) from the Hessians of their
 * inputs on calibration data, in the layout the quantize pass writes (blockwise.h: B
 * [N, k_blocks, blob], scales [N, k_blocks], packed zero points when asymmetric).
 *
 * Inputs are captured from the float model through ONNX Runtime (capture.h), batch by batch:
 * each batch adds to the Hessians and is freed. MatMuls that read the same value share one
 * Hessian (q/k/v, gate/up). The Hessians are held for a group of inputs at a time whose
 * k x k floats fit in `hessian_budget_mb` (the calibration set runs once per group), so peak
 * memory is that budget (or one Hessian, when larger) + one batch's captured inputs + one
 * layer's weight twice, not the number of layers. */
#ifndef OLIVE_PASSES_CALIBRATE_GPTQ_PASS_H
#define OLIVE_PASSES_CALIBRATE_GPTQ_PASS_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_gptq;

/* The model metadata key under which a conversion leaves GPTQ's per-node bits and group sizes
 * (customized_weight_config's JSON); gptq reads and removes it. */
#define OLIVE_GPTQ_PLAN_KEY "olive.gptq_plan"

#endif
