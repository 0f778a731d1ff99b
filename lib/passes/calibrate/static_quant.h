/* The static_quantize pass (Olive's OnnxStaticQuantization / OnnxQuantization): onnxruntime's
 * quantize_static in the QDQ or QOperator format (qoperator_ops.h). Activation ranges are learnt by
 * running the model in ONNX Runtime on calibration data (capture.h), one batch at a time; the
 * scales, zero points, codes, node names and Q/DQ placement are those quantize_static writes
 * for the same data (qparams.h holds the arithmetic). */
#ifndef OLIVE_PASSES_CALIBRATE_STATIC_QUANT_H
#define OLIVE_PASSES_CALIBRATE_STATIC_QUANT_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_static_quantize;

#endif
