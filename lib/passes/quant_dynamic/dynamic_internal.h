/* State and helpers the quantize_dynamic pass shares between its files: quantize_dynamic.c
 * (MatMul, Gemm, the pass), dynamic_conv.c (Conv), dynamic_attention.c (Attention). */
#ifndef OLIVE_PASSES_QUANT_DYNAMIC_DYNAMIC_INTERNAL_H
#define OLIVE_PASSES_QUANT_DYNAMIC_DYNAMIC_INTERNAL_H

#include "ir/ir.h"
#include "passes/registry.h"

/* A value already quantized: its float source and the three names that replace it. */
typedef struct dq_value {
    char *source;
    int transposed; /* a weight quantized as its transpose (Gemm with transB) */
    char *names[3]; /* quantized, scale, zero point */
    int axis;       /* per-channel axis of its scale, -1 when per tensor */
} dq_value;

typedef struct dq_list {
    dq_value *items;
    size_t n, cap;
} dq_list;

typedef struct dq_run {
    const olive_pass_args *args;
    olive_pass_ctx *ctx;
    int32_t wtype;
    int per_channel, reduce_range, include_all;
    int qdq; /* quant_format=QDQ: DequantizeLinear on weights, float operators */
    int64_t opset;
    dq_list weights, acts;
    size_t total, done, quantized;
} dq_run;

const dq_value *dq_list_find(const dq_list *l, const char *source, int transposed);
/* Appends an empty entry for `source`; its names are filled in by the caller. */
dq_value *dq_list_add(dq_list *l, const char *source, int transposed);

/* How messages name a node: its name, else its first output. */
const char *dq_label(const oir_node *n);
/* Selection as ONNX Runtime does it, by op type and by node name. */
int dq_selected(const dq_run *r, const char *op_type, const char *name);

/* OLIVE_OK when the model imports opset 11 or later (DynamicQuantizeLinear); else
 * OLIVE_EUNSUPPORTED naming node `n`, which is to be quantized. */
int dq_require_opset11(const dq_run *r, const oir_node *n);

/* The weight `name` of node `n` if it is a constant float initializer with data (else NULL
 * after an info line naming `what`). */
oir_tensor *dq_constant_weight(oir_graph *g, const oir_node *n, const char *name, const char *what);

/* Quantizes weight `t` once (cached in r->weights): per tensor, or per channel along its last
 * axis when `per_channel` (2-D only); `transposed` quantizes a 2-D weight's transpose.
 * `owner` names the node in errors. */
int dq_weight(dq_run *r, oir_graph *g, const oir_tensor *t, int transposed, int per_channel, int reduce_range,
              const oir_node *owner, const dq_value **out);

/* The DynamicQuantizeLinear of activation `a`, inserted before node *at when it is new. */
int dq_activation(dq_run *r, oir_graph *g, size_t *at, const char *a, const dq_value **out);

/* A unique name from printf-style parts; NULL on ENOMEM (error set). */
char *dq_unique(oir_graph *g, const char *fmt, ...);

/* Inserts `nodes[0..count)` at *at (replacing node *at with nodes[0] last, so strings of the
 * old node stay valid while building); *at ends on the last new node. Frees the nodes on
 * failure. */
int dq_splice(oir_graph *g, size_t *at, oir_node **nodes, size_t count);

/* Conv -> ConvInteger (+ Cast, Mul, bias Reshape/Add); Attention -> com.microsoft QAttention.
 * Return 1 when rewritten, 0 when the node stays (info line), negative on error. */
int dq_rewrite_conv(dq_run *r, oir_graph *g, size_t *at);
int dq_rewrite_attention(dq_run *r, oir_graph *g, size_t *at);
/* quant_format=QDQ: the node's weight input `index` read through DequantizeLinear. */
int dq_rewrite_qdq(dq_run *r, oir_graph *g, size_t *at, size_t index, int per_channel, int reduce_range);

#endif
