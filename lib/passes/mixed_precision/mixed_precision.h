/* The mixed_precision pass (Olive's OrtMixedPrecision): float16 with normalization, Relu and Add
 * kept in float32, and the LM head kept in float32 when its weights lose precision in float16. */
#ifndef OLIVE_PASSES_MIXED_PRECISION_H
#define OLIVE_PASSES_MIXED_PRECISION_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_mixed_precision;

#endif
