/* The mnb_to_qdq pass (Olive's MatMulNBitsToQDQ): com.microsoft MatMulNBits back to standard
 * ONNX DequantizeLinear (blocked, int4/uint4/int8/uint8) + MatMul (+ Add for a bias). */
#ifndef OLIVE_PASSES_MNB_TO_QDQ_H
#define OLIVE_PASSES_MNB_TO_QDQ_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_mnb_to_qdq;

#endif
