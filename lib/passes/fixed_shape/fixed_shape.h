/* The dynamic_to_fixed_shape pass (Olive's DynamicToFixedShape): symbolic dimensions, or whole
 * input shapes, replaced by fixed sizes, as onnxruntime's make_dim_param_fixed /
 * make_input_shape_fixed do. */
#ifndef OLIVE_PASSES_FIXED_SHAPE_H
#define OLIVE_PASSES_FIXED_SHAPE_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_dynamic_to_fixed_shape;

#endif
