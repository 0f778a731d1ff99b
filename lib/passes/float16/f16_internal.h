/* Shared state of the float16 pass: one scope per graph, linked to the graph around it. */
#ifndef OLIVE_PASSES_F16_INTERNAL_H
#define OLIVE_PASSES_F16_INTERNAL_H

#include "core/strmap.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* An input that onnxruntime would keep float32 (Resize scales, GroupNorm gamma / beta) but
 * force_fp16_inputs converts. */
typedef struct f16_forced {
    char op[128];
    size_t index;
} f16_forced;

/* Settings shared by every graph of one run. */
typedef struct f16_run {
    const olive_pass_args *args;
    olive_pass_ctx *ctx;      /* progress and cancellation */
    int32_t target;           /* OIR_FLOAT16 or OIR_BFLOAT16 */
    int keep_io_all;          /* keep_io_types=true: every float32 graph input and output */
    const char *keep_io_list; /* keep_io_types as names (olive_args_list_has), or NULL */
    int force_initializers;   /* force_fp16_initializers */
    int32_t blocked_type;     /* what blocked nodes compute in: OIR_FLOAT, or OIR_BFLOAT16 */
    f16_forced *forced;
    size_t n_forced;
    int64_t opset; /* default domain; Cast's `to` is a string before opset 6 */
    int clamp;     /* clamp to the float16 finite range (not for bfloat16) */
    float min_positive, max_finite;
    size_t converted_tensors, casts_added, casts_removed, blocked_nodes;
} f16_run;

typedef struct f16_scope {
    const struct f16_scope *outer;
    f16_run *run;
    oir_graph *g;
    int blocked; /* every node of this graph stays float32 */
    int is_main;
    olive_strmap orig;                /* value -> element type before the pass */
    olive_strmap now;                 /* value -> element type after the pass */
    olive_strmap origin;              /* Cast output this pass made -> its source */
    olive_strmap to_float, to_target; /* source -> Cast output this pass made */
    olive_strmap to_blocked;          /* ... to bfloat16, with use_bfloat16_as_blocked_nodes_dtype */
    size_t n_owned, cap_owned;
    char **owned; /* strings the maps point to */
} f16_scope;

/* A sequence of tensors of element type T is recorded as F16_SEQ | T: never float, never
 * cast, but SequenceAt and ConcatFromSequence recover T from it. */
#define F16_SEQ 0x10000

/* Element type of `value` before (orig) / after (now) the pass, looking through outer
 * scopes; OIR_UNDEFINED when unknown. */
int32_t f16_orig_type(const f16_scope *s, const char *value);
int32_t f16_now_type(const f16_scope *s, const char *value);
int f16_set_orig(f16_scope *s, const char *value, int32_t type);
int f16_set_now(f16_scope *s, const char *value, int32_t type);
/* A copy of `str` kept until the scope is freed (NULL on ENOMEM). */
const char *f16_own(f16_scope *s, const char *str);
void f16_scope_free(f16_scope *s);

/* The type a Cast node casts to, whichever form its `to` has; OIR_UNDEFINED if unknown. */
int32_t f16_cast_to(const oir_node *n);
/* Sets a Cast node's `to` in the form the model's opset expects. */
int f16_set_cast_to(const f16_run *r, oir_node *n, int32_t to);

/* Fills s->orig for every value of the graph from declared types and simple per-op rules. */
int f16_infer_types(f16_scope *s);

/* Converts a FLOAT tensor in place to s->run->target (clamped as configured). */
int f16_convert_tensor(f16_run *r, oir_tensor *t);

/* keep_io_types: "true"/"false" or names of graph inputs and outputs. */
int f16_parse_keep_io(f16_run *r, const char *text);
/* Whether main graph input or output `name` stays float32. */
int f16_keep_io(const f16_run *r, const char *name);
/* force_fp16_inputs: "Op:i,j;Op2:k" or {"Op": [i, j]}. */
int f16_parse_force_inputs(f16_run *r, const char *text);
int f16_forced_input(const f16_run *r, const char *op, size_t index);

/* Converts one graph (and its subgraphs). */
int f16_convert_graph(f16_scope *s);

#endif
