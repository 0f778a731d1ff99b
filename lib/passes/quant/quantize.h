/* The quantize pass: weight-only block-wise int4/int8 quantization of MatMul weights into
 * com.microsoft MatMulNBits (Olive's OnnxBlockWiseRtnQuantization, ONNX Runtime's
 * MatMulNBitsQuantizer). */
#ifndef OLIVE_PASSES_QUANTIZE_H
#define OLIVE_PASSES_QUANTIZE_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_quantize;
/* The same pass under Olive's HQQ and k-quant pass types, with their parameters. */
extern const olive_pass_def olive_pass_quantize_hqq;
extern const olive_pass_def olive_pass_quantize_kquant;

#endif
