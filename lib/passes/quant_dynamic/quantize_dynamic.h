/* The quantize_dynamic pass: ONNX Runtime's dynamic quantization (Olive's
 * OnnxDynamicQuantization) of MatMuls with a constant float weight, in its default QOperator
 * form: int8 or uint8 weights, activations quantized at run time by DynamicQuantizeLinear,
 * MatMulInteger, and the result scaled back to float. */
#ifndef OLIVE_PASSES_QUANT_DYNAMIC_QUANTIZE_DYNAMIC_H
#define OLIVE_PASSES_QUANT_DYNAMIC_QUANTIZE_DYNAMIC_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_quantize_dynamic;

#endif
