/* Constant evaluation of single ONNX nodes, shared by constant folding and any pass that needs
 * the value of a node whose inputs are known.
 *
 * Ops evaluated (default ONNX domain only): Shape, Gather, Unsqueeze, Squeeze, Concat,
 * Reshape, Cast, Add, Sub, Mul, Div, Transpose, Range.
 *  - Add/Sub/Mul/Div: float, double, float16, bfloat16 and the 8..64-bit integer types, with
 *    numpy-style multidirectional broadcasting. Integers wrap like two's complement; integer
 *    Div truncates toward zero (as onnxruntime does); an integer division by zero or MIN / -1
 *    is not evaluated.
 *  - Cast: between bool, float16, bfloat16, float, double and the integer types. A float that
 *    is NaN or out of the target integer range is not evaluated (C and onnxruntime leave it
 *    undefined).
 *  - Range accumulates `start += delta` in the element type, as onnxruntime's kernel does.
 *  - Shape, Gather, Concat, Transpose, Reshape, Squeeze, Unsqueeze work on any fixed-size
 *    element type; Shape needs only the input's dims, so a tensor without data may be passed.
 * Reshape, Squeeze and Unsqueeze results share their input's bytes (no copy); every result,
 * shared or not, is refused when larger than the caller's byte limit. */
#ifndef OLIVE_PASSES_PEEPHOLE_FOLD_H
#define OLIVE_PASSES_PEEPHOLE_FOLD_H

#include <stdint.h>

#include "core/half.h"
#include "ir/ir.h"

/* 1 if olive_fold_eval knows node `n`'s op (it may still decline the node's inputs). */
int olive_fold_supports(const oir_node *n);

/* Evaluates `n` on `inputs` (n->n_inputs entries; NULL for an omitted optional input). On
 * success *out is a new tensor named after n->outputs[0] holding the result.
 * Errors (message names the node): OLIVE_EUNSUPPORTED when the node cannot be evaluated here
 * (op or type not handled, result over `max_bytes`, integer division by zero, ...),
 * OLIVE_EFORMAT when inputs or attributes are inconsistent (what onnxruntime would reject),
 * OLIVE_ENOMEM. */
int olive_fold_eval(const oir_node *n, const oir_tensor *const *inputs, uint64_t max_bytes, oir_tensor **out);

#endif
