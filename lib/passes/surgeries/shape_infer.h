/* ONNX shape inference of the default-domain ops the InferShapes surgeon knows. */
#ifndef OLIVE_PASSES_SURGERIES_SHAPE_INFER_H
#define OLIVE_PASSES_SURGERIES_SHAPE_INFER_H

#include "ir/ir.h"

/* Adds a value_info entry for every node output of `g` (in node order) that has none and whose
 * type and shape follow from its inputs' as onnx.shape_inference infers them. Errors:
 * OLIVE_ENOMEM. */
int sg_infer_shapes(oir_graph *g);

#endif
