/* Surgeons between MatMul + Add and Gemm. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

#define MAX_RANK 16

/* Consumer nodes of any output of `n` (each once): the count, the first in *first. */
static size_t consumers(const oir_graph *g, const oir_node *n, oir_node **first)
{
    size_t count = 0;
    *first = NULL;
    for (size_t i = 0; i < g->n_nodes; i++) {
        int reads = 0;
        for (size_t j = 0; j < g->nodes[i]->n_inputs && !reads; j++)
            for (size_t k = 0; k < n->n_outputs && !reads; k++)
                reads = n->outputs[k][0] && !strcmp(g->nodes[i]->inputs[j], n->outputs[k]);
        if (reads && !count++)
            *first = g->nodes[i];
    }
    return count;
}

static int static_dims(const int64_t *d, size_t r)
{
    for (size_t i = 0; i < r; i++)
        if (d[i] < 0)
            return 0;
    return 1;
}

/* Reshape "<name>" of `input` to constant `dims` ("<name>_shape"), writing "<name>_output". */
static int add_reshape(oir_graph *g, const char *name, const char *input, const int64_t *dims, size_t rank, char **out)
{
    char *shape = olive_asprintf("%s_shape", name), *o = olive_asprintf("%s_output", name);
    const char *ins[2] = {input, shape};
    int rc = shape && o ? sg_add_int64s(g, shape, dims, rank) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !sg_add_node(g, "Reshape", "", name, 2, ins, 1, (const char *const *)&o))
        rc = OLIVE_ENOMEM;
    free(shape);
    if (rc != OLIVE_OK)
        free(o);
    else
        *out = o;
    return rc;
}

/* MatMul(A, B) + bias -> Gemm(A, B, bias) when B is 2-D and bias 1-D (shapes from initializers
 * and value_info; Olive infers them first). A of another rank is reshaped to 2-D and back when
 * its and B's shapes are static; a Relu right after the Add then moves before the reshape back. */
static int matmul_add_to_gemm(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    int rc = OLIVE_OK;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *mm = g->nodes[i], *add, *relu = NULL, *gemm, *back = NULL;
        int64_t ad[MAX_RANK], bd[MAX_RANK], od[MAX_RANK], cd[MAX_RANK], pre_dims[2], gemm_dims[2];
        size_t ar, br, orank, cr, n_out;
        const char *bias = NULL;
        char *gname = NULL, *gout = NULL, *pre = NULL, *pre_out = NULL, *post = NULL, *post_out = NULL;
        char *out = NULL, *final = NULL, *ins[3] = {0};
        int reshape;
        int32_t dt;
        if (mm->mark || strcmp(mm->op_type, "MatMul") || mm->domain[0] || mm->n_inputs != 2)
            continue;
        if (consumers(g, mm, &add) != 1 || strcmp(add->op_type, "Add") || add->mark)
            continue;
        if (oir_graph_output_index(g, add->outputs[0]) >= 0)
            continue;
        if (!sg_value_shape(g, mm->inputs[0], ad, MAX_RANK, &ar) ||
            !sg_value_shape(g, mm->inputs[1], bd, MAX_RANK, &br) || br != 2 || ar > MAX_RANK)
            continue;
        if (!sg_value_shape(g, mm->outputs[0], od, MAX_RANK, &orank) || orank > MAX_RANK ||
            !(dt = sg_value_dtype(g, mm->outputs[0])))
            continue;
        for (size_t k = 0; k < add->n_inputs && !bias; k++)
            if (strcmp(add->inputs[k], mm->outputs[0]))
                bias = add->inputs[k];
        if (!bias || !sg_value_shape(g, bias, cd, MAX_RANK, &cr) || cr != 1)
            continue;
        n_out = consumers(g, add, &relu);
        if (n_out != 1 || strcmp(relu->op_type, "Relu"))
            relu = NULL;
        reshape = ar != 2;
        if (reshape && (!static_dims(ad, ar) || !static_dims(bd, br) || !static_dims(od, orank) || orank < 1 ||
                        (relu && oir_graph_output_index(g, relu->outputs[0]) >= 0)))
            continue;
        gname = sg_new_name(mm->name, "MatMul", "Gemm");
        gout = gname ? olive_asprintf("%s_output", gname) : NULL;
        out = olive_strdup(add->outputs[0]);
        ins[0] = olive_strdup(mm->inputs[0]);
        ins[1] = olive_strdup(mm->inputs[1]);
        ins[2] = olive_strdup(bias);
        rc = gname && gout && out && ins[0] && ins[1] && ins[2] ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && reshape) {
            pre_dims[0] = 1;
            for (size_t k = 0; k + 1 < ar; k++)
                pre_dims[0] *= ad[k];
            pre_dims[1] = ad[ar - 1];
            gemm_dims[0] = 1;
            for (size_t k = 0; k + 1 < orank; k++)
                gemm_dims[0] *= od[k];
            gemm_dims[1] = od[orank - 1];
            (void)gemm_dims;
            pre = sg_new_name(gname, "Gemm", "Reshape_pre");
            rc = pre ? add_reshape(g, pre, ins[0], pre_dims, 2, &pre_out) : OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK) {
            const char *gi[3] = {reshape ? pre_out : ins[0], ins[1], ins[2]};
            if (!(gemm = sg_add_node(g, "Gemm", "", gname, 3, gi, 1, (const char *const *)&gout)))
                rc = OLIVE_ENOMEM;
            else if ((rc = oir_node_set_attr_float(gemm, "alpha", 1.0f)) == OLIVE_OK &&
                     (rc = oir_node_set_attr_float(gemm, "beta", 1.0f)) == OLIVE_OK &&
                     (rc = oir_node_set_attr_int(gemm, "transA", 0)) == OLIVE_OK)
                rc = oir_node_set_attr_int(gemm, "transB", 0);
        }
        if (rc == OLIVE_OK)
            rc = (final = olive_strdup(gout)) ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && reshape) {
            if (relu) {
                free(out);
                free(final);
                out = olive_strdup(relu->outputs[0]);
                final = olive_strdup(relu->outputs[0]);
                rc = out && final ? oir_node_set_input(relu, 0, gout) : OLIVE_ENOMEM;
            }
            if (rc == OLIVE_OK) {
                char *prev = final;
                post = sg_new_name(gname, "Gemm", "Reshape_post");
                rc = post ? add_reshape(g, post, prev, od, orank, &post_out) : OLIVE_ENOMEM;
                if (rc == OLIVE_OK)
                    back = g->nodes[g->n_nodes - 1];
                free(prev);
                final = post_out;
                post_out = NULL;
            }
        }
        if (rc == OLIVE_OK) {
            /* Readers of the Add (or Relu) output read the new result, except the Relu itself. */
            for (size_t k = 0; k < g->n_nodes && rc == OLIVE_OK; k++) {
                oir_node *c = g->nodes[k];
                if ((c == relu && reshape) || c == back)
                    continue; /* the Relu now reads the Gemm; the reshape back reads the Relu */
                for (size_t j = 0; j < c->n_inputs && rc == OLIVE_OK; j++)
                    if (!strcmp(c->inputs[j], out))
                        rc = oir_node_set_input(c, j, final);
            }
            add->mark = mm->mark = 1;
        }
        free(gname), free(gout), free(pre), free(pre_out), free(post), free(post_out), free(out), free(final);
        free(ins[0]), free(ins[1]), free(ins[2]);
    }
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return sg_dag_update(g);
}

/* Gemm (alpha = beta = 1, no transA) -> MatMul (+ Add when it has C). transB transposes a
 * constant B into a new initializer "<B>_transposed" or adds a Transpose. The Gemm's output
 * name stays on the last new node. */
static int gemm_to_matmul_add(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n0 = g->n_nodes, idx = 0;
    int rc = OLIVE_OK;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < n0; i++) {
        oir_node *gm = g->nodes[i];
        char *base, *rhs = NULL, *a_in, *c_in, *y, *mm_name, *mm_out, *add_name, *tr_name;
        const oir_tensor *b;
        if (strcmp(gm->op_type, "Gemm") || gm->domain[0] || gm->n_inputs < 2)
            continue;
        if (oir_node_attr_float(gm, "alpha", 1.0f) != 1.0f || oir_node_attr_float(gm, "beta", 1.0f) != 1.0f ||
            oir_node_attr_int(gm, "transA", 0))
            continue;
        base = gm->name && gm->name[0] ? olive_strdup(gm->name)
               : gm->outputs[0][0]     ? olive_strdup(gm->outputs[0])
                                       : olive_asprintf("gemm_rewrite_%zu", idx);
        a_in = olive_strdup(gm->inputs[0]);
        c_in = gm->n_inputs > 2 && gm->inputs[2][0] ? olive_strdup(gm->inputs[2]) : NULL;
        y = olive_strdup(gm->outputs[0]);
        mm_name = base ? olive_asprintf("%s_MatMul", base) : NULL;
        mm_out = base ? olive_asprintf("%s_matmul_out", base) : NULL;
        add_name = base ? olive_asprintf("%s_Add", base) : NULL;
        tr_name = base ? olive_asprintf("%s_Transpose", base) : NULL;
        rc = base && a_in && y && mm_name && mm_out && add_name && tr_name &&
                     (c_in || gm->n_inputs <= 2 || !gm->inputs[2][0])
                 ? OLIVE_OK
                 : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && oir_node_attr_int(gm, "transB", 0)) {
            if ((b = oir_graph_initializer(g, gm->inputs[1])) && b->rank == 2) {
                size_t w = oir_dtype_bits(b->dtype) / 8;
                int64_t dims[2] = {b->dims[1], b->dims[0]};
                uint8_t *tp = w ? olive_malloc((size_t)b->nbytes + 1) : NULL;
                const uint8_t *src = oir_tensor_data(b);
                for (int sfx = 0; rc == OLIVE_OK; sfx++) {
                    free(rhs);
                    rhs = sfx ? olive_asprintf("%s_transposed_%d", b->name, sfx)
                              : olive_asprintf("%s_transposed", b->name);
                    if (!rhs)
                        rc = OLIVE_ENOMEM;
                    else if (oir_graph_initializer_index(g, rhs) < 0 && oir_graph_input_index(g, rhs) < 0 &&
                             oir_graph_output_index(g, rhs) < 0 && !sg_value_type(g, rhs))
                        break;
                }
                if (rc == OLIVE_OK && !w)
                    rc = olive_fail(OLIVE_EUNSUPPORTED, "surgeon 'GemmToMatMulAdd': weight '%s' has type %s", b->name,
                                    oir_dtype_name(b->dtype));
                else if (rc == OLIVE_OK && !tp)
                    rc = OLIVE_ENOMEM;
                for (int64_t r = 0; rc == OLIVE_OK && r < b->dims[0]; r++)
                    for (int64_t c = 0; c < b->dims[1]; c++)
                        memcpy(tp + ((size_t)c * (size_t)b->dims[0] + (size_t)r) * w,
                               src + ((size_t)r * (size_t)b->dims[1] + (size_t)c) * w, w);
                if (rc == OLIVE_OK)
                    rc = sg_add_initializer(g, rhs, b->dtype, 2, dims, tp, b->nbytes);
                free(tp);
            } else {
                int64_t perm[2] = {1, 0};
                oir_node *t;
                rhs = olive_asprintf("%s_transpose_B", base);
                if (!rhs || !(t = sg_add_node(g, "Transpose", "", tr_name, 1, (const char *const *)&gm->inputs[1], 1,
                                              (const char *const *)&rhs)))
                    rc = OLIVE_ENOMEM;
                else
                    rc = oir_node_set_attr_ints(t, "perm", perm, 2);
            }
        } else if (rc == OLIVE_OK) {
            rc = (rhs = olive_strdup(gm->inputs[1])) ? OLIVE_OK : OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK) {
            const char *mi[2] = {a_in, rhs}, *ai[2] = {mm_out, c_in};
            if (!sg_add_node(g, "MatMul", "", mm_name, 2, mi, 1,
                             c_in ? (const char *const *)&mm_out : (const char *const *)&y) ||
                (c_in && !sg_add_node(g, "Add", "", add_name, 2, ai, 1, (const char *const *)&y)))
                rc = OLIVE_ENOMEM;
        }
        gm->mark = 1;
        idx++;
        free(base), free(rhs), free(a_in), free(c_in), free(y), free(mm_name), free(mm_out), free(add_name);
        free(tr_name);
    }
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return OLIVE_OK;
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_gemm[] = {
    SG_SURGEON("MatMulAddToGemm", "Replaces MatMul + Add (2-D weight, 1-D bias) with Gemm", p_none, matmul_add_to_gemm),
    SG_SURGEON("GemmToMatMulAdd", "Replaces Gemm (alpha = beta = 1, no transA) with MatMul (+ Add)", p_none,
               gemm_to_matmul_add),
    SG_END,
};
