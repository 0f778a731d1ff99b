/* The quantize pass: every MatMul whose B is a constant 2-D float or float16 initializer
 * becomes a com.microsoft MatMulNBits with B quantized block-wise along K (blockwise.h).
 *
 * MatMulNBits inputs: A, B as uint8 [N, k_blocks, block_size * bits / 8], scales [N, k_blocks]
 * in the weight's type, and for asymmetric quantization zero points as uint8
 * [N, ceil(k_blocks * bits / 8)]; attributes K, N, bits, block_size and accuracy_level (only
 * when non-zero, as ONNX Runtime writes it). Quantized tensors are built one weight at a time
 * in new heap blobs (quantize_weight.h); a mapped weight has its pages dropped once read.
 * A weight that another node also reads stays for that node. A weight holding inf or NaN is
 * an error naming it. MatMuls that cannot be quantized (B computed, a graph input, not 2-D,
 * not float/float16, or read from an outer graph) stay, with an info log line.
 *
 * algorithm=hqq writes what ONNX Runtime's HQQ quantizer writes: 4 bits, scales and float
 * zero points 1-D [N * k_blocks] in the weight's type. algorithm=k_quant always writes zero
 * points (as its reference does) and the RTN names. customized_weight_config sets bits and
 * block size per node (node_overrides.h). Gather tables and tied embeddings
 * (quantize_embeddings) are handled in quantize_gather.c, quant_format=QDQ (DequantizeLinear
 * feeding the MatMul) in quantize_qdq.c, layout=olive (what Olive's
 * OnnxBlockWiseRtnQuantization writes: its names, 1-D scales, renamed outputs) here and in
 * quantize_olive.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "kernels/blockwise.h"
#include "passes/quant/quantize.h"
#include "passes/quant/quantize_internal.h"
#include "passes/quant/quantize_weight.h"


static int list_is_empty(const char *v)
{
    for (; v && *v; v++)
        if (*v != ' ' && *v != ',')
            return 0;
    return 1;
}

static int selected(const quant_run *r, const oir_node *n)
{
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return 0;
    if (r->any_op_type ? strcmp(n->op_type, "MatMul")
                       : !olive_args_list_has(r->args, "op_types_to_quantize", n->op_type))
        if (!(r->gather_on && !strcmp(n->op_type, "Gather")))
            return 0;
    if (n->name[0] && olive_args_list_has(r->args, "nodes_to_exclude", n->name))
        return 0;
    return r->include_all || olive_args_list_has(r->args, "nodes_to_include", n->name);
}

static int count_graph(oir_graph *g, int depth, void *user)
{
    quant_run *r = user;
    (void)depth;
    for (size_t i = 0; i < g->n_nodes; i++)
        r->total += selected(r, g->nodes[i]);
    return OLIVE_OK;
}

const char *olive_qnode_label(const oir_node *n)
{
    return n->name[0] ? n->name : n->n_outputs ? n->outputs[0] : "(unnamed)";
}

#define label olive_qnode_label

/* The weight B of `n` if it can be quantized, else NULL after an info line saying why. */
static oir_tensor *quantizable_weight(quant_run *r, oir_graph *g, const oir_node *n)
{
    oir_tensor *t;
    uint64_t want;
    if (strcmp(n->op_type, "MatMul")) {
        OLIVE_INFO("quantize: skipping %s '%s': only MatMul is quantized", n->op_type, label(n));
        return NULL;
    }
    if (n->n_inputs != 2 || n->n_outputs != 1 || !n->inputs[0][0] || !n->inputs[1][0]) {
        OLIVE_INFO("quantize: skipping MatMul '%s': it does not have two inputs and one output", label(n));
        return NULL;
    }
    t = olive_qrun_initializer(r, g, n->inputs[1]);
    if (!t && r->gather_on && !r->olive && (t = olive_tied_weight(r, g, n->inputs[1])))
        return t; /* B = Transpose(E) of a constant table: quantized from E (tied embeddings) */
    if (!t || (!r->initializers_need_inputs && oir_graph_input_index(r->owner, n->inputs[1]) >= 0)) {
        OLIVE_INFO("quantize: skipping MatMul '%s': B '%s' is not a constant initializer of its graph", label(n),
                   n->inputs[1]);
        return NULL;
    }
    if (t->dtype != OIR_FLOAT && t->dtype != OIR_FLOAT16) {
        OLIVE_INFO("quantize: skipping MatMul '%s': B '%s' is %s, not float or float16", label(n), t->name,
                   oir_dtype_name(t->dtype));
        return NULL;
    }
    if (t->rank != 2 || t->dims[0] < 1 || t->dims[1] < 1 || t->dims[0] > INT32_MAX || t->dims[1] > INT32_MAX) {
        OLIVE_INFO("quantize: skipping MatMul '%s': B '%s' is not a non-empty 2-D matrix", label(n), t->name);
        return NULL;
    }
    if (!t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes) {
        OLIVE_INFO("quantize: skipping MatMul '%s': B '%s' has no data of the size its shape needs", label(n), t->name);
        return NULL;
    }
    return t;
}

int olive_qrun_add_tensor(const quant_run *r, oir_graph *g, const char *name, int32_t dtype, size_t rank,
                          const int64_t *dims, olive_blob *b)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if ((rc = oir_tensor_set_blob(t, b, 0, b->size)) != OLIVE_OK ||
        (rc = oir_graph_add_initializer(g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    if (r->initializers_need_inputs) {
        oir_type *ty = oir_type_new_tensor(dtype, rank, dims, NULL);
        rc = ty ? oir_graph_add_input(g, name, ty) : olive_fail(OLIVE_ENOMEM, "out of memory");
        oir_type_free(ty);
    }
    return rc;
}

void olive_qweight_clear(quantized_weight *w)
{
    free(w->source);
    free(w->dq_output);
    for (int i = 0; i < 3; i++)
        free(w->names[i]);
}

/* Quantizes `t` (once per graph: MatMuls sharing a weight share its quantized tensors). */
static int quantized_names(quant_run *r, const olive_blockq *p, oir_graph *g, const oir_tensor *t, const oir_node *n,
                           quantized_weight **out)
{
    const int64_t cols = t->dims[1], kb = (t->dims[0] + p->block_size - 1) / p->block_size;
    const olive_blockq pq = {p->algorithm, p->bits, p->block_size, p->symmetric, t->dtype == OIR_FLOAT16};
    quantized_weight w = {0};
    olive_quant_out o;
    char *bases[3];
    const char *tag;
    int rc;
    const int kind = r->tied ? QW_TRANSPOSED : QW_MATMUL;
    if ((*out = olive_qrun_cached(r, t->name, kind)))
        return OLIVE_OK;
    OLIVE_TRY(olive_quantize_weight(&pq, t, label(n), &o));
    /* A transposed table (tied embeddings) is named <table>_T_...: the table's Gather has <table>_... */
    tag = kind == QW_TRANSPOSED ? "_T" : "";
    if (r->olive) {
        bases[0] = olive_asprintf("%s_Q%d", t->name, p->bits);
        bases[1] = olive_asprintf("%s_scales", t->name);
        bases[2] = olive_asprintf("%s_zero_point", t->name);
    } else if (p->algorithm == OLIVE_BLOCKQ_RTN || p->algorithm == OLIVE_BLOCKQ_KQUANT) {
        bases[0] = olive_asprintf("%s%s_Q%dG%d", t->name, tag, p->bits, p->block_size);
        bases[1] = olive_asprintf("%s%s_scale", t->name, tag);
        bases[2] = olive_asprintf("%s%s_zp", t->name, tag);
    } else {
        bases[0] = olive_asprintf("%s%s_Q%d", t->name, tag, p->bits);
        bases[1] = olive_asprintf("%s%s_scales", t->name, tag);
        bases[2] = olive_asprintf("%s%s_zero_points", t->name, tag);
    }
    w.source = olive_strdup(t->name);
    rc = bases[0] && bases[1] && bases[2] && w.source ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int i = 0; i < 3 && rc == OLIVE_OK; i++) {
        if (i == 2 && p->symmetric)
            break;
        if (!(w.names[i] = oir_graph_unique_name(g, bases[i])))
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        else if (i == 0)
            rc = olive_qrun_add_tensor(r, g, w.names[0], OIR_UINT8, 3,
                                       (const int64_t[]){cols, kb, (int64_t)olive_blockq_blob_size(p)}, o.codes);
        else if (p->algorithm == OLIVE_BLOCKQ_HQQ) /* 1-D scales and float zero points */
            rc = olive_qrun_add_tensor(r, g, w.names[i], t->dtype, 1, (const int64_t[]){cols * kb},
                                       i == 1 ? o.scales : o.zps);
        else if (r->olive) /* Olive keeps ONNX Runtime's flat scale and zero-point buffers: 1-D */
            rc = i == 1 ? olive_qrun_add_tensor(r, g, w.names[1], t->dtype, 1, (const int64_t[]){cols * kb}, o.scales)
                        : olive_qrun_add_tensor(r, g, w.names[2], OIR_UINT8, 1,
                                                (const int64_t[]){cols * (int64_t)olive_blockq_zp_bytes(p, (size_t)kb)},
                                                o.zps);
        else if (i == 1)
            rc = olive_qrun_add_tensor(r, g, w.names[1], t->dtype, 2, (const int64_t[]){cols, kb}, o.scales);
        else
            rc = olive_qrun_add_tensor(r, g, w.names[2], OIR_UINT8, 2,
                                       (const int64_t[]){cols, (int64_t)olive_blockq_zp_bytes(p, (size_t)kb)}, o.zps);
    }
    for (int i = 0; i < 3; i++)
        free(bases[i]);
    olive_quant_out_free(&o);
    w.kind = kind;
    if (rc != OLIVE_OK) {
        olive_qweight_clear(&w);
        return rc;
    }
    return olive_qrun_remember(r, &w, out);
}

quantized_weight *olive_qrun_cached(quant_run *r, const char *source, int kind)
{
    for (size_t i = 0; i < r->n_weights; i++)
        if (r->weights[i].kind == kind && r->weights[i].owner == r->owner && !strcmp(r->weights[i].source, source))
            return &r->weights[i];
    return NULL;
}

/* 1 if g defines `name` as a graph input or a node output (hiding outer scopes). */
static int defined_in(const oir_graph *g, const char *name)
{
    if (oir_graph_input_index(g, name) >= 0)
        return 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs; j++)
            if (!strcmp(g->nodes[i]->outputs[j], name))
                return 1;
    return 0;
}

oir_tensor *olive_qrun_initializer(quant_run *r, oir_graph *g, const char *name)
{
    oir_tensor *t = oir_graph_initializer(g, name);
    r->owner = g;
    if (t || !r->olive || !r->n_scopes || defined_in(g, name))
        return t;
    for (size_t s = r->n_scopes; s-- > 0;) {
        if ((t = oir_graph_initializer(r->scopes[s], name))) {
            r->owner = r->scopes[s];
            return t;
        }
        if (defined_in(r->scopes[s], name))
            return NULL;
    }
    return NULL;
}

int olive_qrun_remember(quant_run *r, quantized_weight *w, quantized_weight **out)
{
    w->owner = r->owner;
    quantized_weight *grown = realloc(r->weights, (r->n_weights + 1) * sizeof *grown);
    if (!grown) {
        olive_qweight_clear(w);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    r->weights = grown;
    r->weights[r->n_weights] = *w;
    *out = &r->weights[r->n_weights++];
    return OLIVE_OK;
}

static oir_node *matmulnbits(const quant_run *r, const olive_blockq *p, const oir_node *n, const quantized_weight *w,
                             int64_t k, int64_t cols)
{
    const char *ins[4] = {n->inputs[0], w->names[0], w->names[1], w->names[2]};
    char *name = n->name[0] ? olive_asprintf("%s_Q%d", n->name, p->bits) : olive_strdup("");
    oir_node *q = name ? oir_node_new("MatMulNBits", "com.microsoft", name, w->names[2] ? 4 : 3, ins, 1,
                                      (const char *const *)n->outputs)
                       : NULL;
    free(name);
    if (!q)
        return NULL;
    if (oir_node_set_attr_int(q, "K", k) != OLIVE_OK || oir_node_set_attr_int(q, "N", cols) != OLIVE_OK ||
        oir_node_set_attr_int(q, "bits", p->bits) != OLIVE_OK ||
        oir_node_set_attr_int(q, "block_size", p->block_size) != OLIVE_OK ||
        (r->accuracy_level > 0 && oir_node_set_attr_int(q, "accuracy_level", r->accuracy_level) != OLIVE_OK)) {
        oir_node_free(q);
        return NULL;
    }
    return q;
}

/* Removes the float weights that no node or graph output reads any more. */
static int drop_unused_sources(quant_run *r, oir_graph *g)
{
    oir_graph_index ix;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    for (size_t i = 0; i < r->n_weights; i++) {
        long at = oir_graph_initializer_index(g, r->weights[i].source);
        if (at >= 0 && oir_index_use_count(&ix, r->weights[i].source) == 0) {
            long in = oir_graph_input_index(g, r->weights[i].source);
            oir_graph_remove_initializer(g, (size_t)at);
            if (in >= 0 && r->initializers_need_inputs)
                oir_graph_remove_input(g, (size_t)in);
        }
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}

/* Quantizes node *at of g if it is selected and can be; *at ends on the node that replaced it. */
static int quantize_node(quant_run *r, oir_graph *g, size_t *at)
{
    oir_node *n = g->nodes[*at], *q;
    oir_tensor *t;
    quantized_weight *w;
    int rc = OLIVE_OK;
    if (!selected(r, n))
        return OLIVE_OK;
    if (!strcmp(n->op_type, "Gather")) {
        int replaced = 0;
        OLIVE_TRY(olive_quantize_gather_node(r, g, *at, &replaced));
        r->quantized_gathers += (size_t)replaced;
    } else if ((t = quantizable_weight(r, g, n))) {
        int64_t k = t->dims[0], cols = t->dims[1];
        olive_blockq p = r->q;
        olive_node_overrides_apply(r->overrides, n->name, &p.bits, &p.block_size);
        if (r->qdq)
            rc = olive_quantize_qdq_node(r, &p, g, at, t);
        else
            rc = quantized_names(r, &p, r->owner, t, n, &w);
        if (r->tied) {
            oir_tensor_free(t);
            r->tied = 0;
            r->any_tied = 1;
        }
        if (rc != OLIVE_OK)
            return rc;
        if (r->qdq) {
            r->quantized_qdq++;
        } else {
            if (!(q = matmulnbits(r, &p, n, w, k, cols)))
                return olive_fail(OLIVE_ENOMEM, "out of memory");
            oir_graph_replace_node(g, *at, q);
            r->quantized++;
            if (r->olive)
                OLIVE_TRY(olive_qrun_olive_output(r, g, q, p.bits));
        }
    }
    r->done++;
    return olive_pass_progress(r->ctx, r->total ? (double)r->done / (double)r->total : 1.0);
}

static void forget_weights(quant_run *r)
{
    for (size_t i = 0; i < r->n_weights; i++)
        olive_qweight_clear(&r->weights[i]);
    free(r->weights);
    r->weights = NULL;
    r->n_weights = 0;
}

static int quantize_graph(oir_graph *g, int depth, void *user)
{
    quant_run *r = user;
    int rc = OLIVE_OK;
    (void)depth;
    r->weights = NULL;
    r->n_weights = 0;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        rc = quantize_node(r, g, &i);
    if (rc == OLIVE_OK && r->any_tied)
        rc = olive_drop_unused_transposes(r, g);
    if (rc == OLIVE_OK && r->n_weights)
        rc = drop_unused_sources(r, g);
    forget_weights(r);
    return rc;
}

/* layout=olive walks as Olive does: the graph sorted as onnx_ir sorts it, each node, then the
 * subgraphs of the node it leaves, with the enclosing graphs on r->scopes so that a table read
 * from an outer scope is quantized into that scope, once for the whole model. Float sources
 * are left for quantize_olive.c. */
static int quantize_scope(quant_run *r, oir_graph *g)
{
    int rc = OLIVE_OK;
    if (r->n_scopes == QUANT_MAX_SCOPES)
        return olive_fail(OLIVE_EUNSUPPORTED, "quantize: subgraphs nested more than %d deep", QUANT_MAX_SCOPES);
    OLIVE_TRY(oir_graph_toposort_from_sinks(g)); /* Olive sorts every graph first, as onnx_ir does */
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n;
        if ((rc = quantize_node(r, g, &i)) != OLIVE_OK)
            break;
        n = g->nodes[i];
        r->scopes[r->n_scopes++] = g;
        for (size_t a = 0; a < n->n_attrs && rc == OLIVE_OK; a++) {
            if (n->attrs[a].g)
                rc = quantize_scope(r, n->attrs[a].g);
            for (size_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n && rc == OLIVE_OK; k++)
                rc = quantize_scope(r, n->attrs[a].graphs[k]);
        }
        r->n_scopes--;
    }
    return rc;
}

static int quantize_olive(oir_model *m, quant_run *r)
{
    int rc = m->graph ? quantize_scope(r, m->graph) : OLIVE_OK;
    forget_weights(r);
    return rc;
}

static int parse_algorithm(const char *name)
{
    if (!strcmp(name, "rtn"))
        return OLIVE_BLOCKQ_RTN;
    if (!strcmp(name, "hqq"))
        return OLIVE_BLOCKQ_HQQ;
    if (!strcmp(name, "k_quant"))
        return OLIVE_BLOCKQ_KQUANT;
    return OLIVE_BLOCKQ_DEFAULT;
}

static const char *algorithm_name(int a)
{
    return a == OLIVE_BLOCKQ_RTN      ? "rtn"
           : a == OLIVE_BLOCKQ_HQQ    ? "hqq"
           : a == OLIVE_BLOCKQ_KQUANT ? "k_quant"
                                      : "default";
}

/* Runs the pass with `algorithm`; parameters a pass lacks read as 0, "" or false. */
static int quantize_model(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx, int algorithm)
{
    quant_run r;
    int64_t bits = olive_args_int(args, "bits"), bs = olive_args_int(args, "block_size");
    int rc;
    memset(&r, 0, sizeof r);
    if (algorithm == OLIVE_BLOCKQ_HQQ) {
        if (olive_param_find(args->def, "bits") && bits != 4)
            return olive_fail(OLIVE_EINVALID, "bits=%" PRId64 ": algorithm=hqq writes 4-bit MatMulNBits only", bits);
        bits = 4;
        if (olive_args_int(args, "axis") != 0)
            return olive_fail(OLIVE_EINVALID, "axis=%" PRId64 ": HQQ quantizes MatMul weights along K (axis 0) only",
                              olive_args_int(args, "axis"));
    }
    if (bits != 4 && bits != 8)
        return olive_fail(OLIVE_EINVALID, "bits=%" PRId64 ": MatMulNBits takes 4 or 8", bits);
    if (bs < 16 || bs > 256 || (bs & (bs - 1)))
        return olive_fail(OLIVE_EINVALID, "block_size=%" PRId64 ": expected 16, 32, 64, 128 or 256", bs);
    r.q.bits = (int)bits;
    r.q.block_size = (int)bs;
    r.q.algorithm = algorithm;
    /* hqq and k_quant always write zero points, whatever is_symmetric says. */
    r.q.symmetric = algorithm != OLIVE_BLOCKQ_HQQ && algorithm != OLIVE_BLOCKQ_KQUANT &&
                    olive_args_bool(args, "is_symmetric");
    r.accuracy_level = olive_args_int(args, "accuracy_level");
    r.args = args;
    r.include_all = list_is_empty(olive_args_string(args, "nodes_to_include"));
    r.any_op_type = !olive_param_find(args->def, "op_types_to_quantize");
    r.gather_on = olive_args_bool(args, "quantize_embeddings") ||
                  olive_args_list_has(args, "op_types_to_quantize", "Gather");
    r.gather_axis = olive_param_find(args->def, "gather_quantize_axis") ? olive_args_int(args, "gather_quantize_axis")
                                                                        : 1;
    r.initializers_need_inputs = m->ir_version > 0 && m->ir_version < 4;
    r.qdq = !strcmp(olive_args_string(args, "quant_format"), "QDQ");
    r.olive = !strcmp(olive_args_string(args, "layout"), "olive");
    if (r.qdq && (algorithm != OLIVE_BLOCKQ_DEFAULT || bits != 4))
        return olive_fail(OLIVE_EINVALID,
                          "quant_format=QDQ: DequantizeLinear blocks are written for algorithm=default with bits=4 "
                          "(as ONNX Runtime writes them), not algorithm=%s bits=%" PRId64,
                          algorithm_name(algorithm), bits);
    r.ctx = ctx;
    /* Measured with ONNX Runtime 1.32: its CPU kernel takes 8-bit blocks through a float path
     * 100-300x slower than the int8 compute accuracy_level 4 selects. */
    if (bits == 8 && r.accuracy_level == 0 && !r.qdq)
        OLIVE_WARN("quantize: bits=8 with accuracy_level=0: ONNX Runtime's CPU provider runs these MatMulNBits far "
                   "slower (about 100x) than with accuracy_level=4 (int8 compute); set it unless the target is a GPU");
    OLIVE_TRY(olive_node_overrides_parse(olive_args_string(args, "customized_weight_config"), &r.overrides));
    if (r.overrides && algorithm == OLIVE_BLOCKQ_HQQ) {
        olive_node_overrides_free(r.overrides);
        return olive_fail(OLIVE_EINVALID, "customized_weight_config: algorithm=hqq writes 4-bit blocks of one size");
    }
    oir_model_for_each_graph(m, count_graph, &r);
    rc = r.olive && !r.qdq ? quantize_olive(m, &r) : oir_model_for_each_graph(m, quantize_graph, &r);
    olive_node_overrides_free(r.overrides);
    if (rc != OLIVE_OK)
        return rc;
    if (r.olive) {
        OLIVE_TRY(olive_quantize_olive_finish(m));
        if (r.quantized_gathers)
            OLIVE_INFO("quantize: %zu Gather nodes to GatherBlockQuantized (%d bits, block %d, %s, Olive's layout)",
                       r.quantized_gathers, r.q.bits, r.q.block_size,
                       olive_args_bool(args, "is_symmetric") ? "symmetric" : "asymmetric");
    } else if (r.quantized || r.quantized_gathers) {
        OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    }
    if ((r.quantized_gathers && !r.olive) || r.quantized_qdq) {
        /* INT4 / UINT4 tensors need IR 10; ONNX Runtime's quantizer also raises the default
         * opset to 21 then, without converting nodes. */
        if (oir_model_opset(m, "") < 21)
            OLIVE_TRY(oir_model_require_opset(m, "", 21));
        if (m->ir_version < 10)
            m->ir_version = 10;
        if (r.quantized_gathers)
            OLIVE_INFO("quantize: %zu Gather nodes to GatherBlockQuantized (4 bits, block %d, %s)", r.quantized_gathers,
                       r.q.block_size, olive_args_bool(args, "is_symmetric") ? "symmetric" : "asymmetric");
    }
    if (r.quantized_qdq)
        OLIVE_INFO("quantize: %zu of %zu MatMul nodes read B through a blocked DequantizeLinear (4 bits, block %d, %s)",
                   r.quantized_qdq, r.total, r.q.block_size, r.q.symmetric ? "int4" : "uint4 + zero points");
    OLIVE_INFO("quantize: %zu of %zu MatMul nodes to MatMulNBits (%s, %d bits, block %d, %s)", r.quantized, r.total,
               algorithm_name(algorithm), r.q.bits, r.q.block_size, r.q.symmetric ? "symmetric" : "asymmetric");
    return olive_pass_progress(ctx, 1.0);
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    return quantize_model(m, args, ctx, parse_algorithm(olive_args_string(args, "algorithm")));
}

static int run_hqq(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    return quantize_model(m, args, ctx, OLIVE_BLOCKQ_HQQ);
}

static int run_kquant(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    return quantize_model(m, args, ctx, OLIVE_BLOCKQ_KQUANT);
}

/* Parameters the three quantize passes share. */
#define ACCURACY_LEVEL_PARAM                                                                                           \
    {                                                                                                                  \
        .name = "accuracy_level", .type = OLIVE_PARAM_INT, .default_value = "0", .min = 0, .max = 4,                   \
        .help = "MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 compute"                          \
    }
#define NODES_TO_EXCLUDE_PARAM                                                                                         \
    {                                                                                                                  \
        .name = "nodes_to_exclude", .type = OLIVE_PARAM_LIST, .default_value = "",                                     \
        .help = "Node names left unquantized"                                                                          \
    }
#define NODES_TO_INCLUDE_PARAM                                                                                         \
    {                                                                                                                  \
        .name = "nodes_to_include", .type = OLIVE_PARAM_LIST, .default_value = "",                                     \
        .help = "Only these node names are quantized (empty: all)"                                                     \
    }
#define CUSTOMIZED_PARAM                                                                                               \
    {                                                                                                                  \
        .name = "customized_weight_config", .type = OLIVE_PARAM_STRING, .default_value = "",                           \
        .help = "Per-node settings, JSON: {\"node\": {\"bits\": 8, \"group_size\": 64}} (MatMuls; not with hqq)"       \
    }

static const olive_param_spec params[] = {
    {.name = "bits",
     .type = OLIVE_PARAM_INT,
     .default_value = "4",
     .min = 4,
     .max = 8,
     .help = "Bits per weight: 4 or 8 (hqq: 4)"},
    {.name = "block_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "128",
     .min = 16,
     .max = 256,
     .search = "32|64|128",
     .help = "Weights per block along K, sharing a scale: 16, 32, 64, 128 or 256",
     .details = "K is zero-padded to a multiple"},
    {.name = "is_symmetric",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .search = "true|false",
     .help = "Symmetric blocks (implicit zero point 2^(bits-1)); false writes zero points",
     .details = "hqq and k_quant always write a zero-point tensor"},
    ACCURACY_LEVEL_PARAM,
    {.name = "algorithm",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "default",
     .choices = "default|rtn|hqq|k_quant",
     .help = "default: ONNX Runtime's MLAS quantizer; rtn, hqq, k_quant: its other configs",
     .details = "rtn: round-to-nearest as ONNX Runtime's RTN config does it; hqq: ONNX Runtime's HQQ quantizer (4 "
                "bits, float zero points, 1-D scales/zero points); k_quant: ONNX Runtime's k-quant config "
                "(llama.cpp's weighted least-squares scale search, asymmetric)"},
    NODES_TO_EXCLUDE_PARAM,
    NODES_TO_INCLUDE_PARAM,
    CUSTOMIZED_PARAM,
    {.name = "op_types_to_quantize",
     .type = OLIVE_PARAM_LIST,
     .default_value = "MatMul",
     .help = "Op types to quantize: MatMul, Gather (tables to GatherBlockQuantized)",
     .details = "Gather does what quantize_embeddings does"},
    {.name = "quant_format",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "QOperator",
     .choices = "QOperator|QDQ",
     .help = "QOperator: MatMulNBits; QDQ: DequantizeLinear feeding the MatMul",
     .details = "QDQ writes int4 codes when symmetric, else uint4 + zero points, with the block_size attribute, "
                "opset 21 and IR 10, as ONNX Runtime does (algorithm=default, bits=4)"},
    {.name = "quantize_embeddings",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Also quantize Gathers on constant float tables into GatherBlockQuantized",
     .details = "4 bits only (with bits=8 Gathers stay, as in ONNX Runtime; layout=olive takes 4 or 8); int4 "
                "codes when is_symmetric else uint4 + zero points, ONNX Runtime's default quantizer whatever the "
                "algorithm; raises IR to 10 and opset to 21 as it does (layout=olive: see there). A tied lm_head "
                "MatMul(x, Transpose(table)) becomes MatMulNBits from the table. The two formats cannot share bytes "
                "(MatMulNBits needs B [N, k_blocks, blob], GatherBlockQuantized scales of the data's rank), so a "
                "tied table is stored twice, quantized"},
    {.name = "gather_quantize_axis",
     .type = OLIVE_PARAM_INT,
     .default_value = "1",
     .min = -8,
     .max = 7,
     .help = "Axis of a Gather table quantized in blocks (negative: from the end)",
     .details = "ONNX Runtime's quant_axes entry for Gather; layout=olive uses the last axis"},
    {.name = "layout",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "onnxruntime",
     .choices = "onnxruntime|olive",
     .help = "Tensor names and layout: ONNX Runtime's quantizer's, or Olive's OnnxBlockWiseRtnQuantization's",
     .details = "olive (what Olive 0.13's OnnxBlockWiseRtnQuantization writes): <w>_Q<bits>, <w>_scales and "
                "<w>_zero_point, MatMulNBits scales and zero points 1-D; Gathers with 4 or 8 bits, quantize_axis the "
                "last axis, UINT8 codes (symmetric ones shifted by 2^(bits-1), no zero-point input; 4 bits packed "
                "in pairs within each row) and a bits attribute, IR and default opset unchanged; each replaced node's "
                "output renamed <output>_Q<bits> (graph outputs too); graphs sorted as onnx_ir sorts them; tables "
                "that subgraphs read from outer scopes quantized there; com.microsoft imported at version 1; "
                "main-graph initializers nothing reads dropped; no tied-embedding MatMuls. Gathers Olive would write "
                "in a form ONNX Runtime cannot run (a 1-D table; gather axis not 0; 4 bits with rows of odd length) "
                "stay float. With quant_format=QDQ, MatMuls take ONNX Runtime's QDQ form (Olive gets its own from "
                "MatMulNBitsToQDQ after the pass)"},
};

/* Olive's OnnxBlockWiseRtnQuantization runs ONNX Runtime's MLAS quantizer on MatMuls despite
 * its name (algorithm=default here, with the same defaults: 4 bits, block 128, symmetric) and
 * its own round-to-nearest on Gather tables, in its own layout. Its `axis` changes nothing
 * (Gathers are quantized along their last axis, MatMuls along K). */
static const char *const rtn_ignored[] = {"quant_axes", "weight_only_quant_configs", "axis", NULL};
static const char *const matmul4_ignored[] = {"quant_axes", "weight_only_quant_configs", NULL};
static const olive_pass_type olive_types[] = {
    {"OnnxBlockWiseRtnQuantization", "quantize_embeddings=true layout=olive", NULL, rtn_ignored},
    {"OnnxMatMul4Quantizer", "bits=4", NULL, matmul4_ignored},
    {NULL, NULL, NULL, NULL},
};

const olive_pass_def olive_pass_quantize = {
    .name = "quantize",
    .summary = "Weight-only int4/int8 block quantization of constant MatMul weights into MatMulNBits",
    .details = "default: ONNX Runtime's MLAS quantizer, which Olive's OnnxBlockWiseRtnQuantization also runs; rtn: "
               "ONNX Runtime's RTN config; hqq and k_quant: ONNX Runtime's HQQ and k-quant quantizers. Scales [N, "
               "k_blocks] in the weight's type; a weight with inf/NaN is an error. As Olive's "
               "OnnxBlockWiseRtnQuantization (quantize_embeddings=true layout=olive) it also turns Gathers on constant "
               "tables into GatherBlockQuantized with 4 or 8 bits, with Olive's names and layout",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};

/* Olive's OnnxHqqQuantization: its parameters and defaults (block 128, axis 0 only). */
static const olive_param_spec hqq_params[] = {
    {.name = "block_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "128",
     .min = 16,
     .max = 256,
     .search = "32|64|128",
     .help = "Weights per block along K: 16, 32, 64, 128 or 256",
     .details = "K is zero-padded to a multiple"},
    {.name = "axis",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 1,
     .help = "Axis of B quantized in blocks: 0 (K) is the one supported"},
    ACCURACY_LEVEL_PARAM,
    NODES_TO_EXCLUDE_PARAM,
    NODES_TO_INCLUDE_PARAM,
};

static const olive_pass_type hqq_types[] = {{"OnnxHqqQuantization", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_quantize_hqq = {
    .name = "quantize_hqq",
    .summary = "quantize algorithm=hqq with Olive's OnnxHqqQuantization parameters",
    .details = "4-bit MatMulNBits with float zero points refined by ONNX Runtime's HQQ proximal solver",
    .olive_types = hqq_types,
    .params = hqq_params,
    .n_params = sizeof hqq_params / sizeof *hqq_params,
    .run = run_hqq,
};

/* Olive's OnnxKQuantQuantization: its parameters and defaults (4 bits, block 32). */
static const olive_param_spec kquant_params[] = {
    {.name = "bits",
     .type = OLIVE_PARAM_INT,
     .default_value = "4",
     .min = 4,
     .max = 8,
     .help = "Bits per weight: 4 or 8"},
    {.name = "block_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "32",
     .min = 16,
     .max = 256,
     .search = "32|64|128",
     .help = "Weights per block along K: 16, 32, 64, 128 or 256",
     .details = "K is zero-padded to a multiple"},
    ACCURACY_LEVEL_PARAM,
    NODES_TO_EXCLUDE_PARAM,
    CUSTOMIZED_PARAM,
};

static const olive_pass_type kquant_types[] = {{"OnnxKQuantQuantization", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_quantize_kquant = {
    .name = "quantize_kquant",
    .summary = "quantize algorithm=k_quant with Olive's OnnxKQuantQuantization parameters",
    .details = "MatMulNBits with llama.cpp's weighted least-squares block scales, as ONNX Runtime's k-quant config "
               "writes it",
    .olive_types = kquant_types,
    .params = kquant_params,
    .n_params = sizeof kquant_params / sizeof *kquant_params,
    .run = run_kquant,
};
