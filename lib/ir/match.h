/* Subgraph pattern matching helpers for rewriting passes: walk a node's producer chain by op
 * types and input indices, read small constants (initializers or Constant nodes), and check
 * that a set of nodes can be replaced without breaking another reader of their values.
 *
 * Everything here reads a graph through an oir_graph_index built on the unchanged graph. Nodes
 * whose `mark` is non-zero are taken as already claimed by another rewrite and never match. */
#ifndef OLIVE_IR_MATCH_H
#define OLIVE_IR_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* 1 if the node is `op` in the default ONNX domain ("" or "ai.onnx"). */
int oir_match_is_op(const oir_node *n, const char *op);

/* The producer of input `input` of `n` when it is an unmarked `op` node (any op when `op` is
 * NULL); NULL otherwise. */
oir_node *oir_match_parent(const oir_graph_index *ix, const oir_node *n, size_t input, const char *op);

/* Like oir_match_parent, trying every input of `n` in order when `input` is negative, skipping
 * `exclude` (may be NULL). The input index used is stored in *which (may be NULL). */
oir_node *oir_match_parent_any(const oir_graph_index *ix, const oir_node *n, int input, const char *op,
                               const oir_node *exclude, int *which);

/* Follows a producer chain from `n`: step k takes input `inputs[k]` (negative: any input) of
 * the node reached so far and requires an `ops[k]` producer. Stores the nodes in out[0..len)
 * and the input indices taken in which[0..len) (may be NULL). Returns 1 when the whole path
 * matches; the first alternative found is used for "any" steps. */
int oir_match_parent_path(const oir_graph_index *ix, const oir_node *n, size_t len, const char *const *ops,
                          const int *inputs, oir_node **out, int *which);

/* The only consumer of `value` when it has exactly one use, is not a graph output, and that
 * consumer is an unmarked `op` node (any op when NULL); NULL otherwise. */
oir_node *oir_match_only_child(const oir_graph_index *ix, const char *value, const char *op);

/* The constant tensor named `value`: an initializer, or the `value` attribute of the Constant
 * node that produces it. NULL when it is not a constant. */
const oir_tensor *oir_match_const(const oir_graph_index *ix, const char *value);

/* Reads a one-element float/float16/bfloat16/double/integer constant into *out. Returns 1 on
 * success, 0 when `value` is not such a constant. */
int oir_match_scalar(const oir_graph_index *ix, const char *value, double *out);

/* 1 if `value` is a one-element constant within `tol` of `expected`. */
int oir_match_scalar_near(const oir_graph_index *ix, const char *value, double expected, double tol);

/* Index of the first input of `n` that is a one-element constant within `tol` of `expected`,
 * or -1. */
int oir_match_const_input(const oir_graph_index *ix, const oir_node *n, double expected, double tol);

/* The axes of a reduction or Squeeze/Unsqueeze-like node: the `axes` attribute, or its second
 * input when that is a constant (opset 13+/18+ forms). Up to `max` axes go to axes[]; the count
 * to *count. Returns 1 when the axes are known (0 axes means "not given"), 0 otherwise. */
int oir_match_axes(const oir_graph_index *ix, const oir_node *n, int64_t *axes, size_t max, size_t *count);

/* 1 when the `n` nodes can be replaced by one node producing `keep[0..n_keep)`: every other
 * output of the nodes is read only by nodes of the set and is not a graph output, and no node
 * is marked. */
int oir_match_only_used_inside(const oir_graph_index *ix, oir_node *const *nodes, size_t n, const char *const *keep,
                               size_t n_keep);

/* Rank of `value` when the graph tells it: a constant, a graph input or output, or a
 * value_info entry; -1 when unknown. Dims go to dims[0..max) when known (-1 for a symbolic or
 * unknown dim). */
int oir_match_value_rank(const oir_graph *g, const oir_graph_index *ix, const char *value, int64_t *dims, size_t max);

#endif
