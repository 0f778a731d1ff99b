/* The quantize_dynamic pass: ONNX Runtime's dynamic quantization (Olive's
 * OnnxDynamicQuantization) of MatMul / Gemm, Conv and com.microsoft Attention with a constant
 * float weight. QOperator form: int8 or uint8 weights, activations quantized at run time by
 * DynamicQuantizeLinear, MatMulInteger / ConvInteger / QAttention, the result scaled back to
 * float. QDQ form: the float operator reads its weight through DequantizeLinear. */
#ifndef OLIVE_PASSES_QUANT_DYNAMIC_QUANTIZE_DYNAMIC_H
#define OLIVE_PASSES_QUANT_DYNAMIC_QUANTIZE_DYNAMIC_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_quantize_dynamic;

#endif
