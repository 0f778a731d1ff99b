/* One fusion sweep: index, ranks, emitting fused nodes, and the clean-up at its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

static void put_rank(fuse_ctx *c, const char *v, int r)
{
    if (v && v[0] && r >= 0)
        (void)olive_strmap_put(&c->ranks, v, (void *)(intptr_t)(r + 1));
}

int fuse_rank(const fuse_ctx *c, const char *value)
{
    intptr_t r = value && value[0] ? (intptr_t)olive_strmap_get(&c->ranks, value) : 0;
    return r > 0 ? (int)(r - 1) : -1;
}

static int is_one_of(const oir_node *n, const char *const *ops)
{
    for (; *ops; ops++)
        if (!strcmp(n->op_type, *ops))
            return 1;
    return 0;
}

/* Ops whose output has the broadcast rank of all their inputs. */
static const char *const broadcasting[] = {"Add",         "Sub", "Mul", "Div",     "Pow",  "Where",
                                           "Equal",       "And", "Or",  "Greater", "Less", "GreaterOrEqual",
                                           "LessOrEqual", "Max", "Min", "Mod",     NULL};

/* Ops whose first output has the rank of their first input. */
static const char *const same_rank[] = {"Not",
                                        "Sqrt",
                                        "Erf",
                                        "Tanh",
                                        "Sigmoid",
                                        "Relu",
                                        "Cast",
                                        "Neg",
                                        "Exp",
                                        "Reciprocal",
                                        "Softmax",
                                        "Abs",
                                        "Log",
                                        "IsNaN",
                                        "LayerNormalization",
                                        "SimplifiedLayerNormalization",
                                        "Gelu",
                                        "FastGelu",
                                        "BiasGelu",
                                        "QuickGelu",
                                        "Dropout",
                                        "Identity",
                                        "SkipLayerNormalization",
                                        "SkipSimplifiedLayerNormalization",
                                        "Slice",
                                        "Clip",
                                        "RotaryEmbedding",
                                        "Transpose",
                                        "Concat",
                                        "CumSum",
                                        "Trilu",
                                        "Tile",
                                        "Conv",
                                        NULL};

/* Number of elements of a 1-D shape value (the shape input of Reshape or Expand): a constant,
 * Shape of a value of known rank, Unsqueeze of a scalar, or a Concat of those; -1 if unknown. */
static int shape_length(const fuse_ctx *c, const char *v, int depth)
{
    const oir_tensor *t = oir_match_const(&c->ix, v);
    const oir_node *p;
    int sum = 0;
    if (t)
        return t->rank == 1 ? (int)t->dims[0] : t->rank == 0 ? 1 : -1;
    p = oir_index_producer(&c->ix, v);
    if (!p || depth > 8)
        return -1;
    if (oir_match_is_op(p, "Shape") && !oir_node_attr(p, "start") && !oir_node_attr(p, "end"))
        return fuse_rank(c, p->inputs[0]);
    if (oir_match_is_op(p, "Unsqueeze") && fuse_rank(c, p->inputs[0]) == 0)
        return 1;
    if (oir_match_is_op(p, "Cast"))
        return shape_length(c, p->inputs[0], depth + 1);
    if (oir_match_is_op(p, "Reshape") && p->n_inputs == 2) {
        /* Reshape of a vector to [n] or [-1]. */
        const oir_tensor *s = oir_match_const(&c->ix, p->inputs[1]);
        double n;
        if (!s || s->rank != 1 || s->dims[0] != 1 || !oir_match_scalar(&c->ix, p->inputs[1], &n))
            return -1;
        return n == -1 ? shape_length(c, p->inputs[0], depth + 1) : n >= 0 ? (int)n : -1;
    }
    if (oir_match_is_op(p, "ConstantOfShape") && p->n_inputs == 1) {
        /* A vector filled to the length of another vector. */
        const oir_node *sh = oir_index_producer(&c->ix, p->inputs[0]);
        if (sh && oir_match_is_op(sh, "Shape") && !oir_node_attr(sh, "start") && !oir_node_attr(sh, "end") &&
            fuse_rank(c, sh->inputs[0]) == 1)
            return shape_length(c, sh->inputs[0], depth + 1);
        return -1;
    }
    if (oir_match_is_op(p, "Slice") && p->n_inputs >= 3 &&
        (p->n_inputs < 5 || !p->inputs[4][0] || oir_match_scalar_near(&c->ix, p->inputs[4], 1, 0))) {
        /* A constant window of a vector of known length. */
        int len = shape_length(c, p->inputs[0], depth + 1);
        double s0, e0;
        if (len < 0 || !oir_match_scalar(&c->ix, p->inputs[1], &s0) || !oir_match_scalar(&c->ix, p->inputs[2], &e0))
            return -1;
        if (s0 < 0)
            s0 += len;
        if (e0 < 0)
            e0 += len;
        s0 = s0 < 0 ? 0 : s0 > len ? len : s0;
        e0 = e0 < 0 ? 0 : e0 > len ? len : e0;
        return e0 > s0 ? (int)(e0 - s0) : 0;
    }
    if (oir_match_is_op(p, "Where") || oir_match_is_op(p, "Mul") || oir_match_is_op(p, "Add") ||
        oir_match_is_op(p, "Equal")) {
        /* Element-wise on shape vectors: the broadcast length. */
        int best = -1;
        for (size_t i = 0; i < p->n_inputs; i++) {
            int l = shape_length(c, p->inputs[i], depth + 1);
            if (l < 0)
                return -1;
            if (l > best)
                best = l;
        }
        return best;
    }
    if (!oir_match_is_op(p, "Concat"))
        return -1;
    for (size_t i = 0; i < p->n_inputs; i++) {
        int l = shape_length(c, p->inputs[i], depth + 1);
        if (l < 0)
            return -1;
        sum += l;
    }
    return sum;
}

/* Rank of a node's first output from its inputs' ranks; -1 when unknown. */
static int node_rank(fuse_ctx *c, const oir_node *n)
{
    int r0 = n->n_inputs ? fuse_rank(c, n->inputs[0]) : -1;
    int64_t axes[16];
    size_t na;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") && strcmp(n->domain, FUSE_MS_DOMAIN))
        return -1;
    if (is_one_of(n, same_rank))
        return r0;
    if (is_one_of(n, broadcasting)) {
        int r = -1;
        for (size_t i = 0; i < n->n_inputs; i++) {
            int ri = fuse_rank(c, n->inputs[i]);
            if (ri < 0)
                return -1;
            if (ri > r)
                r = ri;
        }
        return r;
    }
    if (!strcmp(n->op_type, "MatMul")) {
        int r1 = n->n_inputs > 1 ? fuse_rank(c, n->inputs[1]) : -1;
        if (r0 < 2 || r1 < 2)
            return -1;
        return r0 > r1 ? r0 : r1;
    }
    if (!strcmp(n->op_type, "Gather")) {
        int r1 = n->n_inputs > 1 ? fuse_rank(c, n->inputs[1]) : -1;
        return r0 >= 1 && r1 >= 0 ? r0 + r1 - 1 : -1;
    }
    if (!strcmp(n->op_type, "Reshape") || !strcmp(n->op_type, "Expand")) {
        int rs = n->n_inputs > 1 ? shape_length(c, n->inputs[1], 0) : -1;
        if (rs < 0)
            return -1;
        if (!strcmp(n->op_type, "Expand"))
            return r0 < 0 ? -1 : r0 > rs ? r0 : rs;
        return rs;
    }
    if (!strcmp(n->op_type, "Unsqueeze") || !strcmp(n->op_type, "Squeeze")) {
        if (r0 < 0 || !oir_match_axes(&c->ix, n, axes, 16, &na) || (!na && !strcmp(n->op_type, "Unsqueeze")))
            return -1;
        if (!na)
            return -1;
        return !strcmp(n->op_type, "Unsqueeze") ? r0 + (int)na : r0 - (int)na;
    }
    if (!strncmp(n->op_type, "Reduce", 6)) {
        if (r0 < 0)
            return -1;
        if (oir_node_attr_int(n, "keepdims", 1))
            return r0;
        return oir_match_axes(&c->ix, n, axes, 16, &na) && na ? r0 - (int)na : -1;
    }
    if (!strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "Flatten"))
        return 2;
    if (!strcmp(n->op_type, "GatherElements"))
        return n->n_inputs > 1 ? fuse_rank(c, n->inputs[1]) : -1;
    if (!strcmp(n->op_type, "Range"))
        return 1;
    if (!strcmp(n->op_type, "ConstantOfShape"))
        return n->n_inputs ? shape_length(c, n->inputs[0], 0) : -1;
    if (!strcmp(n->op_type, "Shape"))
        return 1;
    if (!strcmp(n->op_type, "Attention") || !strcmp(n->op_type, "MultiHeadAttention") ||
        !strcmp(n->op_type, "EmbedLayerNormalization") || !strcmp(n->op_type, "GroupQueryAttention"))
        return 3;
    return -1;
}

static int build_ranks(fuse_ctx *c)
{
    oir_graph *g = c->g;
    int64_t dims[1];
    olive_strmap_free(&c->ranks);
    memset(&c->ranks, 0, sizeof c->ranks);
    for (size_t i = 0; i < g->n_initializers; i++)
        put_rank(c, g->initializers[i]->name, (int)g->initializers[i]->rank);
    for (size_t i = 0; i < g->n_inputs; i++)
        put_rank(c, g->inputs[i].name, oir_match_value_rank(g, &c->ix, g->inputs[i].name, dims, 0));
    for (size_t i = 0; i < g->n_value_info; i++)
        put_rank(c, g->value_info[i].name, oir_match_value_rank(g, &c->ix, g->value_info[i].name, dims, 0));
    /* The graph is sorted: producers come first. */
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        const oir_tensor *t;
        if (n->n_outputs < 1 || fuse_rank(c, n->outputs[0]) >= 0)
            continue;
        if (oir_match_is_op(n, "Constant") && (t = oir_match_const(&c->ix, n->outputs[0])) != NULL)
            put_rank(c, n->outputs[0], (int)t->rank);
        else
            put_rank(c, n->outputs[0], node_rank(c, n));
    }
    return OLIVE_OK;
}

int fuse_sweep_begin(fuse_ctx *c)
{
    c->fused = 0;
    for (size_t i = 0; i < c->g->n_nodes; i++)
        c->g->nodes[i]->mark = 0;
    OLIVE_TRY(oir_graph_index_build(&c->ix, c->g));
    return build_ranks(c);
}

static void free_renames(fuse_ctx *c)
{
    for (size_t i = 0; i < c->n_renames; i++)
        free(c->renames[i]);
    free(c->renames);
    c->renames = NULL;
    c->n_renames = c->cap_renames = 0;
}

int fuse_replace_uses_later(fuse_ctx *c, const char *from, const char *to)
{
    char *f = olive_strdup(from), *t = olive_strdup(to);
    if (!f || !t || OLIVE_PUSH(c->renames, c->n_renames, c->cap_renames, f) != OLIVE_OK) {
        free(f);
        free(t);
        return OLIVE_ENOMEM;
    }
    if (OLIVE_PUSH(c->renames, c->n_renames, c->cap_renames, t) != OLIVE_OK) {
        free(t);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

int fuse_sweep_end(fuse_ctx *c)
{
    int rc = OLIVE_OK;
    oir_graph_index_free(&c->ix);
    memset(&c->ix, 0, sizeof c->ix);
    oir_graph_remove_marked_nodes(c->g);
    for (size_t i = 0; i + 1 < c->n_renames && rc == OLIVE_OK; i += 2)
        rc = oir_graph_replace_uses(c->g, c->renames[i], c->renames[i + 1]);
    free_renames(c);
    return rc == OLIVE_OK ? oir_graph_toposort(c->g) : rc;
}

int fuse_sweep(fuse_ctx *c, int (*fusion)(fuse_ctx *c))
{
    int rc;
    OLIVE_TRY(fuse_sweep_begin(c));
    rc = fusion(c);
    if (rc != OLIVE_OK) {
        free_renames(c);
        oir_graph_index_free(&c->ix);
        memset(&c->ix, 0, sizeof c->ix);
        return rc;
    }
    OLIVE_TRY(fuse_sweep_end(c));
    return c->fused ? fuse_prune(c) : OLIVE_OK;
}

int fuse_each_op(fuse_ctx *c, const char *op, int (*try_fuse)(fuse_ctx *c, oir_node *node))
{
    size_t n = c->g->n_nodes;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (!x->mark && oir_match_is_op(x, op))
            OLIVE_TRY(try_fuse(c, x));
    }
    return OLIVE_OK;
}

int fuse_emit(fuse_ctx *c, oir_node *const *remove, size_t n_remove, const char *op, const char *domain,
              const char *name_base, size_t n_in, const char *const *ins, size_t n_out, const char *const *outs,
              oir_node **out)
{
    char *name = oir_graph_unique_name(c->g, name_base);
    oir_node *n;
    if (!name)
        return OLIVE_ENOMEM;
    n = oir_node_new(op, domain, name, n_in, ins, n_out, outs);
    free(name);
    if (!n)
        return OLIVE_ENOMEM;
    if (domain[0] && oir_model_require_opset(c->m, domain, 1) != OLIVE_OK) {
        oir_node_free(n);
        return OLIVE_ENOMEM;
    }
    if (oir_graph_add_node(c->g, n) != OLIVE_OK) {
        oir_node_free(n);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < n_remove; i++)
        remove[i]->mark = 1;
    c->fused++;
    if (out)
        *out = n;
    return OLIVE_OK;
}

int fuse_add_initializer(fuse_ctx *c, const char *base, int32_t dtype, size_t rank, const int64_t *dims,
                         const void *data, uint64_t nbytes, const char **name)
{
    char *nm = oir_graph_unique_name(c->g, base);
    oir_tensor *t = nm ? oir_tensor_new(nm, dtype, rank, dims) : NULL;
    int rc;
    free(nm);
    if (!t)
        return OLIVE_ENOMEM;
    if ((rc = oir_tensor_set_copy(t, data, nbytes)) != OLIVE_OK ||
        (rc = oir_graph_add_initializer(c->g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    *name = t->name;
    return OLIVE_OK;
}

const char *fuse_other_input(const oir_node *n, const char *value)
{
    if (n->n_inputs != 2)
        return NULL;
    if (!strcmp(n->inputs[0], value))
        return n->inputs[1];
    if (!strcmp(n->inputs[1], value))
        return n->inputs[0];
    return NULL;
}

int fuse_has_input(const oir_node *n, const char *value)
{
    for (size_t i = 0; i < n->n_inputs; i++)
        if (!strcmp(n->inputs[i], value))
            return 1;
    return 0;
}

int fuse_is_1d_float_const(const fuse_ctx *c, const char *value)
{
    const oir_tensor *t = oir_match_const(&c->ix, value);
    return t && t->rank == 1 && (t->dtype == OIR_FLOAT || t->dtype == OIR_FLOAT16 || t->dtype == OIR_BFLOAT16);
}
