/* The float16 pass: float32 initializers and compute become float16 or bfloat16 (Olive's
 * OnnxFloatToFloat16), with blocked ops and nodes kept in float32 behind Casts.
 * The io_datatype pass: graph inputs and outputs of one type exposed as another (Olive's
 * OnnxIODataTypeConverter), the usual companion of a float16 conversion. */
#ifndef OLIVE_PASSES_FLOAT16_H
#define OLIVE_PASSES_FLOAT16_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_float16;
extern const olive_pass_def olive_pass_io_datatype;

#endif
