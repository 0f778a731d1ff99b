/* Shared state of the fusion pass and the functions of its single fusions (one file each).
 *
 * A fusion runs as one sweep over the graph: it decides every rewrite on the unchanged graph
 * (the index is built once), marks the nodes a rewrite replaces so that no other rewrite of the
 * sweep claims them, and appends the fused node. The sweep ends by removing marked nodes and
 * sorting the graph again. */
#ifndef OLIVE_PASSES_FUSION_INTERNAL_H
#define OLIVE_PASSES_FUSION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/strmap.h"
#include "ir/ir.h"
#include "ir/match.h"
#include "passes/registry.h"

#define FUSE_MS_DOMAIN "com.microsoft"

enum { FUSE_MODEL_BERT, FUSE_MODEL_GPT2, FUSE_MODEL_VIT, FUSE_MODEL_CLIP };

/* The switches of onnxruntime's FusionOptions that this pass implements. */
typedef struct fuse_options {
    int model_type;
    int64_t num_heads, hidden_size; /* 0: detect */
    int enable_gelu, enable_layer_norm, enable_attention, enable_skip_layer_norm;
    int enable_embed_layer_norm, enable_bias_skip_layer_norm, enable_bias_gelu;
    int enable_gelu_approximation, enable_rotary_embeddings;
    int use_multi_head_attention, use_gqa;
    int use_raw_attention_mask; /* attention takes the 0/1 mask instead of mask_index */
} fuse_options;

typedef struct fuse_ctx {
    oir_model *m;
    oir_graph *g;
    oir_graph_index ix;
    fuse_options opt;
    olive_strmap ranks;            /* value -> (void *)(intptr_t)(rank + 1), known ranks only */
    size_t fused;                  /* rewrites done by the current sweep */
    olive_strmap masks;            /* attention: 2-D mask -> the fused ops' mask input */
    size_t n_renames, cap_renames; /* uses to redirect once the sweep ends: from, to (owned) */
    char **renames;
} fuse_ctx;

/* Builds the index and the rank table and clears marks. */
int fuse_sweep_begin(fuse_ctx *c);
/* Removes the marked nodes, frees the index, sorts the graph. */
int fuse_sweep_end(fuse_ctx *c);
/* Runs one fusion as a full sweep; when it fused something, removes the nodes left unused
 * so that the next fusion sees only live readers (as onnxruntime prunes between fusions). */
int fuse_sweep(fuse_ctx *c, int (*fusion)(fuse_ctx *c));
/* Removes nodes whose outputs nothing reads and unused initializers (the peephole pass's
 * dead-code step). */
int fuse_prune(fuse_ctx *c);

/* Calls try_fuse(c, node) on each unmarked node of op type `op` (default domain) among those
 * the graph held on entry (nodes the sweep appends are no candidates); stops at an error. */
int fuse_each_op(fuse_ctx *c, const char *op, int (*try_fuse)(fuse_ctx *c, oir_node *node));

/* Marks `remove[0..n_remove)` as replaced and appends a node `op` of `domain` ("" or
 * FUSE_MS_DOMAIN) named after `name_base`. The new node goes to *out when out is not NULL. */
int fuse_emit(fuse_ctx *c, oir_node *const *remove, size_t n_remove, const char *op, const char *domain,
              const char *name_base, size_t n_in, const char *const *ins, size_t n_out, const char *const *outs,
              oir_node **out);

/* Redirects every use of `from` to `to` when the sweep ends (the index stays valid meanwhile). */
int fuse_replace_uses_later(fuse_ctx *c, const char *from, const char *to);

/* Adds an initializer under a fresh name derived from `base`; the name goes to *name (owned
 * by the graph's tensor). */
int fuse_add_initializer(fuse_ctx *c, const char *base, int32_t dtype, size_t rank, const int64_t *dims,
                         const void *data, uint64_t nbytes, const char **name);

/* Rank of a value (from declarations, constants, or propagated through common ops); -1 when
 * unknown. */
int fuse_rank(const fuse_ctx *c, const char *value);

/* The other input of a two-input node (the one that is not `value`), or NULL. */
const char *fuse_other_input(const oir_node *n, const char *value);
/* 1 if `value` is one of the node's inputs. */
int fuse_has_input(const oir_node *n, const char *value);
/* 1 when the constant `value` is a float tensor of rank 1. */
int fuse_is_1d_float_const(const fuse_ctx *c, const char *value);

/* What Gelu (f = Erf) and FastGelu (f = Tanh) share after f, the node computing erf or tanh
 * of a function of x: 0.5 * x * (1 + f), as (0.5 * x) * (1 + f), (x * (1 + f)) * 0.5 or
 * x * ((1 + f) * 0.5); the halves are checked within 1e-6, the one exactly. Appends its nodes
 * (at most 4) to nodes[*nn..] and returns the node writing the result; NULL when f is not
 * followed by one of these. */
oir_node *fuse_gelu_tail(const fuse_ctx *c, const oir_node *f, const char *x, oir_node **nodes, size_t *nn);

/* optimization_options text (a JSON object or a k=v list) onto `o`; OLIVE_EINVALID naming the
 * bad entry. */
int fuse_parse_options(fuse_options *o, const char *text);

/* The fusions, in the order the pass runs them. */
int fuse_layer_norm(fuse_ctx *c);
int fuse_simplified_layer_norm(fuse_ctx *c);
int fuse_gelu(fuse_ctx *c);
int fuse_fast_gelu(fuse_ctx *c);
int fuse_quick_gelu(fuse_ctx *c);
int fuse_skip_layer_norm(fuse_ctx *c);
int fuse_attention(fuse_ctx *c);
int fuse_embed_layer_norm(fuse_ctx *c);
int fuse_bias_gelu(fuse_ctx *c);
int fuse_bias_skip_layer_norm(fuse_ctx *c);
int fuse_gelu_approximation(fuse_ctx *c);
int fuse_rotary_embeddings(fuse_ctx *c);
int fuse_decoder_attention(fuse_ctx *c);
int fuse_group_query_attention(fuse_ctx *c);

#endif
