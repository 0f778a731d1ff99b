/* Surgeons Olive wrote for a DLA (NPU) compiler that wants 4-D tensors: shape constants,
 * permutations and axes rewritten for 4-D, Flatten as Reshape, scalar indices as vectors, and
 * debugging outputs. They change shapes on purpose: the result is for that compiler. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

static int is_op(const oir_node *n, const char *op)
{
    return !strcmp(n->op_type, op) && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

/* The int64 1-D initializer named by input `i` of `n` with `len` elements, or NULL. */
static const oir_tensor *int64s(const oir_graph *g, const oir_node *n, size_t i, int64_t len)
{
    const oir_tensor *t = i < n->n_inputs ? oir_graph_initializer(g, n->inputs[i]) : NULL;
    return t && t->dtype == OIR_INT64 && t->rank == 1 && t->dims[0] == len ? t : NULL;
}

/* Replaces initializer `name` with an int64 [n] tensor of `v`. */
static int put_int64s(oir_graph *g, const char *name, const int64_t *v, size_t n)
{
    char *copy = olive_strdup(name);
    int rc = copy ? sg_add_int64s(g, copy, v, n) : OLIVE_ENOMEM;
    free(copy);
    return rc;
}

/* Reshape / Expand targets of length 3 get a 1 inserted: Reshape at its first non-zero entry,
 * Expand in front. */
static int non4d_shape(oir_model *m, const char *op, int at_front)
{
    oir_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_tensor *t;
        int64_t old[3], v[4];
        size_t at = 0;
        if (!is_op(g->nodes[i], op) || !(t = int64s(g, g->nodes[i], 1, 3)))
            continue;
        memcpy(old, oir_tensor_data(t), sizeof old);
        if (!at_front) {
            while (at < 3 && old[at] == 0)
                at++;
            if (at == 3)
                continue;
        }
        for (size_t k = 0, j = 0; k < 4; k++)
            v[k] = k == at ? 1 : old[j++];
        OLIVE_TRY(put_int64s(g, t->name, v, 4));
    }
    return OLIVE_OK;
}

static int non4d_reshape(oir_model *m, const sg_args *a)
{
    (void)a;
    return non4d_shape(m, "Reshape", 0);
}
static int non4d_expand(oir_model *m, const sg_args *a)
{
    (void)a;
    return non4d_shape(m, "Expand", 1);
}

/* Transpose perms of rank 2 and 3 extended to 4-D: [a, b] -> [0, 1, a+2, b+2],
 * [a, b, c] -> [0, a+1, b+1, c+1]. */
static int non4d_transpose(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_attr *p = is_op(g->nodes[i], "Transpose") ? oir_node_attr(g->nodes[i], "perm") : NULL;
        int64_t v[4];
        if (!p || p->type != OIR_ATTR_INTS || (p->n != 2 && p->n != 3))
            continue;
        if (p->n == 2)
            v[0] = 0, v[1] = 1, v[2] = p->ints[0] + 2, v[3] = p->ints[1] + 2;
        else
            v[0] = 0, v[1] = p->ints[0] + 1, v[2] = p->ints[1] + 1, v[3] = p->ints[2] + 1;
        OLIVE_TRY(oir_node_set_attr_ints(g->nodes[i], "perm", v, 4));
    }
    return OLIVE_OK;
}

/* Slice axes of one element (not named "transformed_...") become a new initializer
 * "<node>_axes" = [-1]. */
static int non4d_slice(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        const oir_tensor *t;
        char *name;
        int64_t minus1 = -1;
        int rc;
        if (!is_op(n, "Slice") || n->n_inputs < 4 || strstr(n->inputs[3], "transformed_") ||
            !(t = oir_graph_initializer(g, n->inputs[3])) || !t->rank || t->dims[0] != 1)
            continue;
        if (!(name = olive_asprintf("%s_axes", n->name)))
            return OLIVE_ENOMEM;
        rc = sg_add_int64s(g, name, &minus1, 1);
        if (rc == OLIVE_OK)
            rc = oir_node_set_input(n, 3, name);
        free(name);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

static int non4d_lpnorm(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (is_op(g->nodes[i], "LpNormalization") && oir_node_attr(g->nodes[i], "axis"))
            OLIVE_TRY(oir_node_set_attr_int(g->nodes[i], "axis", -1));
    return OLIVE_OK;
}

/* ReduceSum nodes (not named "...transformed...") keep dims (when they say) and reduce axis 2
 * instead of any axes other than [-1] ("<node>_axes"). */
static int standalone_reduce_sum(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        const oir_tensor *t;
        if (!is_op(n, "ReduceSum") || (n->name && strstr(n->name, "transformed")) || n->n_inputs < 2)
            continue;
        if (oir_node_attr(n, "keepdims"))
            OLIVE_TRY(oir_node_set_attr_int(n, "keepdims", 1));
        if ((t = oir_graph_initializer(g, n->inputs[1]))) {
            uint64_t cnt = 0;
            int64_t two = 2;
            char *name;
            int rc;
            if (oir_tensor_numel(t, &cnt) == OLIVE_OK && cnt == 1 && sg_decode(t, 0) == -1)
                continue;
            if (!(name = olive_asprintf("%s_axes", n->name)))
                return OLIVE_ENOMEM;
            rc = sg_add_int64s(g, name, &two, 1);
            if (rc == OLIVE_OK)
                rc = oir_node_set_input(n, 1, name);
            free(name);
            OLIVE_TRY(rc);
        }
    }
    return OLIVE_OK;
}

/* Constant indices of Gather / GatherElements: a scalar becomes a 1-element vector; 3-D
 * GatherElements indices get a leading 1; Gather's axis 1 becomes 2. */
static int gather_like(oir_model *m, const char *op)
{
    oir_graph *g = m->graph;
    int elements = !strcmp(op, "GatherElements");
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        oir_tensor *t;
        if (!is_op(n, op) || n->n_inputs < 2)
            continue;
        if (!elements && oir_node_attr(n, "axis") && oir_node_attr_int(n, "axis", 0) == 1)
            OLIVE_TRY(oir_node_set_attr_int(n, "axis", 2));
        if (!(t = oir_graph_initializer(g, n->inputs[1])) || (t->rank != 0 && !(elements && t->rank == 3)))
            continue;
        {
            int64_t *dims = olive_calloc(t->rank + 1, sizeof *dims);
            if (!dims)
                return OLIVE_ENOMEM;
            dims[0] = 1;
            for (size_t d = 0; d < t->rank; d++)
                dims[d + 1] = t->dims[d];
            free(t->dims);
            t->dims = dims;
            t->rank++;
        }
    }
    return OLIVE_OK;
}

static int gather(oir_model *m, const sg_args *a)
{
    (void)a;
    return gather_like(m, "Gather");
}
static int gather_elements(oir_model *m, const sg_args *a)
{
    (void)a;
    return gather_like(m, "GatherElements");
}

/* Flatten -> Reshape(x, [1, 1, 1, -1]) "<node>_reshape" writing the Flatten's outputs. */
static int flatten(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    static const int64_t shape[4] = {1, 1, 1, -1};
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i], *r;
        char *axes, *name;
        int rc;
        if (!is_op(n, "Flatten") || !n->n_inputs || !n->n_outputs)
            continue;
        axes = olive_asprintf("%s_reshape_axes", n->name);
        name = olive_asprintf("%s_reshape", n->name);
        rc = axes && name ? sg_add_int64s(g, axes, shape, 4) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            const char *ins[2] = {n->inputs[0], axes};
            if (!(r = oir_node_new("Reshape", "", name, 2, ins, 1, (const char *const *)n->outputs)))
                rc = OLIVE_ENOMEM;
            else
                oir_graph_replace_node(g, i, r);
        }
        free(axes);
        free(name);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* Squeeze / Unsqueeze nodes not reading a graph input are bypassed (their readers read their
 * input); one writing a graph output stays, since removing it would leave the output unwritten. */
static int remove_intermediary_squeeze(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        char *src, *dst;
        int rc;
        if ((!is_op(n, "Squeeze") && !is_op(n, "Unsqueeze")) || !n->n_inputs || !n->n_outputs ||
            oir_graph_input_index(g, n->inputs[0]) >= 0 || oir_graph_output_index(g, n->outputs[0]) >= 0)
            continue;
        src = olive_strdup(n->inputs[0]);
        dst = olive_strdup(n->outputs[0]);
        rc = src && dst ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            oir_graph_remove_node(g, i--);
            rc = sg_replace_input(g, dst, src);
        }
        free(src);
        free(dst);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* Values become float graph outputs (no shape): the named ones, or every node output that is
 * not one yet. */
static int add_intermediate_outputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n = sg_list_len(a, "intermediate_tensor_to_add");
    oir_type *ty = oir_type_new_tensor(OIR_FLOAT, 0, NULL, NULL);
    int rc = ty ? OLIVE_OK : OLIVE_ENOMEM;
    if (ty)
        ty->has_shape = 0;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        const char *v = sg_list_string(a, "intermediate_tensor_to_add", i);
        if (!sg_producer(g, v) && oir_graph_input_index(g, v) < 0 && !oir_graph_initializer(g, v))
            rc = sg_fail(a, "intermediate_tensor_to_add", "no value is named '%s'", v);
    }
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        const char *v = sg_list_string(a, "intermediate_tensor_to_add", i);
        if (oir_graph_output_index(g, v) < 0)
            rc = oir_graph_add_output(g, v, ty);
    }
    if (!sg_has(a, "intermediate_tensor_to_add"))
        for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
            for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++) {
                const char *v = g->nodes[i]->outputs[j];
                if (v[0] && oir_graph_output_index(g, v) < 0)
                    rc = oir_graph_add_output(g, v, ty);
            }
    oir_type_free(ty);
    return rc;
}

/* ReshapeReduceSum, ReshapeClipReduceSum and ReduceMax: Olive 0.13's versions leave the model
 * as it is (the first two discard the rewriter's result; the third's pattern names an op
 * "Reducemax" that no model has), so these do too, and say so. */
static int olive_noop(oir_model *m, const sg_args *a)
{
    (void)m;
    OLIVE_WARN("surgeon '%s' leaves the model unchanged, as Olive's does", a->surgeon->name);
    return OLIVE_OK;
}

/* Graph inputs of rank 2 or 3 read as 4-D: an existing Unsqueeze reading one gets axes
 * ([0, -1] for rank 2, [1] for rank 3) "<node>unsqueeze_axes_transformed" unless it already
 * makes 4-D; otherwise a new Unsqueeze "<input>_unsqueeze" feeds every reader. */
static int non4d_model_inputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n_in = g->n_inputs;
    (void)a;
    for (size_t i = 0; i < n_in; i++) {
        const oir_type *t = g->inputs[i].type;
        const char *in = g->inputs[i].name;
        static const int64_t axes2[2] = {0, -1}, axes3[1] = {1};
        size_t rank = t && t->kind == OIR_TYPE_TENSOR && t->has_shape ? t->rank : 0, n_axes = rank == 2 ? 2 : 1;
        const int64_t *axes = rank == 2 ? axes2 : axes3;
        oir_node *unsq = NULL;
        char *name = NULL, *out = NULL, *ax = NULL;
        int rc = OLIVE_OK;
        if (rank != 2 && rank != 3)
            continue;
        for (size_t k = 0; k < g->n_nodes && !unsq; k++)
            if (is_op(g->nodes[k], "Unsqueeze") && g->nodes[k]->n_inputs && !strcmp(g->nodes[k]->inputs[0], in))
                unsq = g->nodes[k];
        if (unsq) {
            const oir_tensor *old = unsq->n_inputs > 1 ? oir_graph_initializer(g, unsq->inputs[1]) : NULL;
            uint64_t cnt = 0;
            if (!old || (oir_tensor_numel(old, &cnt) == OLIVE_OK && cnt + rank == 4))
                continue;
            if (!(ax = olive_asprintf("%sunsqueeze_axes_transformed", unsq->name)))
                return OLIVE_ENOMEM;
            rc = sg_add_int64s(g, ax, axes, n_axes);
            if (rc == OLIVE_OK)
                rc = oir_node_set_input(unsq, 1, ax);
            free(ax);
            OLIVE_TRY(rc);
            continue;
        }
        if (!sg_use_count(g, in))
            continue;
        ax = olive_asprintf("%s_unsqueeze_axes", in);
        out = olive_asprintf("%s_unsqueeze_input", in);
        name = olive_asprintf("%s_unsqueeze", in);
        rc = ax && out && name ? sg_replace_input(g, in, out) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = sg_add_int64s(g, ax, axes, n_axes);
        if (rc == OLIVE_OK) {
            const char *ins[2] = {in, ax};
            if (!sg_add_node(g, "Unsqueeze", "", name, 2, ins, 1, (const char *const *)&out))
                rc = OLIVE_ENOMEM;
        }
        free(ax), free(out), free(name);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* Graph outputs of rank 2 or 3 come out of a Squeeze "<output>_squeeze" of axes [0, 1] (rank 2)
 * or [2] (rank 3) "<output>_squeeze_axes"; a Squeeze already writing the output (directly or
 * through a Clip) gets axes [0, 3] for rank 2. */
static int non4d_model_outputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n_out = g->n_outputs;
    for (size_t i = 0; i < n_out; i++) {
        const oir_type *t = g->outputs[i].type;
        size_t rank = t && t->kind == OIR_TYPE_TENSOR && t->has_shape ? t->rank : 0;
        char *out, *ax = NULL, *in = NULL, *name = NULL;
        int updated = 0, rc = OLIVE_OK;
        if (rank != 2 && rank != 3)
            continue;
        if (!(out = olive_strdup(g->outputs[i].name)))
            return OLIVE_ENOMEM;
        for (size_t k = 0; k < g->n_nodes && rc == OLIVE_OK; k++) {
            oir_node *sq = g->nodes[k], *clip;
            int writes;
            if (!is_op(sq, "Squeeze") || !sq->n_outputs)
                continue;
            writes = !strcmp(sq->outputs[0], out);
            for (size_t c = 0; !writes && (clip = sg_consumer(g, sq->outputs[0], c)); c++)
                writes = is_op(clip, "Clip") && clip->n_outputs && oir_graph_output_index(g, clip->outputs[0]) >= 0;
            if (!writes)
                continue;
            if (rank == 3) /* Olive has no axes for this case (it fails): refuse */
                rc = sg_fail(a, NULL, "output '%s' of rank 3 already comes from Squeeze node '%s'", out, sq->name);
            else if (!(ax = olive_asprintf("%s_squeeze_axes", out)))
                rc = OLIVE_ENOMEM;
            else {
                static const int64_t axes[2] = {0, 3};
                rc = sg_add_int64s(g, ax, axes, 2);
                if (rc == OLIVE_OK)
                    rc = oir_node_set_input(sq, 1, ax);
                free(ax);
                ax = NULL;
            }
            updated = 1;
        }
        if (rc == OLIVE_OK && !updated) {
            static const int64_t axes2[2] = {0, 1}, axes3[1] = {2};
            ax = olive_asprintf("%s_squeeze_axes", out);
            in = olive_asprintf("%s_squeeze_input", out);
            name = olive_asprintf("%s_squeeze", out);
            rc = ax && in && name ? sg_add_int64s(g, ax, rank == 2 ? axes2 : axes3, rank == 2 ? 2 : 1) : OLIVE_ENOMEM;
            for (size_t k = 0; k < g->n_nodes && rc == OLIVE_OK; k++) {
                oir_node *nd = g->nodes[k];
                for (size_t j = 0; j < nd->n_outputs && rc == OLIVE_OK; j++)
                    if (!strcmp(nd->outputs[j], out))
                        rc = oir_node_set_output(nd, j, in);
                for (size_t j = 0; j < nd->n_inputs && rc == OLIVE_OK; j++)
                    if (!strcmp(nd->inputs[j], out))
                        rc = oir_node_set_input(nd, j, in);
            }
            if (rc == OLIVE_OK) {
                const char *ins[2] = {in, ax};
                if (!sg_add_node(g, "Squeeze", "", name, 2, ins, 1, (const char *const *)&out))
                    rc = OLIVE_ENOMEM;
            }
        }
        free(out), free(ax), free(in), free(name);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* Olive's rule reads only the last Div/Sub/Mul, MatMul and Gemm nodes' inputs: 1-D initializers
 * that last Div/Sub/Mul reads become [1, 1, 1, K]; 2-D ones the last Gemm reads [1, 1, K, C];
 * other 2-D ones the last MatMul does not read are transposed to [K, C, 1, 1]; 3-D ones get a
 * leading 1. */
static int in_inputs(const oir_node *n, const char *name)
{
    for (size_t j = 0; n && j < n->n_inputs; j++)
        if (!strcmp(n->inputs[j], name))
            return 1;
    return 0;
}

static int non4d_initializers(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    const oir_node *arith = NULL, *mm = NULL, *gemm = NULL;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (!strcmp(n->op_type, "Div") || !strcmp(n->op_type, "Sub") || !strcmp(n->op_type, "Mul"))
            arith = n;
        if (!strcmp(n->op_type, "MatMul"))
            mm = n;
        if (!strcmp(n->op_type, "Gemm"))
            gemm = n;
    }
    for (size_t i = 0; i < g->n_initializers; i++) {
        oir_tensor *t = g->initializers[i];
        int64_t dims[4];
        size_t rank = 0;
        if (t->rank == 1 && in_inputs(arith, t->name)) {
            dims[0] = dims[1] = dims[2] = 1, dims[3] = t->dims[0], rank = 4;
        } else if (t->rank == 2 && in_inputs(gemm, t->name)) {
            dims[0] = dims[1] = 1, dims[2] = t->dims[0], dims[3] = t->dims[1], rank = 4;
        } else if (t->rank == 2 && !in_inputs(mm, t->name)) {
            size_t w = oir_dtype_bits(t->dtype) / 8, c = (size_t)t->dims[0], k = (size_t)t->dims[1];
            const uint8_t *src = oir_tensor_data(t);
            uint8_t *tp;
            int rc;
            if (!w || !src)
                continue;
            if (!(tp = olive_malloc(c * k * w + 1)))
                return OLIVE_ENOMEM;
            for (size_t r = 0; r < c; r++)
                for (size_t q = 0; q < k; q++)
                    memcpy(tp + (q * c + r) * w, src + (r * k + q) * w, w);
            rc = oir_tensor_set_copy(t, tp, c * k * w);
            free(tp);
            OLIVE_TRY(rc);
            dims[0] = (int64_t)k, dims[1] = (int64_t)c, dims[2] = dims[3] = 1, rank = 4;
        } else if (t->rank == 3) {
            dims[0] = 1, dims[1] = t->dims[0], dims[2] = t->dims[1], dims[3] = t->dims[2], rank = 4;
        }
        if (rank) {
            int64_t *nd = olive_memdup(dims, sizeof dims);
            if (!nd)
                return OLIVE_ENOMEM;
            free(t->dims);
            t->dims = nd;
            t->rank = 4;
        }
    }
    return OLIVE_OK;
}

/* Olive's shape map: value_info dims up to the first one without a value, which counts as 0. */
static size_t vi_shape(const oir_graph *g, const char *name, int64_t *dims, int *known)
{
    *known = 0;
    for (size_t i = 0; i < g->n_value_info; i++) {
        const oir_type *t = g->value_info[i].type;
        size_t r = 0;
        if (strcmp(g->value_info[i].name, name))
            continue;
        *known = 1;
        for (size_t d = 0; t && t->kind == OIR_TYPE_TENSOR && t->has_shape && d < t->rank && r < 8; d++) {
            dims[r++] = t->dims[d].has_value ? t->dims[d].value : 0;
            if (!t->dims[d].has_value)
                break;
        }
        return r;
    }
    return 0;
}

/* MatMul / Gemm with an input that is not 4-D (by initializer or value_info) becomes a 1x1 Conv
 * "<node>_conv", between Transposes (perm [0, 3, 2, 1]) when the first input's channels are 1 by
 * Olive's test; a 2-D weight becomes [K, C, 1, 1] (transposed; [C, K, 1, 1] with transB). */
static int matmul_to_conv(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n0 = g->n_nodes;
    int rc = OLIVE_OK;
    olive_strbuf done = {0};
    (void)a;
    olive_strbuf_append(&done, "\n");
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < n0 && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        int64_t dims[8];
        size_t r;
        int known, need = 0, transpose = 0, trans_b;
        char *base, *conv = NULL, *tb = NULL, *tb_out = NULL, *ta = NULL, *conv_out = NULL, *key = NULL;
        const oir_tensor *w;
        if ((!is_op(n, "MatMul") && !is_op(n, "Gemm")) || n->n_inputs < 2 || !n->n_outputs)
            continue;
        for (size_t j = 0; j < n->n_inputs && !need; j++) {
            const oir_tensor *t = oir_graph_initializer(g, n->inputs[j]);
            r = vi_shape(g, n->inputs[j], dims, &known);
            need = (t && t->rank != 4) || (known && r != 4);
        }
        if (!need)
            continue;
        r = vi_shape(g, n->inputs[0], dims, &known);
        if (known)
            transpose = (r == 2 && dims[0] != 1 && dims[1] != 1) || (r == 3 && dims[0] == 1) ||
                        (r == 4 && dims[1] == 1) || (r == 4 && dims[2] != 1 && dims[3] != 1);
        trans_b = is_op(n, "Gemm") && oir_node_attr_int(n, "transB", 0) == 1;
        base = n->name ? n->name : "";
        conv = olive_asprintf("%s_conv", base);
        tb = olive_asprintf("%s_transpose_before", base);
        tb_out = olive_asprintf("%s_transpose_before_output", base);
        ta = olive_asprintf("%s_transpose_after", base);
        conv_out = olive_asprintf("%s_transpose_output", base);
        if (!conv || !tb || !tb_out || !ta || !conv_out)
            rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            static const int64_t perm[4] = {0, 3, 2, 1};
            const char *ci[3] = {transpose ? tb_out : n->inputs[0], n->inputs[1], n->n_inputs > 2 ? n->inputs[2] : ""};
            oir_node *t1 = NULL, *c, *t2;
            if (transpose && (!(t1 = sg_add_node(g, "Transpose", "", tb, 1, (const char *const *)n->inputs, 1,
                                                 (const char *const *)&tb_out)) ||
                              (rc = oir_node_set_attr_ints(t1, "perm", perm, 4)) != OLIVE_OK))
                rc = rc == OLIVE_OK ? OLIVE_ENOMEM : rc;
            if (rc == OLIVE_OK &&
                !(c = sg_add_node(g, "Conv", "", conv, n->n_inputs == 3 ? 3 : 2, ci, 1,
                                  transpose ? (const char *const *)&conv_out : (const char *const *)n->outputs)))
                rc = OLIVE_ENOMEM;
            if (rc == OLIVE_OK && transpose) {
                if (!(t2 = sg_add_node(g, "Transpose", "", ta, 1, (const char *const *)&conv_out, 1,
                                       (const char *const *)n->outputs)))
                    rc = OLIVE_ENOMEM;
                else
                    rc = oir_node_set_attr_ints(t2, "perm", perm, 4);
            }
        }
        /* The weight, once: [C, K] -> [K, C, 1, 1] (or [C, K, 1, 1] with transB). */
        w = oir_graph_initializer(g, n->inputs[1]);
        if (rc == OLIVE_OK && w && w->rank == 2 && (key = olive_asprintf("\n%s\n", w->name)) &&
            !strstr(done.data, key)) {
            oir_tensor *t = (oir_tensor *)w;
            size_t es = oir_dtype_bits(t->dtype) / 8, c = (size_t)t->dims[0], k = (size_t)t->dims[1];
            int64_t nd[4] = {trans_b ? (int64_t)c : (int64_t)k, trans_b ? (int64_t)k : (int64_t)c, 1, 1};
            int64_t *dd = olive_memdup(nd, sizeof nd);
            if (!dd || !es) {
                free(dd);
                rc = dd ? OLIVE_OK : OLIVE_ENOMEM;
            } else {
                if (!trans_b) {
                    uint8_t *tp = olive_malloc(c * k * es + 1);
                    const uint8_t *src = oir_tensor_data(t);
                    if (!tp)
                        rc = OLIVE_ENOMEM;
                    for (size_t x = 0; rc == OLIVE_OK && x < c; x++)
                        for (size_t y = 0; y < k; y++)
                            memcpy(tp + (y * c + x) * es, src + (x * k + y) * es, es);
                    if (rc == OLIVE_OK)
                        rc = oir_tensor_set_copy(t, tp, c * k * es);
                    free(tp);
                }
                if (rc == OLIVE_OK) {
                    free(t->dims);
                    t->dims = dd;
                    t->rank = 4;
                    olive_strbuf_printf(&done, "%s\n", key + 1);
                } else {
                    free(dd);
                }
            }
        }
        n->mark = 1;
        free(conv), free(tb), free(tb_out), free(ta), free(conv_out), free(key);
    }
    olive_strbuf_free(&done);
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return OLIVE_OK;
}

static const sg_param p_none[] = {{NULL, 0, 0}};
static const sg_param p_tensors[] = {{"intermediate_tensor_to_add", SG_STRINGS, 0}, {NULL, 0, 0}};

const sg_surgeon sg_family_dla[] = {
    SG_SURGEON("Non4DReshape", "Reshape targets of rank 3 get a 1 (4-D)", p_none, non4d_reshape),
    SG_SURGEON("Non4DExpand", "Expand shapes of rank 3 get a leading 1 (4-D)", p_none, non4d_expand),
    SG_SURGEON("Non4DTranspose", "Transpose perms of rank 2 and 3 extended to 4-D", p_none, non4d_transpose),
    SG_SURGEON("Non4DSlice", "One-axis Slice axes become [-1]", p_none, non4d_slice),
    SG_SURGEON("Non4DLpNorm", "LpNormalization axis becomes -1", p_none, non4d_lpnorm),
    SG_SURGEON("StandaloneReduceSum", "ReduceSum keeps dims and reduces axis 2", p_none, standalone_reduce_sum),
    SG_SURGEON("Gather", "Scalar Gather indices become vectors; axis 1 becomes 2", p_none, gather),
    SG_SURGEON("GatherElements", "Scalar or 3-D GatherElements indices gain a dimension", p_none, gather_elements),
    SG_SURGEON("Flatten", "Flatten becomes Reshape to [1, 1, 1, -1]", p_none, flatten),
    SG_SURGEON("RemoveIntermediarySqueezeAndUnsqueeze", "Bypasses Squeeze / Unsqueeze not reading graph inputs", p_none,
               remove_intermediary_squeeze),
    SG_SURGEON("Non4DModelInputs", "Graph inputs of rank 2 or 3 get an Unsqueeze to 4-D", p_none, non4d_model_inputs),
    SG_SURGEON("Non4DModelOutputs", "Graph outputs of rank 2 or 3 come out of a Squeeze from 4-D", p_none,
               non4d_model_outputs),
    SG_SURGEON("MatMulToTransposeConvTranspose", "MatMul / Gemm on non-4-D tensors as 1x1 Conv (with Transposes)",
               p_none, matmul_to_conv),
    SG_SURGEON("Non4DInitializers", "Initializers of rank 1 to 3 made 4-D (Olive's rules)", p_none, non4d_initializers),
    SG_SURGEON("ReshapeReduceSum", "Unchanged model, as Olive 0.13's surgeon leaves it", p_none, olive_noop),
    SG_SURGEON("ReshapeClipReduceSum", "Unchanged model, as Olive 0.13's surgeon leaves it", p_none, olive_noop),
    SG_SURGEON("ReduceMax", "Unchanged model, as Olive 0.13's surgeon leaves it", p_none, olive_noop),
    SG_SURGEON("AddIntermediateTensorsToOutputs", "Makes values (named, or all) float graph outputs for debugging",
               p_tensors, add_intermediate_outputs),
    SG_END,
};
