/* State the quantize pass shares between its files (quantize.c: MatMul; quantize_gather.c:
 * Gather tables and tied embeddings). */
#ifndef OLIVE_PASSES_QUANT_QUANTIZE_INTERNAL_H
#define OLIVE_PASSES_QUANT_QUANTIZE_INTERNAL_H

#include "ir/ir.h"
#include "kernels/blockwise.h"
#include "core/node_overrides.h"
#include "passes/registry.h"

enum { QW_MATMUL = 0, QW_GATHER = 1, QW_TRANSPOSED = 2, QW_QDQ = 3, QW_QDQ_TRANSPOSED = 4 };

typedef struct quantized_weight {
    char *source;           /* the float initializer's name */
    int kind;               /* QW_*: how the source was read */
    char *names[3];         /* codes, scales, zero points (NULL when symmetric) */
    char *dq_output;        /* QDQ: the DequantizeLinear's output */
    const oir_graph *owner; /* the graph holding the source and the quantized tensors */
} quantized_weight;

enum { QUANT_MAX_SCOPES = 64 };

typedef struct quant_run {
    olive_blockq q;
    int64_t accuracy_level;
    const olive_pass_args *args;
    int include_all;
    int any_op_type; /* the pass has no op_types_to_quantize: MatMul */
    int initializers_need_inputs;
    olive_pass_ctx *ctx;
    size_t total, done, quantized, quantized_gathers, quantized_qdq;
    int qdq;   /* quant_format=QDQ: DequantizeLinear + MatMul */
    int olive; /* layout=olive: what Olive's OnnxBlockWiseRtnQuantization writes */
    /* Gather tables */
    int gather_on;                   /* Gather nodes are quantized */
    int64_t gather_axis;             /* quantize_axis (may be negative: from the end) */
    int tied;                        /* the weight being quantized is a temporary transposed table */
    int any_tied;                    /* this graph had one: drop the Transposes left without readers */
    olive_node_overrides *overrides; /* customized_weight_config, or NULL */
    /* layout=olive: the graphs enclosing the one being walked, outermost first */
    oir_graph *scopes[QUANT_MAX_SCOPES];
    size_t n_scopes;
    oir_graph *owner; /* where the weight being quantized lives (olive_qrun_initializer) */
    /* per graph (layout=olive: per model) */
    quantized_weight *weights;
    size_t n_weights;
} quant_run;

/* How messages name a node: its name, else its first output. */
const char *olive_qnode_label(const oir_node *n);
/* Adds an initializer holding `b` (and a graph input for IR < 4). */
int olive_qrun_add_tensor(const quant_run *r, oir_graph *g, const char *name, int32_t dtype, size_t rank,
                          const int64_t *dims, olive_blob *b);
/* The quantized tensors of `source` in r->owner, or NULL. */
quantized_weight *olive_qrun_cached(quant_run *r, const char *source, int kind);
/* The initializer `name` that a node of g reads, r->owner set to the graph holding it: g's
 * own; with layout=olive (QOperator) also an outer scope's, as Olive quantizes those. */
oir_tensor *olive_qrun_initializer(quant_run *r, oir_graph *g, const char *name);
/* Takes *w (cleared on failure) into the graph's list; *out points at the stored copy. */
int olive_qrun_remember(quant_run *r, quantized_weight *w, quantized_weight **out);
void olive_qweight_clear(quantized_weight *w);

/* Replaces node i of g, a Gather on a constant float table, by GatherBlockQuantized (as ONNX
 * Runtime's default quantizer writes it, or Olive with r->olive); *replaced = 0 with an info
 * line when it stays. */
int olive_quantize_gather_node(quant_run *r, oir_graph *g, size_t i, int *replaced);
/* For a MatMul B `value` produced by Transpose (perm [1, 0]) of a constant 2-D float table:
 * a new tensor holding the transposed table, named as the table, and r->tied set; else NULL. */
oir_tensor *olive_tied_weight(quant_run *r, oir_graph *g, const char *value);
/* quant_format=QDQ: replaces MatMul *at (B = t) by DequantizeLinear (inserted before it,
 * once per weight) and a MatMul on its output, as ONNX Runtime's default quantizer writes
 * them; *at ends on the MatMul. */
int olive_quantize_qdq_node(quant_run *r, const olive_blockq *p, oir_graph *g, size_t *at, const oir_tensor *t);

/* layout=olive: renames the only output of the node that replaced a quantized one to
 * "<output>_Q<bits>" everywhere in g (its readers, graph outputs, value_info), as Olive does. */
int olive_qrun_olive_output(const quant_run *r, oir_graph *g, const oir_node *q, int bits);
/* layout=olive, after every graph: com.microsoft imported at version 1 (set, as Olive does),
 * and every main-graph initializer that no node of any graph and no graph output reads
 * removed. */
int olive_quantize_olive_finish(oir_model *m);

/* Removes Transposes of constant tables that nothing reads any more. */
int olive_drop_unused_transposes(quant_run *r, oir_graph *g);

#endif
