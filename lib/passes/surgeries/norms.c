/* Surgeons on normalizations: RMSNorm subgraphs and (Skip)SimplifiedLayerNormalization as
 * LpNormalization (L2) times a weight scaled by sqrt(N), SimplifiedLayerNormalization as
 * elementwise ops, and x / ||x|| as LpNormalization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* The weight times sqrt(N), N its last dimension, in its own type (Olive's numpy arithmetic);
 * an all-ones weight becomes the one-element [sqrt(N)]. Written as `dst` (replacing it when
 * it is the weight's own name). */
static int scale_weight(oir_graph *g, const char *name, const char *dst)
{
    const oir_tensor *w = oir_graph_initializer(g, name);
    uint64_t n, out_n;
    int all_ones = 1;
    size_t es;
    double root;
    uint8_t *buf;
    int64_t one = 1, *dims;
    size_t rank;
    int32_t dt;
    int rc;
    if (!w || oir_tensor_numel(w, &n) != OLIVE_OK || !w->rank)
        return olive_fail(OLIVE_EINVALID, "weight '%s' is not a tensor initializer", name);
    dt = w->dtype;
    if (dt != OIR_FLOAT && dt != OIR_FLOAT16 && dt != OIR_DOUBLE)
        return olive_fail(OLIVE_EUNSUPPORTED, "weight '%s' has type %s (float, float16 or double needed)", name,
                          oir_dtype_name(dt));
    es = oir_dtype_bits(dt) / 8;
    root = sqrt((double)w->dims[w->rank - 1]);
    for (uint64_t i = 0; i < n && all_ones; i++)
        all_ones = sg_decode(w, i) == 1.0;
    out_n = all_ones ? 1 : n;
    if (!(buf = olive_malloc((size_t)(out_n * es) + 1)))
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < out_n; i++) {
        double v = all_ones ? 1.0 : sg_decode(w, i), r;
        if (dt == OIR_DOUBLE)
            r = root * v;
        else if (dt == OIR_FLOAT)
            r = (double)((float)root * (float)v);
        else
            r = (double)(olive_half_to_float(olive_float_to_half((float)root)) * (float)v);
        sg_encode(dt, r, buf + i * es);
    }
    rank = all_ones ? 1 : w->rank;
    dims = all_ones ? &one : olive_memdup(w->dims, w->rank * sizeof *dims);
    rc = dims ? sg_add_initializer(g, dst, dt, rank, dims, buf, out_n * es) : OLIVE_ENOMEM;
    if (!all_ones)
        free(dims);
    free(buf);
    return rc;
}

/* The single consumer node of any output of `n`, or NULL when there are none or several. */
static oir_node *only_consumer(const oir_graph *g, const oir_node *n)
{
    oir_node *found = NULL;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *c = g->nodes[i];
        int reads = 0;
        for (size_t j = 0; j < c->n_inputs && !reads; j++)
            for (size_t k = 0; k < n->n_outputs && !reads; k++)
                reads = n->outputs[k][0] && !strcmp(c->inputs[j], n->outputs[k]);
        if (!reads)
            continue;
        if (found)
            return NULL;
        found = c;
    }
    return found;
}

static int node_reads(const oir_node *n, const char *value)
{
    for (size_t j = 0; j < n->n_inputs; j++)
        if (!strcmp(n->inputs[j], value))
            return 1;
    return 0;
}

static oir_node *add_l2norm(oir_graph *g, const char *name, const char *input, const char *output)
{
    oir_node *n = sg_add_node(g, "LpNormalization", "", name, 1, &input, 1, &output);
    if (n && (oir_node_set_attr_int(n, "axis", -1) != OLIVE_OK || oir_node_set_attr_int(n, "p", 2) != OLIVE_OK))
        return NULL;
    return n;
}

/* Pow -> ReduceMean -> Add -> Sqrt -> Div (-> Mul), the chain ending where a node reads the
 * Pow's input again, then a weight Mul (possibly after a Cast): the chain becomes
 * LpNormalization(axis=-1, p=2) and the weight is scaled by sqrt(N) in place (once). */
static int rmsnorm_to_l2norm(oir_model *m, const sg_args *a)
{
    static const char *const pattern[] = {"Pow", "ReduceMean", "Add", "Sqrt", "Div", "Mul"};
    oir_graph *g = m->graph;
    olive_strbuf done = {0}; /* "\n"-separated names of weights already scaled */
    int rc = OLIVE_OK;
    (void)a;
    olive_strbuf_append(&done, "\n");
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *pw = g->nodes[i], *chain[6], *cur = pw, *child, *mul;
        size_t len = 1;
        char *l2name = NULL, *l2out = NULL, *x = NULL, *weight = NULL, *key = NULL;
        if (pw->mark || strcmp(pw->op_type, "Pow") || !pw->n_inputs)
            continue;
        chain[0] = pw;
        for (size_t k = 1; k < 6; k++) {
            oir_node *c = only_consumer(g, cur);
            if (!c || strcmp(c->op_type, pattern[k]) || c->mark) {
                len = 0;
                break;
            }
            chain[len++] = cur = c;
            if (node_reads(c, pw->inputs[0]))
                break;
        }
        if (len < 5)
            continue;
        child = only_consumer(g, chain[len - 1]);
        if (!child || (strcmp(child->op_type, "Cast") && strcmp(child->op_type, "Mul")))
            continue;
        mul = child;
        if (!strcmp(child->op_type, "Cast") && (!(mul = only_consumer(g, child)) || strcmp(mul->op_type, "Mul")))
            continue;
        for (size_t j = 0; j < mul->n_inputs && !weight; j++)
            if (oir_graph_initializer(g, mul->inputs[j]))
                weight = mul->inputs[j];
        if (!weight)
            continue;
        if (!(key = olive_asprintf("\n%s\n", weight)))
            rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK && !strstr(done.data, key)) {
            char *w = olive_strdup(weight);
            rc = w ? scale_weight(g, w, w) : OLIVE_ENOMEM;
            free(w);
            olive_strbuf_printf(&done, "%s\n", key + 1);
        }
        if (rc == OLIVE_OK) {
            l2name = sg_new_name(pw->name, "Pow", "L2Norm");
            l2out = l2name ? olive_asprintf("%s_output_0", l2name) : NULL;
            x = olive_strdup(pw->inputs[0]);
            rc = l2name && l2out && x ? OLIVE_OK : OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK && !add_l2norm(g, l2name, x, l2out))
            rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            for (size_t j = 0; j < child->n_inputs && rc == OLIVE_OK; j++)
                if (!strcmp(child->inputs[j], chain[len - 1]->outputs[0]))
                    rc = oir_node_set_input(child, j, l2out);
            for (size_t k = 0; k < len; k++)
                chain[k]->mark = 1;
        }
        free(l2name), free(l2out), free(x), free(key);
    }
    olive_strbuf_free(&done);
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return sg_dag_update(g);
}

static int is_sln(const oir_node *n, int *skip)
{
    *skip = !strcmp(n->op_type, "SkipSimplifiedLayerNormalization");
    return *skip || !strcmp(n->op_type, "SimplifiedLayerNormalization");
}

/* Non-empty inputs / outputs of a node, as Olive's graph view lists them. */
static size_t listed(char **v, size_t n, const char **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i][0])
            out[k++] = v[i];
    return k;
}

/* (Skip)SimplifiedLayerNormalization -> [Add ->] Pow(2) -> ReduceMean(-1) -> Add(1e-6, Olive's
 * fixed epsilon) -> Sqrt -> Div -> Mul(gamma). */
static int sln_to_rmsnorm(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    int64_t opset = oir_model_opset(m, "");
    int axes_input = (opset < 0 ? 13 : opset) >= 18, rc = OLIVE_OK;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        const char *ins[3], *outs[4];
        size_t ni, no;
        int skip;
        char *nm[7] = {0}, *out[7] = {0}, *pc = NULL, *axes = NULL, *ec = NULL, *nin[3] = {0}, *nout[2] = {0};
        static const char *const parts[7] = {"Add", "Pow", "ReduceMean", "AddEps", "Sqrt", "Div", "Mul"};
        int32_t dt;
        oir_node *made;
        if (n->mark || !is_sln(n, &skip))
            continue;
        ni = listed(n->inputs, n->n_inputs, ins);
        no = listed(n->outputs, n->n_outputs, outs);
        if (ni != (skip ? 3u : 2u) || !no)
            continue;
        dt = sg_value_dtype(g, ins[0]);
        if (!dt)
            dt = OIR_FLOAT;
        for (int k = 0; k < 7 && rc == OLIVE_OK; k++) {
            nm[k] = sg_new_name(n->name, n->op_type, parts[k]);
            out[k] = nm[k] ? olive_asprintf("%s_out", nm[k]) : NULL;
            if (!nm[k] || !out[k])
                rc = OLIVE_ENOMEM;
        }
        for (size_t k = 0; k < ni && rc == OLIVE_OK; k++)
            if (!(nin[k] = olive_strdup(ins[k])))
                rc = OLIVE_ENOMEM;
        for (size_t k = 0; k < no && k < 2 && rc == OLIVE_OK; k++)
            if (!(nout[k] = olive_strdup(outs[k])))
                rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            pc = olive_asprintf("%s_const", nm[1]);
            axes = olive_asprintf("%s_axes", nm[2]);
            ec = olive_asprintf("%s_const", nm[3]);
            rc = pc && axes && ec ? OLIVE_OK : OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK) {
            const char *x = skip ? out[0] : nin[0], *gamma = nin[skip ? 2 : 1];
            const char *add_in[2] = {nin[0], nin[1]}, *pow_in[2] = {x, pc}, *mean_in[2] = {out[1], axes};
            const char *eps_in[2] = {out[2], ec}, *div_in[2] = {x, out[4]}, *mul_in[2] = {out[5], gamma};
            int64_t minus1 = -1;
            if (skip && !sg_add_node(g, "Add", "", nm[0], 2, add_in, 1, (const char *const *)&out[0]))
                rc = OLIVE_ENOMEM;
            if (rc == OLIVE_OK)
                rc = sg_add_scalar(g, pc, dt, 1, 2.0);
            if (rc == OLIVE_OK && !sg_add_node(g, "Pow", "", nm[1], 2, pow_in, 1, (const char *const *)&out[1]))
                rc = OLIVE_ENOMEM;
            if (rc == OLIVE_OK && axes_input)
                rc = sg_add_int64s(g, axes, &minus1, 1);
            if (rc == OLIVE_OK) {
                made = sg_add_node(g, "ReduceMean", "", nm[2], axes_input ? 2 : 1, mean_in, 1,
                                   (const char *const *)&out[2]);
                if (!made)
                    rc = OLIVE_ENOMEM;
                else if (!axes_input)
                    rc = oir_node_set_attr_ints(made, "axes", &minus1, 1);
                if (rc == OLIVE_OK && made)
                    rc = oir_node_set_attr_int(made, "keepdims", 1);
            }
            if (rc == OLIVE_OK)
                rc = sg_add_scalar(g, ec, dt, 1, 1e-6);
            if (rc == OLIVE_OK &&
                (!sg_add_node(g, "Add", "", nm[3], 2, eps_in, 1, (const char *const *)&out[3]) ||
                 !sg_add_node(g, "Sqrt", "", nm[4], 1, (const char *const *)&out[3], 1, (const char *const *)&out[4]) ||
                 !sg_add_node(g, "Div", "", nm[5], 2, div_in, 1, (const char *const *)&out[5]) ||
                 !sg_add_node(g, "Mul", "", nm[6], 2, mul_in, 1, (const char *const *)&out[6])))
                rc = OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK) {
            n->mark = 1;
            rc = sg_replace_input(g, nout[0], out[6]);
            if (rc == OLIVE_OK && oir_graph_output_index(g, nout[0]) >= 0)
                rc = oir_graph_rename_value(g, out[6], nout[0]);
            if (rc == OLIVE_OK && skip && no == 2 && nout[1]) {
                rc = sg_replace_input(g, nout[1], out[0]);
                if (rc == OLIVE_OK && oir_graph_output_index(g, nout[1]) >= 0)
                    rc = oir_graph_rename_value(g, out[0], nout[1]);
            }
        }
        for (int k = 0; k < 7; k++)
            free(nm[k]), free(out[k]);
        for (int k = 0; k < 3; k++)
            free(nin[k]);
        free(nout[0]), free(nout[1]), free(pc), free(axes), free(ec);
    }
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return sg_dag_update(g);
}

/* Which op types SimplifiedLayerNormToL2Norm converts ("op_types", all when absent). */
static int wanted_op(const sg_args *a, const char *op)
{
    size_t n = sg_list_len(a, "op_types");
    if (!n)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sg_list_string(a, "op_types", i), op))
            return 1;
    return 0;
}

/* (Skip)SimplifiedLayerNormalization and RMSNormalization (last axis) -> [Add ->]
 * LpNormalization(axis=-1, p=2) -> Mul(weight * sqrt(N)). The weight is scaled in place, once,
 * when every node reading it is converted; otherwise into "<weight>_l2norm_scaled". */
static int sln_to_l2norm(oir_model *m, const sg_args *a)
{
    static const char *const supported[] = {"SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization",
                                            "RMSNormalization"};
    oir_graph *g = m->graph;
    olive_strbuf done = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < sg_list_len(a, "op_types"); i++) {
        const char *op = sg_list_string(a, "op_types", i);
        if (strcmp(op, supported[0]) && strcmp(op, supported[1]) && strcmp(op, supported[2]))
            return sg_fail(a, "op_types", "cannot convert '%s'; supported: %s, %s, %s", op, supported[0], supported[1],
                           supported[2]);
    }
    olive_strbuf_append(&done, "\n");
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        const char *ins[3], *outs[4];
        size_t ni, no;
        int skip, rms = !strcmp(n->op_type, "RMSNormalization");
        char *add = NULL, *add_out = NULL, *l2 = NULL, *l2_out = NULL, *mul = NULL, *mul_out = NULL, *w = NULL;
        char *scaled = NULL, *x = NULL, *o0 = NULL, *o1 = NULL, *key = NULL;
        if (n->mark || (!is_sln(n, &skip) && !rms) || !wanted_op(a, n->op_type))
            continue;
        if (rms) {
            int64_t axis = oir_node_attr_int(n, "axis", -1), dims[8];
            size_t rank;
            if (axis != -1 && !(sg_value_shape(g, n->inputs[0], dims, 8, &rank) && axis == (int64_t)rank - 1))
                continue;
        }
        ni = listed(n->inputs, n->n_inputs, ins);
        no = listed(n->outputs, n->n_outputs, outs);
        if (ni != (skip ? 3u : 2u) || !no || no > (skip ? 2u : 1u) || !oir_graph_initializer(g, ins[ni - 1]))
            continue;
        add = sg_new_name(n->name, n->op_type, "Add");
        add_out = add ? olive_asprintf("%s_output_0", add) : NULL;
        l2 = sg_new_name(n->name, n->op_type, "L2Norm");
        l2_out = l2 ? olive_asprintf("%s_output_0", l2) : NULL;
        mul = sg_new_name(n->name, n->op_type, "Mul");
        mul_out = mul ? olive_asprintf("%s_output_0", mul) : NULL;
        w = olive_strdup(ins[ni - 1]);
        x = olive_strdup(ins[0]);
        o0 = olive_strdup(outs[0]);
        o1 = no == 2 ? olive_strdup(outs[1]) : NULL;
        key = w ? olive_asprintf("\n%s\n", w) : NULL;
        rc = add && add_out && l2 && l2_out && mul && mul_out && w && x && o0 && (o1 || no < 2) && key ? OLIVE_OK
                                                                                                       : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && skip) {
            const char *add_in[2] = {ins[0], ins[1]};
            if (!sg_add_node(g, "Add", "", add, 2, add_in, 1, (const char *const *)&add_out))
                rc = OLIVE_ENOMEM;
            else if (o1) {
                rc = sg_replace_input(g, o1, add_out);
                if (rc == OLIVE_OK && oir_graph_output_index(g, o1) >= 0)
                    rc = oir_graph_rename_value(g, add_out, o1), free(add_out), add_out = olive_strdup(o1);
            }
        }
        if (rc == OLIVE_OK && !add_l2norm(g, l2, skip ? add_out : x, l2_out))
            rc = OLIVE_ENOMEM;
        /* Scale the weight: in place when only nodes being converted read it. */
        if (rc == OLIVE_OK) {
            const char *hit = strstr(done.data, key);
            int shared = 0;
            for (size_t k = 0; k < g->n_nodes && !shared; k++) {
                oir_node *c = g->nodes[k];
                int conv;
                is_sln(c, &conv);
                conv = (is_sln(c, &conv) || !strcmp(c->op_type, "RMSNormalization")) && wanted_op(a, c->op_type);
                shared = node_reads(c, w) && !conv;
            }
            if (hit) {
                /* Already scaled: the entry after the key names the scaled initializer. */
                const char *nl = strchr(hit + strlen(key), '\n');
                scaled = nl ? olive_strndup(hit + strlen(key), (size_t)(nl - hit - strlen(key))) : NULL;
                rc = scaled ? OLIVE_OK : OLIVE_ENOMEM;
            } else {
                scaled = shared ? olive_asprintf("%s_l2norm_scaled", w) : olive_strdup(w);
                rc = scaled ? scale_weight(g, w, scaled) : OLIVE_ENOMEM;
                if (rc == OLIVE_OK)
                    olive_strbuf_printf(&done, "%s%s\n", key + 1, scaled);
            }
        }
        if (rc == OLIVE_OK) {
            const char *mul_in[2] = {l2_out, scaled};
            if (!sg_add_node(g, "Mul", "", mul, 2, mul_in, 1, (const char *const *)&mul_out))
                rc = OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK) {
            n->mark = 1;
            rc = sg_replace_input(g, o0, mul_out);
            if (rc == OLIVE_OK && oir_graph_output_index(g, o0) >= 0)
                rc = oir_graph_rename_value(g, mul_out, o0);
        }
        free(add), free(add_out), free(l2), free(l2_out), free(mul), free(mul_out), free(w), free(scaled);
        free(x), free(o0), free(o1), free(key);
    }
    olive_strbuf_free(&done);
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    return sg_dag_update(g);
}

static int const_exponent(const oir_graph *g, const oir_node *pw, double v)
{
    const oir_tensor *t = pw->n_inputs > 1 ? oir_graph_initializer(g, pw->inputs[1]) : NULL;
    uint64_t n;
    return t && oir_tensor_numel(t, &n) == OLIVE_OK && n == 1 && sg_decode(t, 0) == v;
}

/* Div(x, Pow(ReduceSum(Pow(x, 2)), 0.5)) -> LpNormalization(x, p=2, axis=-1) "<div>_lp_norm"
 * writing the Div's output; the exponents must be initializers. */
static int pow_reduce_sum_to_lpnorm(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *div = g->nodes[i], *half, *sum, *sq;
        char *name, *x, *y;
        oir_node *lp;
        if (div->mark || strcmp(div->op_type, "Div") || div->n_inputs < 2)
            continue;
        if (!(half = sg_node_named(g, div->inputs[1], 1)) || strcmp(half->op_type, "Pow") || !half->n_inputs ||
            !(sum = sg_node_named(g, half->inputs[0], 1)) || strcmp(sum->op_type, "ReduceSum") || !sum->n_inputs ||
            !(sq = sg_node_named(g, sum->inputs[0], 1)) || strcmp(sq->op_type, "Pow") || !sq->n_inputs)
            continue;
        if (!const_exponent(g, sq, 2.0) || !const_exponent(g, half, 0.5) || strcmp(div->inputs[0], sq->inputs[0]))
            continue;
        name = olive_asprintf("%s_lp_norm", div->name);
        x = olive_strdup(sq->inputs[0]);
        y = olive_strdup(div->outputs[0]);
        div->mark = half->mark = sum->mark = sq->mark = 1;
        lp = name && x && y ? add_l2norm(g, name, x, y) : NULL;
        free(name), free(x), free(y);
        if (!lp)
            return OLIVE_ENOMEM;
    }
    oir_graph_remove_marked_nodes(g);
    return sg_dag_update(g);
}

static const sg_param p_none[] = {{NULL, 0, 0}};
static const sg_param p_op_types[] = {{"op_types", SG_STRINGS, 0}, {NULL, 0, 0}};

const sg_surgeon sg_family_norms[] = {
    SG_SURGEON("RMSNormToL2Norm", "Replaces Pow-ReduceMean-Add-Sqrt-Div RMSNorm chains with LpNormalization", p_none,
               rmsnorm_to_l2norm),
    SG_SURGEON("SimplifiedLayerNormToRMSNorm", "Replaces (Skip)SimplifiedLayerNormalization with elementwise RMSNorm",
               p_none, sln_to_rmsnorm),
    SG_SURGEON("SimplifiedLayerNormToL2Norm",
               "Replaces (Skip)SimplifiedLayerNormalization / RMSNormalization with LpNormalization and Mul",
               p_op_types, sln_to_l2norm),
    SG_SURGEON("PowReduceSumPowDiv2LpNorm", "Replaces x / sqrt(ReduceSum(x^2)) with LpNormalization", p_none,
               pow_reduce_sum_to_lpnorm),
    SG_END,
};
