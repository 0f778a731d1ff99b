/* The opset_conversion pass (Olive's OnnxOpVersionConversion): the default-domain opset raised
 * to target_opset, with the ONNX version converter's rules for the ops whose meaning changed. */
#ifndef OLIVE_PASSES_OPSET_CONVERSION_H
#define OLIVE_PASSES_OPSET_CONVERSION_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_opset_conversion;

#endif
