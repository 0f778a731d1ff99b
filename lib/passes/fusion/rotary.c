/* RotaryEmbedding from the rotate_half form of rotary position embeddings (LLaMA-style
 * exports with cos/sin caches, as onnxruntime's optimizer fuses them):
 *
 *   x * Unsqueeze(Gather(cos', position_ids), 1)
 *     + Concat(Neg(x[..., h:]), x[..., :h]) * Unsqueeze(Gather(sin', position_ids), 1)
 *
 * x is (B, N, S, H); h is H / 2, a constant or x.shape[-1] // 2 computed from x's shape; cos'
 * and sin' are constant (max_positions, H) caches, or such caches sliced to the sequence length
 * and squeezed from (1, 1, max_positions, H). The fused op takes the first half of each cache,
 * so the two halves must be equal (the frequencies twice, as the exporters build them).
 * On-the-fly cos/sin (computed from the positions in the graph) are left alone: the op needs a
 * cache, and onnxruntime's optimizer does not fuse the forms current exporters write. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* The cos / sin caches already halved in this sweep: cache value -> half initializer name. */
typedef struct {
    olive_strmap halves;
} rotary_state;

/* The split point of rotate_half: a one-element constant (*half >= 0), or x.shape[-1] // 2 from
 * x's own shape, Unsqueeze(Div(Gather(Shape(x), -1 | 3), 2)) with int64 Casts between (*half = -1,
 * right by construction). */
static int split_point(const fuse_ctx *c, const char *v, const char *x, double *half)
{
    const oir_node *p = oir_index_producer(&c->ix, v);
    double d;
    int64_t axes[2];
    size_t na;
    if (oir_match_scalar(&c->ix, v, half))
        return *half >= 0;
    if (!p || !oir_match_is_op(p, "Unsqueeze") || !oir_match_axes(&c->ix, p, axes, 2, &na) || na != 1 || axes[0] != 0)
        return 0;
    p = oir_index_producer(&c->ix, p->inputs[0]);
    while (p && oir_match_is_op(p, "Cast") && oir_node_attr_int(p, "to", 0) == OIR_INT64)
        p = oir_index_producer(&c->ix, p->inputs[0]);
    if (!p || !oir_match_is_op(p, "Div") || p->n_inputs != 2 || !oir_match_scalar(&c->ix, p->inputs[1], &d) || d != 2)
        return 0;
    p = oir_index_producer(&c->ix, p->inputs[0]);
    if (!p || !oir_match_is_op(p, "Gather") || p->n_inputs != 2 || oir_node_attr_int(p, "axis", 0) != 0 ||
        !oir_match_scalar(&c->ix, p->inputs[1], &d) || (d != -1 && d != 3))
        return 0;
    p = oir_index_producer(&c->ix, p->inputs[0]);
    if (!p || !oir_match_is_op(p, "Shape") || oir_node_attr(p, "start") || oir_node_attr(p, "end") ||
        strcmp(p->inputs[0], x))
        return 0;
    *half = -1;
    return 1;
}

/* A step-1 Slice of the last axis of a rank-4 value; its start and end values go out. */
static int last_axis_slice(const fuse_ctx *c, const oir_node *s, const char **start, const char **end)
{
    double a, step;
    if (!s || !oir_match_is_op(s, "Slice") || s->n_inputs < 4 || !s->inputs[3][0] || s->n_outputs != 1 ||
        !oir_match_scalar(&c->ix, s->inputs[3], &a) || (a != -1 && a != 3))
        return 0;
    if (s->n_inputs > 4 && s->inputs[4][0] && (!oir_match_scalar(&c->ix, s->inputs[4], &step) || step != 1))
        return 0;
    *start = s->inputs[1];
    *end = s->inputs[2];
    return 1;
}

/* The (max_positions, H) cache behind Unsqueeze(Gather(cache', position_ids), axis 1): the
 * constant, optionally sliced from position 0 along its position axis, then squeezed of its
 * leading ones. The Gather's indices go to *pos, the cache's value name to *name. */
static const oir_tensor *gathered_cache(const fuse_ctx *c, const char *v, const char **pos, const char **name)
{
    const oir_node *u = oir_index_producer(&c->ix, v), *g, *p, *squeezes[4];
    const oir_tensor *t;
    const char *data;
    size_t n_squeeze = 0, na, rank;
    int64_t axes[4];
    double d;
    if (!u || !oir_match_is_op(u, "Unsqueeze") || !oir_match_axes(&c->ix, u, axes, 4, &na) || na != 1 || axes[0] != 1)
        return NULL;
    g = oir_index_producer(&c->ix, u->inputs[0]);
    if (!g || !oir_match_is_op(g, "Gather") || g->n_inputs != 2 || oir_node_attr_int(g, "axis", 0) != 0)
        return NULL;
    *pos = g->inputs[1];
    data = g->inputs[0];
    while ((p = oir_index_producer(&c->ix, data)) != NULL && oir_match_is_op(p, "Squeeze") && n_squeeze < 4) {
        squeezes[n_squeeze++] = p;
        data = p->inputs[0];
    }
    if (p && oir_match_is_op(p, "Slice")) {
        /* cache[..., :n, :] along the position axis (second from last) */
        t = oir_match_const(&c->ix, p->inputs[0]);
        if (!t || p->n_inputs < 4 || !oir_match_scalar(&c->ix, p->inputs[1], &d) || d != 0 ||
            !oir_match_scalar(&c->ix, p->inputs[3], &d) || (d != -2 && d != (double)t->rank - 2) ||
            (p->n_inputs > 4 && p->inputs[4][0] && !oir_match_scalar_near(&c->ix, p->inputs[4], 1, 0)))
            return NULL;
        data = p->inputs[0];
    }
    t = oir_match_const(&c->ix, data);
    if (!t || t->rank < 2 || t->rank > 4 || !oir_tensor_data(t) || (t->dtype != OIR_FLOAT && t->dtype != OIR_FLOAT16))
        return NULL;
    /* The squeezes, in graph order, may only take leading ones. */
    rank = t->rank;
    for (size_t i = 0; i + 2 < t->rank; i++)
        if (t->dims[i] != 1)
            return NULL;
    for (size_t k = n_squeeze; k-- > 0;) {
        if (!oir_match_axes(&c->ix, squeezes[k], axes, 4, &na) || !na)
            return NULL;
        for (size_t i = 0; i < na; i++)
            if (axes[i] < 0 || (size_t)axes[i] + 2 >= rank)
                return NULL;
        rank -= na;
    }
    if (rank != 2 || t->dims[t->rank - 1] < 2 || t->dims[t->rank - 1] % 2)
        return NULL;
    *name = data;
    return t;
}

/* 1 when every row of a (M, H) cache holds the same values in both halves. */
static int halves_equal(const oir_tensor *t)
{
    uint64_t esz = oir_dtype_bits(t->dtype) / 8, h = (uint64_t)t->dims[t->rank - 1], rows = t->nbytes / (h * esz);
    const uint8_t *d = oir_tensor_data(t);
    uint64_t expected;
    if (oir_tensor_expected_bytes(t, &expected) != OLIVE_OK || expected != t->nbytes || rows * h * esz != t->nbytes ||
        rows != (uint64_t)t->dims[t->rank - 2])
        return 0;
    for (uint64_t r = 0; r < rows; r++)
        if (memcmp(d + r * h * esz, d + (r * h + h / 2) * esz, h / 2 * esz))
            return 0;
    return 1;
}

/* The first half of each cache row, as a (M, H/2) initializer made once per cache. */
static int half_cache(fuse_ctx *c, rotary_state *st, const oir_tensor *t, const char *name, const char **out)
{
    uint64_t esz = oir_dtype_bits(t->dtype) / 8, h = (uint64_t)t->dims[t->rank - 1], rows = t->nbytes / (h * esz);
    uint64_t size = rows * (h / 2) * esz;
    const uint8_t *d = oir_tensor_data(t);
    uint8_t *buf;
    int64_t dims[2];
    char *base;
    int rc;
    if ((*out = olive_strmap_get(&st->halves, name)) != NULL)
        return OLIVE_OK;
    buf = olive_malloc(size ? size : 1);
    base = olive_asprintf("%s_half", name);
    if (!buf || !base) {
        free(buf);
        free(base);
        return OLIVE_ENOMEM;
    }
    for (uint64_t r = 0; r < rows; r++)
        memcpy(buf + r * (h / 2) * esz, d + r * h * esz, h / 2 * esz);
    dims[0] = (int64_t)rows;
    dims[1] = (int64_t)(h / 2);
    rc = fuse_add_initializer(c, base, t->dtype, 2, dims, buf, size, out);
    free(buf);
    free(base);
    return rc == OLIVE_OK ? olive_strmap_put(&st->halves, name, (void *)*out) : rc;
}

/* 1 when `v` holds int64 values: an int64 graph input or constant, a Cast to int64, or a
 * reshaping of one (the op takes int64 position ids only). */
static int is_int64(const fuse_ctx *c, const char *v, int depth)
{
    long in = oir_graph_input_index(c->g, v);
    const oir_tensor *t;
    const oir_node *p;
    if (in >= 0)
        return c->g->inputs[in].type && c->g->inputs[in].type->kind == OIR_TYPE_TENSOR &&
               c->g->inputs[in].type->elem_type == OIR_INT64;
    if ((t = oir_match_const(&c->ix, v)) != NULL)
        return t->dtype == OIR_INT64;
    p = oir_index_producer(&c->ix, v);
    if (!p || depth > 6)
        return 0;
    if (oir_match_is_op(p, "Cast"))
        return oir_node_attr_int(p, "to", 0) == OIR_INT64;
    if (oir_match_is_op(p, "Reshape") || oir_match_is_op(p, "Unsqueeze") || oir_match_is_op(p, "Squeeze") ||
        oir_match_is_op(p, "Expand"))
        return is_int64(c, p->inputs[0], depth + 1);
    return 0;
}

static int try_fuse(fuse_ctx *c, rotary_state *st, oir_node *add)
{
    for (int side = 0; side < 2; side++) {
        oir_node *mx = oir_match_parent(&c->ix, add, (size_t)side, "Mul");
        oir_node *mr = oir_match_parent(&c->ix, add, (size_t)(1 - side), "Mul");
        oir_node *cat, *neg, *x1, *x2, *nodes[7], *out;
        const char *x, *cos_v, *sin_v, *s1, *e1, *s2, *e2, *pos_c, *pos_s, *cos_name, *sin_name, *ins[4];
        const oir_tensor *cos_t, *sin_t;
        double h1, h2, v;
        int at;
        if (!mx || !mr || mx->n_inputs != 2 || mr->n_inputs != 2)
            continue;
        if (!(cat = oir_match_parent_any(&c->ix, mr, -1, "Concat", NULL, &at)) || cat->n_inputs != 2)
            continue;
        sin_v = mr->inputs[1 - at];
        if ((oir_node_attr_int(cat, "axis", 0) != -1 && oir_node_attr_int(cat, "axis", 0) != 3) ||
            !(neg = oir_match_parent(&c->ix, cat, 0, "Neg")) || !(x2 = oir_match_parent(&c->ix, neg, 0, "Slice")) ||
            !(x1 = oir_match_parent(&c->ix, cat, 1, "Slice")))
            continue;
        x = x1->inputs[0];
        if (strcmp(x2->inputs[0], x) || !fuse_has_input(mx, x) || fuse_rank(c, x) != 4)
            continue;
        cos_v = fuse_other_input(mx, x);
        if (!cos_v || !strcmp(cos_v, x))
            continue;
        /* x1 = x[..., 0:h], x2 = x[..., h:end], one split point h. */
        if (!last_axis_slice(c, x1, &s1, &e1) || !last_axis_slice(c, x2, &s2, &e2) ||
            !oir_match_scalar(&c->ix, s1, &v) || v != 0 || !split_point(c, e1, x, &h1) || !split_point(c, s2, x, &h2) ||
            h1 != h2 || !oir_match_scalar(&c->ix, e2, &v))
            continue;
        cos_t = gathered_cache(c, cos_v, &pos_c, &cos_name);
        sin_t = gathered_cache(c, sin_v, &pos_s, &sin_name);
        if (!cos_t || !sin_t || strcmp(pos_c, pos_s) || !is_int64(c, pos_c, 0) || cos_t->dtype != sin_t->dtype ||
            cos_t->dims[cos_t->rank - 1] != sin_t->dims[sin_t->rank - 1] ||
            cos_t->dims[cos_t->rank - 2] != sin_t->dims[sin_t->rank - 2])
            continue;
        {
            /* The split must halve the head and the second slice run to its end. */
            double head = (double)cos_t->dims[cos_t->rank - 1];
            if ((h1 >= 0 && h1 * 2 != head) || v < head)
                continue;
        }
        if (!halves_equal(cos_t) || !halves_equal(sin_t))
            continue;
        nodes[0] = add;
        nodes[1] = mx;
        nodes[2] = mr;
        nodes[3] = cat;
        nodes[4] = neg;
        nodes[5] = x1;
        nodes[6] = x2;
        if (!oir_match_only_used_inside(&c->ix, nodes, 7, (const char *const *)&add->outputs[0], 1))
            return OLIVE_OK;
        ins[0] = x;
        ins[1] = pos_c;
        OLIVE_TRY(half_cache(c, st, cos_t, cos_name, &ins[2]));
        OLIVE_TRY(half_cache(c, st, sin_t, sin_name, &ins[3]));
        OLIVE_TRY(fuse_emit(c, nodes, 7, "RotaryEmbedding", FUSE_MS_DOMAIN, "RotaryEmbedding", 4, ins, 1,
                            (const char *const *)&add->outputs[0], &out));
        return oir_node_set_attr_int(out, "interleaved", 0);
    }
    return OLIVE_OK;
}

int fuse_rotary_embeddings(fuse_ctx *c)
{
    rotary_state st;
    size_t n = c->g->n_nodes;
    int rc = OLIVE_OK;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        oir_node *x = c->g->nodes[i];
        if (!x->mark && oir_match_is_op(x, "Add") && x->n_inputs == 2 && x->n_outputs == 1)
            rc = try_fuse(c, &st, x);
    }
    olive_strmap_free(&st.halves);
    return rc;
}
