/* Graph helpers the surgeons share: finding nodes and value types, making nodes and
 * initializers with Olive's naming, and the clean-ups Olive runs after a rewrite. */
#ifndef OLIVE_PASSES_SURGERIES_SG_UTIL_H
#define OLIVE_PASSES_SURGERIES_SG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* The node named `name`, or the node whose first output is `name` when by_output; NULL. */
oir_node *sg_node_named(const oir_graph *g, const char *name, int by_output);
/* Index of the node in the graph's list, or -1. */
long sg_node_index(const oir_graph *g, const oir_node *n);
/* The node producing `value`, or NULL. */
oir_node *sg_producer(const oir_graph *g, const char *value);
/* Number of node inputs (this graph only) that read `value`. */
size_t sg_use_count(const oir_graph *g, const char *value);
/* The i-th node reading `value` (each node once), or NULL. */
oir_node *sg_consumer(const oir_graph *g, const char *value, size_t i);

/* The declared type of `value`: a graph input, output or value_info entry (in that order), or
 * NULL. For an initializer use oir_graph_initializer. */
const oir_type *sg_value_type(const oir_graph *g, const char *value);
/* Element type of `value`: initializer, input, output or value_info; 0 when unknown. */
int32_t sg_value_dtype(const oir_graph *g, const char *value);

/* Shape of `value` from an initializer or a declared type: rank and dims (-1 for a symbolic or
 * unknown dimension, up to `max`). Returns 1 when the rank is known, 0 otherwise. */
int sg_value_shape(const oir_graph *g, const char *value, int64_t *dims, size_t max, size_t *rank);

/* Olive's naming rule: `name` with `old_op` replaced by `new_op` when it contains it,
 * "<name>_<new_op>" otherwise. Owned by the caller; NULL on ENOMEM. */
char *sg_new_name(const char *name, const char *old_op, const char *new_op);

/* Appends a node and returns it (NULL with the error set on ENOMEM). */
oir_node *sg_add_node(oir_graph *g, const char *op, const char *domain, const char *name, size_t n_in,
                      const char *const *in, size_t n_out, const char *const *out);
/* Adds an initializer `name` of `dtype` and shape with a copy of `data`. When one of that name
 * exists it is replaced. */
int sg_add_initializer(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                       const void *data, size_t nbytes);
/* Adds an int64 1-D initializer. */
int sg_add_int64s(oir_graph *g, const char *name, const int64_t *v, size_t n);
/* Adds a scalar (rank 0) or 1-element 1-D float-typed initializer of `dtype` (float, float16,
 * bfloat16, double, integer types) holding `value`. OLIVE_EUNSUPPORTED for other types. */
int sg_add_scalar(oir_graph *g, const char *name, int32_t dtype, int rank1, double value);
/* Writes `value` as one element of `dtype` into out (up to 8 bytes); the byte count, 0 when the
 * type is not numeric. */
size_t sg_encode(int32_t dtype, double value, void *out);
/* Reads element i of a numeric tensor as a double. */
double sg_decode(const oir_tensor *t, uint64_t i);

/* Removes initializers nothing reads (node inputs, subgraph reads, graph outputs). */
int sg_remove_unused_initializers(oir_graph *g);
/* Removes nodes none of whose outputs is used (repeatedly), as onnx_ir's RemoveUnusedNodesPass. */
int sg_remove_dead_nodes(oir_graph *g);

/* The clean-up Olive's graph view does after a rewrite: nodes none of whose outputs is read or
 * a graph output go (one sweep), then initializers and graph inputs nothing reads. */
int sg_dag_update(oir_graph *g);
/* Replaces every node input `from` (this graph only) with `to`. */
int sg_replace_input(oir_graph *g, const char *from, const char *to);

/* Olive's closing step: in every graph, nodes read the first of several initializers with the
 * same dtype, dims and bytes, and the others go (graph inputs and outputs are left alone). */
int sg_dedup_initializers(oir_model *m);

#endif
