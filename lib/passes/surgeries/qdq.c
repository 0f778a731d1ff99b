/* Surgeons on quantization nodes: QuantizeLinear/DequantizeLinear pairs removed or turned into
 * Clip, constant DequantizeLinear folded, sorted g_idx dropped from MatMulNBits. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

static int is_op(const oir_node *n, const char *op)
{
    return !strcmp(n->op_type, op) && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

/* A DequantizeLinear reading `value` (the last one in node order, as Olive's map keeps). */
static oir_node *dq_reading(const oir_graph *g, const char *value)
{
    oir_node *found = NULL;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (is_op(g->nodes[i], "DequantizeLinear") && g->nodes[i]->n_inputs && !strcmp(g->nodes[i]->inputs[0], value))
            found = g->nodes[i];
    return found;
}

/* Olive's clip range of a DequantizeLinear: [(0 - zp) * scale, (max - zp) * scale] in float32,
 * max 65535 for a uint16 zero point and 255 otherwise; written as [1]-shaped initializers
 * "<dq>_clip_min" / "<dq>_clip_max". */
static int add_clip(oir_graph *g, const sg_args *a, const oir_node *dq, const char *input, const char *output)
{
    const oir_tensor *scale = dq->n_inputs > 1 ? oir_graph_initializer(g, dq->inputs[1]) : NULL;
    const oir_tensor *zp = dq->n_inputs > 2 ? oir_graph_initializer(g, dq->inputs[2]) : NULL;
    double s, z, top;
    float lo, hi;
    int64_t one = 1;
    char *mn, *mx, *name;
    int rc;
    if (!scale || !zp || !scale->nbytes || !zp->nbytes)
        return sg_fail(a, NULL, "DequantizeLinear node '%s' must read its scale and zero point from initializers",
                       dq->name);
    s = sg_decode(scale, 0);
    z = (double)(int32_t)sg_decode(zp, 0);
    top = zp->dtype == OIR_UINT16 ? 65535 : 255;
    lo = (float)((0 - z) * (float)s);
    hi = (float)((top - z) * (float)s);
    mn = olive_asprintf("%s_clip_min", dq->name);
    mx = olive_asprintf("%s_clip_max", dq->name);
    name = olive_asprintf("%s_clip", dq->name);
    rc = mn && mx && name ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = sg_add_initializer(g, mn, OIR_FLOAT, 1, &one, &lo, 4);
    if (rc == OLIVE_OK)
        rc = sg_add_initializer(g, mx, OIR_FLOAT, 1, &one, &hi, 4);
    if (rc == OLIVE_OK) {
        const char *ins[3] = {input, mn, mx};
        if (!sg_add_node(g, "Clip", "", name, 3, ins, 1, &output))
            rc = OLIVE_ENOMEM;
    }
    free(mn), free(mx), free(name);
    return rc;
}

/* Pairs Q -> DQ (the Q's single output read by a DQ). Marks both nodes; returns the count. */
static size_t mark_pairs(oir_graph *g, oir_node ***qs, oir_node ***dqs)
{
    size_t n = 0;
    *qs = olive_calloc(g->n_nodes + 1, sizeof **qs);
    *dqs = olive_calloc(g->n_nodes + 1, sizeof **dqs);
    if (!*qs || !*dqs)
        return (size_t)-1;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *q = g->nodes[i], *dq;
        if (!is_op(q, "QuantizeLinear") || q->n_outputs != 1 || !q->outputs[0][0] || !q->n_inputs)
            continue;
        if (!(dq = dq_reading(g, q->outputs[0])) || dq->mark)
            continue;
        (*qs)[n] = q;
        (*dqs)[n] = dq;
        n++;
    }
    return n;
}

/* RemoveQDQ: readers of a pair's DQ output read the Q's input (through chains of pairs); a
 * pair whose DQ output is a graph output makes the Q's input producer write that output. With
 * keep_clip_after_inputs, a pair on a graph input becomes a Clip of the quantized range. */
static int remove_qdq(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    oir_node **qs, **dqs;
    size_t n = mark_pairs(g, &qs, &dqs), n_clip = 0;
    int keep_clip = sg_bool(a, "keep_clip_after_inputs", 0), rc = OLIVE_OK;
    char **from = NULL, **to = NULL, **clip_in = NULL, **clip_out = NULL;
    oir_node **clip_dq = NULL;
    size_t nb = 0;
    if (n == (size_t)-1) {
        free(qs), free(dqs);
        return OLIVE_ENOMEM;
    }
    from = olive_calloc(n + 1, sizeof *from);
    to = olive_calloc(n + 1, sizeof *to);
    clip_in = olive_calloc(n + 1, sizeof *clip_in);
    clip_out = olive_calloc(n + 1, sizeof *clip_out);
    clip_dq = olive_calloc(n + 1, sizeof *clip_dq);
    if (!from || !to || !clip_in || !clip_out || !clip_dq)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++) {
        if (keep_clip && oir_graph_input_index(g, qs[i]->inputs[0]) >= 0) {
            clip_dq[n_clip] = oir_node_clone(dqs[i]);
            clip_in[n_clip] = olive_strdup(qs[i]->inputs[0]);
            clip_out[n_clip] = olive_strdup(dqs[i]->outputs[0]);
            if (!clip_dq[n_clip] || !clip_in[n_clip] || !clip_out[n_clip])
                rc = OLIVE_ENOMEM;
            n_clip++;
        } else {
            from[nb] = olive_strdup(dqs[i]->outputs[0]);
            to[nb] = olive_strdup(qs[i]->inputs[0]);
            if (!from[nb] || !to[nb])
                rc = OLIVE_ENOMEM;
            nb++;
        }
        qs[i]->mark = dqs[i]->mark = 1;
    }
    if (rc == OLIVE_OK)
        oir_graph_remove_marked_nodes(g);
    for (size_t i = 0; rc == OLIVE_OK && i < n_clip; i++)
        rc = add_clip(g, a, clip_dq[i], clip_in[i], clip_out[i]);
    /* Readers follow chains Q -> DQ -> Q -> DQ back to the first input. */
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *node = g->nodes[i];
        for (size_t j = 0; rc == OLIVE_OK && j < node->n_inputs; j++) {
            const char *v = node->inputs[j];
            int hops = 0, moved = 0;
            for (size_t k = 0; k < nb && hops <= 5; k++)
                if (!strcmp(v, from[k])) {
                    v = to[k];
                    k = (size_t)-1;
                    hops++;
                    moved = 1;
                }
            if (hops > 5)
                rc = sg_fail(a, NULL, "more than 5 QuantizeLinear/DequantizeLinear pairs follow one another at '%s'",
                             node->inputs[j]);
            else if (moved)
                rc = oir_node_set_input(node, j, v);
        }
    }
    /* A pair that wrote a graph output: the value at the start of its chain takes the output's
     * name (Olive renames only a direct producer's output, which leaves chains unconnected). */
    for (size_t k = 0; rc == OLIVE_OK && k < nb; k++) {
        const char *root = to[k];
        int hops = 0;
        if (oir_graph_output_index(g, from[k]) < 0 || sg_producer(g, from[k]))
            continue;
        for (size_t j = 0; j < nb && hops <= 5; j++)
            if (!strcmp(root, from[j])) {
                root = to[j];
                j = (size_t)-1;
                hops++;
            }
        if (!sg_producer(g, root) || oir_graph_output_index(g, root) >= 0)
            rc = sg_fail(a, NULL, "graph output '%s' would be the graph input or output '%s' itself", from[k], root);
        else
            rc = oir_graph_rename_value(g, root, from[k]);
    }
    for (size_t i = 0; i < n; i++) {
        free(from ? from[i] : NULL), free(to ? to[i] : NULL);
        free(clip_in ? clip_in[i] : NULL), free(clip_out ? clip_out[i] : NULL);
        oir_node_free(clip_dq ? clip_dq[i] : NULL);
    }
    free(qs), free(dqs), free(from), free(to), free(clip_in), free(clip_out), free(clip_dq);
    return rc;
}

/* QDQToClip: every Q -> DQ pair becomes a Clip of the quantized range, writing the DQ's output. */
static int qdq_to_clip(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    oir_node **qs, **dqs, **dq_copy;
    char **ins;
    size_t n = mark_pairs(g, &qs, &dqs);
    int rc = OLIVE_OK;
    if (n == (size_t)-1) {
        free(qs), free(dqs);
        return OLIVE_ENOMEM;
    }
    dq_copy = olive_calloc(n + 1, sizeof *dq_copy);
    ins = olive_calloc(n + 1, sizeof *ins);
    if (!dq_copy || !ins)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++) {
        if (dqs[i]->n_inputs != 3)
            rc = sg_fail(a, NULL, "DequantizeLinear node '%s' must have 3 inputs", dqs[i]->name);
        else if (!(dq_copy[i] = oir_node_clone(dqs[i])) || !(ins[i] = olive_strdup(qs[i]->inputs[0])))
            rc = OLIVE_ENOMEM;
        qs[i]->mark = dqs[i]->mark = 1;
    }
    if (rc == OLIVE_OK)
        oir_graph_remove_marked_nodes(g);
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++)
        rc = add_clip(g, a, dq_copy[i], ins[i], dq_copy[i]->outputs[0]);
    for (size_t i = 0; i < n; i++) {
        oir_node_free(dq_copy ? dq_copy[i] : NULL);
        free(ins ? ins[i] : NULL);
    }
    free(qs), free(dqs), free(dq_copy), free(ins);
    return rc;
}

/* RemoveDeqLin: a DequantizeLinear of a constant becomes a float32 initializer with the
 * quantized tensor's name, (x - zp) * scale element by element (per-tensor scale and zero
 * point); its readers read it. Scale and zero point go when nothing else reads them. */
static int remove_deqlin(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *dq = g->nodes[i];
        const oir_tensor *x, *s, *z;
        uint64_t n, ns, nz;
        float *out;
        char *xname, *sname, *zname, *oname;
        int rc;
        if (!is_op(dq, "DequantizeLinear") || !dq->n_inputs || !(x = oir_graph_initializer(g, dq->inputs[0])))
            continue;
        s = dq->n_inputs > 1 ? oir_graph_initializer(g, dq->inputs[1]) : NULL;
        z = dq->n_inputs > 2 ? oir_graph_initializer(g, dq->inputs[2]) : NULL;
        if (!s || !z)
            return sg_fail(a, NULL, "DequantizeLinear node '%s' must read x, scale and zero point from initializers",
                           dq->name);
        if (oir_tensor_numel(x, &n) != OLIVE_OK || oir_tensor_numel(s, &ns) != OLIVE_OK ||
            oir_tensor_numel(z, &nz) != OLIVE_OK || (ns != 1 && ns != n) || (nz != 1 && nz != n) ||
            !oir_dtype_bits(x->dtype) || oir_dtype_bits(x->dtype) < 8)
            return sg_fail(a, NULL,
                           "DequantizeLinear node '%s': only per-tensor (or elementwise) scale and zero "
                           "point of 8-bit or wider types are supported",
                           dq->name);
        if (!(out = olive_malloc((size_t)n * 4 + 4)))
            return OLIVE_ENOMEM;
        for (uint64_t k = 0; k < n; k++)
            out[k] = (float)(((double)((int32_t)sg_decode(x, k) - (int32_t)sg_decode(z, nz == 1 ? 0 : k))) *
                             (float)sg_decode(s, ns == 1 ? 0 : k));
        xname = olive_strdup(x->name);
        sname = olive_strdup(s->name);
        zname = olive_strdup(z->name);
        oname = olive_strdup(dq->outputs[0]);
        rc = xname && sname && zname && oname ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = sg_add_initializer(g, xname, OIR_FLOAT, x->rank, x->dims, out, n * 4);
        free(out);
        if (rc == OLIVE_OK) {
            oir_graph_remove_node(g, i);
            i--;
            rc = sg_replace_input(g, oname, xname);
        }
        for (int k = 0; rc == OLIVE_OK && k < 2; k++) {
            const char *nm = k ? zname : sname;
            long at = oir_graph_initializer_index(g, nm);
            if (strcmp(nm, xname) && at >= 0 && !sg_use_count(g, nm) && oir_graph_output_index(g, nm) < 0)
                oir_graph_remove_initializer(g, (size_t)at);
        }
        free(xname), free(sname), free(zname), free(oname);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* RemoveGidxFromMatMulNBits: a node input whose name ends in "g_idx" and that is a sorted
 * (non-decreasing) initializer is dropped from the node, and the initializer goes. */
static int remove_gidx(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *node = g->nodes[i];
        const oir_tensor *t = NULL;
        char *name;
        uint64_t n;
        int sorted = 1;
        size_t kept = 0;
        long at;
        for (size_t j = 0; j < node->n_inputs && !t; j++) {
            size_t len = strlen(node->inputs[j]);
            if (len >= 5 && !strcmp(node->inputs[j] + len - 5, "g_idx"))
                t = oir_graph_initializer(g, node->inputs[j]);
            if (len >= 5 && !strcmp(node->inputs[j] + len - 5, "g_idx") && !t)
                break; /* Olive looks only at the first such input */
        }
        if (!t || oir_tensor_numel(t, &n) != OLIVE_OK)
            continue;
        for (uint64_t k = 1; k < n && sorted; k++)
            sorted = sg_decode(t, k) >= sg_decode(t, k - 1);
        if (!sorted)
            continue;
        if (!(name = olive_strdup(t->name)))
            return OLIVE_ENOMEM;
        for (size_t j = 0; j < node->n_inputs; j++) {
            size_t len = strlen(node->inputs[j]);
            if (len >= 5 && !strcmp(node->inputs[j] + len - 5, "g_idx"))
                free(node->inputs[j]);
            else
                node->inputs[kept++] = node->inputs[j];
        }
        node->n_inputs = kept;
        if ((at = oir_graph_initializer_index(g, name)) >= 0 && !sg_use_count(g, name) &&
            oir_graph_output_index(g, name) < 0)
            oir_graph_remove_initializer(g, (size_t)at);
        free(name);
    }
    return OLIVE_OK;
}

static const sg_param p_none[] = {{NULL, 0, 0}};
static const sg_param p_keep_clip[] = {{"keep_clip_after_inputs", SG_BOOL, 0}, {NULL, 0, 0}};

const sg_surgeon sg_family_qdq[] = {
    SG_SURGEON("RemoveQDQ", "Removes QuantizeLinear -> DequantizeLinear pairs (optionally a Clip after graph inputs)",
               p_keep_clip, remove_qdq),
    SG_SURGEON("QDQToClip", "Replaces QuantizeLinear -> DequantizeLinear pairs with Clip of the quantized range",
               p_none, qdq_to_clip),
    SG_SURGEON("RemoveDeqLin", "Folds DequantizeLinear of constants into float32 initializers", p_none, remove_deqlin),
    SG_SURGEON("RemoveGidxFromMatMulNBits", "Drops sorted g_idx inputs (identity permutations) from MatMulNBits",
               p_none, remove_gidx),
    SG_END,
};
