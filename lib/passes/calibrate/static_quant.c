/* See static_quant.h. As quantize_static (QDQ) does it:
 *
 *   - a node is selected by op type (op_types_to_quantize), nodes_to_include (when not empty)
 *     and nodes_to_exclude; MatMul marks its inputs and output (a constant B is a weight,
 *     per channel along axis 1 with per_channel), any other supported op type marks all its
 *     float inputs and outputs as activations (a constant input of such a node is quantized
 *     as an activation-typed initializer);
 *   - ranges come from the inputs and outputs of every node of those op types, over all
 *     batches: global min / max, or with CalibMovingAverage the mean of the batches' min / max;
 *     CalibTensorRangeSymmetric makes them symmetric; a Softmax output's range is [0, 1];
 *   - an activation T becomes T -> QuantizeLinear (T_QuantizeLinear) -> T_QuantizeLinear_Output
 *     -> DequantizeLinear (T_DequantizeLinear) -> T_DequantizeLinear_Output, read by every node
 *     that read T; a graph output keeps its name on the DequantizeLinear, its producer writing
 *     T_QuantizeLinear_Input; scale and zero point are the initializers T_scale and
 *     T_zero_point;
 *   - a weight W becomes the initializer W_quantized read through DequantizeLinear
 *     (W_DequantizeLinear -> W_DequantizeLinear_Output) with W_scale and W_zero_point; the
 *     float W goes when nothing reads it any more.
 *
 * In QDQ, op types quantize_static handles with their own rules (Conv, Gemm, Relu/Clip, Reshape,
 * Transpose, Gather, LayerNormalization, ...) are refused until written here; the QOperator
 * form is written by qoperator_ops.c for every op type. The default
 * op_types_to_quantize is MatMul (quantize_static's default is every op type it knows). Value
 * types come from the ONNX Runtime session, so a value quantize_static skips because onnx's
 * shape inference cannot type it (outputs of com.microsoft ops, in a model without value_info)
 * is quantized here: both agree on models typed by onnxruntime's symbolic shape inference (its
 * quant pre-processing). The new nodes are appended and the graph sorted topologically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "kernels/pairwise_sum.h"
#include "kernels/value_range.h"
#include "passes/calibrate/calib_data.h"
#include "passes/calibrate/capture.h"
#include "passes/calibrate/histogram.h"
#include "passes/calibrate/qoperator_ops.h"
#include "passes/calibrate/qparams.h"
#include "passes/calibrate/static_quant.h"

#define PASS "static_quantize"

/* Op types with their own quantize_static (QDQ) rules that this pass does not write yet. */
static const char *const special_ops[] = {
    "Conv",
    "ConvTranspose",
    "Gemm",
    "Clip",
    "Relu",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Resize",
    "MaxPool",
    "AveragePool",
    "Slice",
    "Pad",
    "Split",
    "Gather",
    "GatherElements",
    "Where",
    "InstanceNormalization",
    "LayerNormalization",
    "BatchNormalization",
    "TopK",
    "CumSum",
    "ArgMax",
    "QuantizeLinear",
    "DequantizeLinear",
    NULL,
};

enum { T_ACT, T_WEIGHT, T_ACT_INIT };

typedef struct sq_tensor {
    char *name;
    int kind;
    int axis;           /* per-channel axis of a weight, -1 per tensor */
    long capture;       /* index among the captured values, -1 for initializers */
    float *mins, *maxs; /* per batch */
    size_t n_batches;
    float rmin, rmax;
    int has_range;
    float amin, amax; /* min and max of |x| over all batches (Percentile) */
    olive_hist hist;  /* Percentile: the second run's histogram */
} sq_tensor;

typedef struct sq_run {
    const olive_pass_args *args;
    olive_pass_ctx *ctx;
    oir_graph *g;
    int32_t wtype, atype;
    int per_channel, reduce_range, include_all;
    int act_symmetric, weight_symmetric, calib_symmetric, moving_average;
    int percentile_method, hist_absolute, phase; /* phase 1: histogram run */
    int entropy_method, distribution_method;
    int qoperator; /* quant_format=QOperator (qoperator_ops.h) */
    double percentile;
    sq_tensor *t;
    size_t n, cap;
    size_t n_nodes;
} sq_run;

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

static int list_is_empty(const char *v)
{
    for (; v && *v; v++)
        if (*v != ' ' && *v != ',')
            return 0;
    return 1;
}

static int default_domain(const oir_node *n)
{
    return !n->domain[0] || !strcmp(n->domain, "ai.onnx");
}

/* Op types named for calibration and quantization (ONNX domain nodes only, and com.microsoft
 * ones in QOperator: EmbedLayerNormalization). None named: quantize_static's default, every op
 * type it knows, in QOperator; MatMul in QDQ. */
static int op_type_listed(const sq_run *r, const oir_node *n)
{
    if (!default_domain(n) && !(r->qoperator && !strcmp(n->domain, "com.microsoft")))
        return 0;
    if (list_is_empty(olive_args_string(r->args, "op_types_to_quantize")))
        return r->qoperator ? olive_qop_default_op_type(n->op_type) : !strcmp(n->op_type, "MatMul");
    return olive_args_list_has(r->args, "op_types_to_quantize", n->op_type);
}

static int selected(const sq_run *r, const oir_node *n)
{
    if (!op_type_listed(r, n))
        return 0;
    if (!r->include_all && !olive_args_list_has(r->args, "nodes_to_include", n->name))
        return 0;
    return !(n->name[0] && olive_args_list_has(r->args, "nodes_to_exclude", n->name));
}

static sq_tensor *find(sq_run *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->t[i].name, name))
            return &r->t[i];
    return NULL;
}

static int mark(sq_run *r, const char *name, int kind, int axis)
{
    sq_tensor *t;
    if (!name[0] || find(r, name))
        return OLIVE_OK;
    if (r->n == r->cap && olive_grow((void **)&r->t, &r->cap, r->n + 1, sizeof *r->t) != OLIVE_OK)
        return OLIVE_ENOMEM;
    t = &r->t[r->n];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->axis = axis;
    t->capture = -1;
    if (!(t->name = olive_strdup(name)))
        return OLIVE_ENOMEM;
    r->n++;
    return OLIVE_OK;
}

/* A value quantize_static can quantize as an initializer: float32 with data. */
static oir_tensor *float_initializer(const oir_graph *g, const char *name)
{
    oir_tensor *t = oir_graph_initializer(g, name);
    return t && t->dtype == OIR_FLOAT && t->blob ? t : NULL;
}

/* Marks the tensors of the selected nodes in quantize_static's order. */
static int mark_nodes(sq_run *r)
{
    oir_graph *g = r->g;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        int matmul = !strcmp(n->op_type, "MatMul");
        if (!selected(r, n))
            continue;
        r->n_nodes++;
        for (size_t k = 0; k < n->n_inputs + n->n_outputs; k++) {
            const char *v = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
            oir_tensor *init = k < n->n_inputs ? oir_graph_initializer(g, v) : NULL;
            if (init && !float_initializer(g, v))
                continue;
            if (init && matmul) {
                int axis = r->per_channel && init->rank >= 2 ? 1 : -1;
                OLIVE_TRY(mark(r, v, T_WEIGHT, axis));
            } else {
                OLIVE_TRY(mark(r, v, init ? T_ACT_INIT : T_ACT, -1));
            }
        }
    }
    return OLIVE_OK;
}

/* ---- calibration ---- */

static int collect(void *user, size_t index, const olive_tensor *value)
{
    sq_run *r = user;
    const float *v = olive_tensor_data(value);
    uint64_t count = olive_tensor_element_count(value);
    float lo = INFINITY, hi = -INFINITY;
    sq_tensor *t = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].capture == (long)index)
            t = &r->t[i];
    if (!t)
        return OLIVE_OK;
    if (!count)
        return olive_fail(OLIVE_EINVALID, PASS ": value '%s' is empty in a calibration batch: its range is undefined",
                          t->name);
    if (r->phase == 1) {
        olive_hist_add(&t->hist, v, (size_t)count, r->hist_absolute);
        return OLIVE_OK;
    }
    olive_value_range(v, (size_t)count, &lo, &hi);
    if (r->percentile_method && r->hist_absolute) { /* the |x| histogram's range */
        float alo = t->n_batches ? t->amin : INFINITY, ahi = t->n_batches ? t->amax : -INFINITY;
        for (uint64_t i = 0; i < count; i++) {
            float a = fabsf(v[i]);
            alo = a < alo ? a : alo;
            ahi = a > ahi ? a : ahi;
        }
        t->amin = alo;
        t->amax = ahi;
    }
    {
        float *mins = olive_reallocarray(t->mins, t->n_batches + 1, sizeof *mins), *maxs;
        if (!mins)
            return OLIVE_ENOMEM;
        t->mins = mins;
        if (!(maxs = olive_reallocarray(t->maxs, t->n_batches + 1, sizeof *maxs)))
            return OLIVE_ENOMEM;
        t->maxs = maxs;
    }
    t->mins[t->n_batches] = lo;
    t->maxs[t->n_batches] = hi;
    t->n_batches++;
    return OLIVE_OK;
}

static void finish_range(const sq_run *r, sq_tensor *t)
{
    if (!t->n_batches)
        return;
    if (r->percentile_method) {
        float gmin = t->mins[0], gmax = t->maxs[0];
        for (size_t b = 1; b < t->n_batches; b++) {
            gmin = t->mins[b] < gmin ? t->mins[b] : gmin;
            gmax = t->maxs[b] > gmax ? t->maxs[b] : gmax;
        }
        olive_hist_percentile(&t->hist, r->percentile, r->hist_absolute, gmin, gmax, &t->rmin, &t->rmax);
        t->has_range = 1;
        return;
    }
    if (r->entropy_method || r->distribution_method) {
        float gmin = t->mins[0], gmax = t->maxs[0], th;
        for (size_t b = 1; b < t->n_batches; b++) {
            gmin = t->mins[b] < gmin ? t->mins[b] : gmin;
            gmax = t->maxs[b] > gmax ? t->maxs[b] : gmax;
        }
        th = fabsf(gmin) > fabsf(gmax) ? fabsf(gmin) : fabsf(gmax);
        if (r->entropy_method) {
            /* quantize_static's 128 bins and 128 quantized bins leave the KL search one
             * candidate, the whole histogram [-t, t], which is then clamped to [min, max]. */
            t->rmin = gmin;
            t->rmax = gmax;
        } else {
            /* Distribution: the range is the histogram's, [-t, t] (+-0.5 when t is 0). */
            t->rmin = th == 0.0f ? -0.5f : -th;
            t->rmax = th == 0.0f ? 0.5f : th;
        }
        t->has_range = 1;
        return;
    }
    if (r->moving_average) {
        t->rmin = (float)((double)olive_pairwise_sum(t->mins, t->n_batches) / (double)t->n_batches);
        t->rmax = (float)((double)olive_pairwise_sum(t->maxs, t->n_batches) / (double)t->n_batches);
    } else {
        t->rmin = t->mins[0];
        t->rmax = t->maxs[0];
        for (size_t i = 1; i < t->n_batches; i++) {
            t->rmin = t->mins[i] < t->rmin ? t->mins[i] : t->rmin;
            t->rmax = t->maxs[i] > t->rmax ? t->maxs[i] : t->rmax;
        }
    }
    if (r->calib_symmetric) {
        float m = fabsf(t->rmin) > fabsf(t->rmax) ? fabsf(t->rmin) : fabsf(t->rmax);
        t->rmin = -m;
        t->rmax = m;
    }
    t->has_range = 1;
}

static int calibrate(sq_run *r, oir_model *m, const olive_calib_data *data)
{
    const char **names = olive_calloc(r->n ? r->n : 1, sizeof *names);
    unsigned char *wanted = olive_calloc(r->n ? r->n : 1, 1);
    size_t n_names = 0;
    olive_capture *cap = NULL;
    int rc;
    if (!names || !wanted) {
        free(names);
        free(wanted);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->t[i].kind != T_ACT)
            continue;
        r->t[i].capture = (long)n_names;
        names[n_names++] = r->t[i].name;
    }
    /* One batch: one run, on all the cores; more: several at once (capture.h). */
    rc = olive_capture_open_workers(&cap, m, names, n_names,
                                    data->n_samples > olive_args_int(r->args, "calibration_batch_size") ? 0 : 1, r->ctx,
                                    PASS);
    if (rc == OLIVE_OK) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->t[i].capture < 0)
                continue;
            /* Only float32 values are quantized; others (ints, bools) stay as they are. */
            wanted[r->t[i].capture] = olive_capture_dtype(cap, (size_t)r->t[i].capture) == OLIVE_DTYPE_FLOAT32;
            if (!wanted[r->t[i].capture])
                r->t[i].capture = -1;
        }
        rc = olive_capture_run(cap, data, olive_args_int(r->args, "calibration_batch_size"), wanted, collect, r, r->ctx,
                               0.0, r->percentile_method ? 0.45 : 0.9);
    }
    if (rc == OLIVE_OK && r->percentile_method) {
        /* numpy bins all values at once over their whole range: the range is known after the
         * first run, the counts come from a second. */
        for (size_t i = 0; i < r->n && rc == OLIVE_OK; i++) {
            sq_tensor *t = &r->t[i];
            float gmin, gmax, th;
            if (t->capture < 0 || !t->n_batches)
                continue;
            gmin = t->mins[0];
            gmax = t->maxs[0];
            for (size_t b = 1; b < t->n_batches; b++) {
                gmin = t->mins[b] < gmin ? t->mins[b] : gmin;
                gmax = t->maxs[b] > gmax ? t->maxs[b] : gmax;
            }
            th = fabsf(gmin) > fabsf(gmax) ? fabsf(gmin) : fabsf(gmax);
            rc = r->hist_absolute ? olive_hist_init(&t->hist, 2048, t->amin, t->amax)
                                  : olive_hist_init(&t->hist, 2048, -th, th);
        }
        r->phase = 1;
        if (rc == OLIVE_OK)
            rc = olive_capture_run(cap, data, olive_args_int(r->args, "calibration_batch_size"), wanted, collect, r,
                                   r->ctx, 0.45, 0.9);
    }
    olive_capture_free(cap);
    free(names);
    free(wanted);
    return rc;
}

/* ---- rewriting ---- */

static int add_init(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims, const void *data,
                    size_t nbytes)
{
    oir_tensor *t;
    int rc;
    if (oir_graph_initializer(g, name) || oir_graph_input_index(g, name) >= 0)
        return olive_fail(OLIVE_EFORMAT, PASS ": the model already has a value named '%s'", name);
    if (!(t = oir_tensor_new(name, dtype, rank, dims)))
        return OLIVE_ENOMEM;
    if ((rc = oir_tensor_set_copy(t, data, nbytes)) != OLIVE_OK || (rc = oir_graph_add_initializer(g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    return OLIVE_OK;
}

static int add_scale_zp(oir_graph *g, const char *base, int32_t qtype, size_t n, int per_axis, const float *scales,
                        const int32_t *zps)
{
    int64_t dims[1] = {(int64_t)n};
    uint8_t *zb = olive_malloc(n ? n : 1);
    char *sname = olive_asprintf("%s_scale", base), *zname = olive_asprintf("%s_zero_point", base);
    int rc = OLIVE_OK;
    if (!zb || !sname || !zname)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++)
        zb[i] = qtype == OIR_INT8 ? (uint8_t)(int8_t)zps[i] : (uint8_t)zps[i];
    if (rc == OLIVE_OK)
        rc = add_init(g, zname, qtype, per_axis ? 1 : 0, dims, zb, n);
    if (rc == OLIVE_OK)
        rc = add_init(g, sname, OIR_FLOAT, per_axis ? 1 : 0, dims, scales, n * sizeof *scales);
    free(zb);
    free(sname);
    free(zname);
    return rc;
}

static int add_qdq_node(oir_graph *g, const char *op, const char *name, const char *in, const char *base,
                        const char *out, int axis)
{
    char *s = olive_asprintf("%s_scale", base), *z = olive_asprintf("%s_zero_point", base);
    const char *ins[3] = {in, s, z};
    oir_node *n = NULL;
    int rc = OLIVE_OK;
    if (!s || !z || !(n = oir_node_new(op, "", name, 3, ins, 1, &out)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && axis >= 0)
        rc = oir_node_set_attr_int(n, "axis", axis);
    if (rc == OLIVE_OK)
        rc = oir_graph_add_node(g, n);
    else
        oir_node_free(n);
    free(s);
    free(z);
    return rc;
}

/* Weights and activation-typed initializers: codes, scale and zero point, one DequantizeLinear. */
static int quantize_initializer(sq_run *r, sq_tensor *t)
{
    oir_graph *g = r->g;
    oir_tensor *w = oir_graph_initializer(g, t->name);
    float *v = NULL; /* an aligned copy: the data may be unaligned inside the model file */
    uint64_t count;
    size_t rows, cols, channels;
    int weight = t->kind == T_WEIGHT;
    int32_t qtype = weight ? r->wtype : r->atype;
    int symmetric = t->axis >= 0 || (weight ? r->weight_symmetric : r->act_symmetric);
    int reduce = r->reduce_range;
    float *scales = NULL;
    int32_t *zps = NULL;
    uint8_t *codes = NULL;
    char *qname = NULL, *dq_name = NULL, *dq_out = NULL;
    int rc = OLIVE_OK;
    if (oir_tensor_numel(w, &count) != OLIVE_OK || count * 4 != w->nbytes)
        return olive_fail(OLIVE_EFORMAT, PASS ": initializer '%s' has no data of the size its shape needs", t->name);
    /* Per channel along `axis`: rows are the dims before it, cols the dims after. */
    channels = t->axis >= 0 ? (size_t)w->dims[t->axis] : 1;
    cols = 1;
    for (size_t d = t->axis >= 0 ? (size_t)t->axis + 1 : w->rank; d < w->rank; d++)
        cols *= (size_t)w->dims[d];
    rows = channels && cols ? (size_t)count / channels / cols : 0;
    scales = olive_calloc(channels ? channels : 1, sizeof *scales);
    zps = olive_calloc(channels ? channels : 1, sizeof *zps);
    codes = olive_malloc(count ? (size_t)count : 1);
    v = olive_malloc(count ? (size_t)count * sizeof *v : 1);
    if (v)
        memcpy(v, oir_tensor_data(w), (size_t)count * sizeof *v);
    if (!scales || !zps || !codes || !v) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t c = 0; c < channels && rc == OLIVE_OK; c++) {
        float lo = INFINITY, hi = -INFINITY;
        int32_t qmin, qmax;
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++) {
                float x = v[(i * channels + c) * cols + k];
                if (!isfinite(x)) {
                    rc = olive_fail(OLIVE_EFORMAT, PASS ": initializer '%s' holds %g: quantization needs finite values",
                                    t->name, (double)x);
                    goto done;
                }
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
        if (!rows || !cols)
            lo = hi = 0.0f;
        olive_sq_qrange(qtype, reduce, symmetric, &qmin, &qmax);
        olive_sq_scale_zp(lo, hi, qmin, qmax, symmetric, &scales[c], &zps[c]);
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++) {
                size_t at = (i * channels + c) * cols + k;
                codes[at] = (uint8_t)olive_sq_code(qtype, v[at], scales[c], zps[c]);
            }
    }
    if (!(qname = olive_asprintf("%s_quantized", t->name)) ||
        !(dq_name = olive_asprintf("%s_DequantizeLinear", t->name)) ||
        !(dq_out = olive_asprintf("%s_DequantizeLinear_Output", t->name))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if ((rc = add_init(g, qname, qtype, w->rank, w->dims, codes, (size_t)count)) != OLIVE_OK ||
        (rc = add_scale_zp(g, t->name, qtype, channels, t->axis >= 0, scales, zps)) != OLIVE_OK ||
        (rc = oir_graph_replace_uses(g, t->name, dq_out)) != OLIVE_OK)
        goto done;
    rc = add_qdq_node(g, "DequantizeLinear", dq_name, qname, t->name, dq_out, t->axis);
done:
    free(v);
    free(scales);
    free(zps);
    free(codes);
    free(qname);
    free(dq_name);
    free(dq_out);
    return rc;
}

static int quantize_activation(sq_run *r, sq_tensor *t)
{
    oir_graph *g = r->g;
    int32_t qmin, qmax, zp;
    float scale;
    char *q_in = NULL, *q_out = NULL, *q_name = NULL, *dq_name = NULL, *dq_out = NULL;
    long out_index = oir_graph_output_index(g, t->name);
    int rc = OLIVE_OK;
    olive_sq_qrange(r->atype, 0, r->act_symmetric, &qmin, &qmax);
    olive_sq_scale_zp(t->rmin, t->rmax, qmin, qmax, r->act_symmetric, &scale, &zp);
    if (!(q_out = olive_asprintf("%s_QuantizeLinear_Output", t->name)) ||
        !(q_name = olive_asprintf("%s_QuantizeLinear", t->name)) ||
        !(dq_name = olive_asprintf("%s_DequantizeLinear", t->name))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if ((rc = add_scale_zp(g, t->name, r->atype, 1, 0, &scale, &zp)) != OLIVE_OK)
        goto done;
    if (out_index >= 0) {
        /* A graph output keeps its name: the producer writes T_QuantizeLinear_Input. */
        if (!(q_in = olive_asprintf("%s_QuantizeLinear_Input", t->name)) || !(dq_out = olive_strdup(t->name))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < g->n_nodes; i++)
            for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
                if (!strcmp(g->nodes[i]->outputs[k], t->name) &&
                    (rc = oir_node_set_output(g->nodes[i], k, q_in)) != OLIVE_OK)
                    goto done;
    } else {
        if (!(q_in = olive_strdup(t->name)) || !(dq_out = olive_asprintf("%s_DequantizeLinear_Output", t->name))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if ((rc = oir_graph_replace_uses(g, t->name, dq_out)) != OLIVE_OK)
            goto done;
    }
    if ((rc = add_qdq_node(g, "QuantizeLinear", q_name, q_in, t->name, q_out, -1)) == OLIVE_OK)
        rc = add_qdq_node(g, "DequantizeLinear", dq_name, q_out, t->name, dq_out, -1);
done:
    free(q_in);
    free(q_out);
    free(q_name);
    free(dq_name);
    free(dq_out);
    return rc;
}

/* The value a DequantizeLinear of the input model writes is already quantized. */
static int from_dequantize(const oir_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
            if (!strcmp(g->nodes[i]->outputs[k], name))
                return !strcmp(g->nodes[i]->op_type, "DequantizeLinear");
    return 0;
}

static int still_used(const oir_graph *g, const char *name)
{
    if (oir_graph_output_index(g, name) >= 0)
        return 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
            if (!strcmp(g->nodes[i]->inputs[k], name))
                return 1;
    return 0;
}

static int rewrite(sq_run *r)
{
    oir_graph *g = r->g;
    size_t done = 0;
    /* Softmax outputs are given the range [0, 1], as quantize_static does. */
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        sq_tensor *t;
        if (!strcmp(n->op_type, "Softmax") && selected(r, n) && n->n_outputs && (t = find(r, n->outputs[0])) &&
            t->has_range) {
            t->rmin = 0.0f;
            t->rmax = 1.0f;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        sq_tensor *t = &r->t[i];
        int rc;
        if (t->kind == T_ACT) {
            if (t->capture < 0 || from_dequantize(g, t->name))
                continue; /* not a float32 tensor, or already quantized */
            if (!t->has_range)
                return olive_fail(OLIVE_EINTERNAL, PASS ": no calibrated range for '%s'", t->name);
            rc = quantize_activation(r, t);
        } else {
            rc = quantize_initializer(r, t);
        }
        if (rc != OLIVE_OK)
            return olive_fail_context(rc, PASS ": quantizing '%s'", t->name);
        done++;
    }
    for (size_t i = 0; i < r->n; i++) {
        long at;
        if (r->t[i].kind != T_ACT && !still_used(g, r->t[i].name) &&
            (at = oir_graph_initializer_index(g, r->t[i].name)) >= 0 && oir_graph_input_index(g, r->t[i].name) < 0)
            oir_graph_remove_initializer(g, (size_t)at);
    }
    OLIVE_INFO(PASS ": %zu nodes selected, %zu tensors quantized (%s activations, %s weights%s)", r->n_nodes, done,
               r->atype == OIR_INT8 ? "int8" : "uint8", r->wtype == OIR_INT8 ? "int8" : "uint8",
               r->per_channel ? ", per channel" : "");
    return oir_graph_toposort(g);
}

/* ---- QOperator (qoperator_ops.h) ---- */

static int option_bool(const char *extra, const char *key, int fallback, int *out);

static int qop_selected(void *user, const oir_node *n)
{
    return selected(user, n);
}

static int qop_range(void *user, const char *name, float *rmin, float *rmax)
{
    sq_tensor *t = find(user, name);
    if (!t || t->kind != T_ACT || t->capture < 0 || !t->has_range)
        return 0;
    *rmin = t->rmin;
    *rmax = t->rmax;
    return 1;
}

static int rewrite_qoperator(sq_run *r, oir_model *m)
{
    olive_qop_env env;
    size_t done = 0;
    memset(&env, 0, sizeof env);
    env.model = m;
    env.atype = r->atype;
    env.wtype = r->wtype;
    env.per_channel = r->per_channel;
    env.reduce_range = r->reduce_range;
    env.act_symmetric = r->act_symmetric;
    OLIVE_TRY(option_bool(olive_args_string(r->args, "extra_options"), "WeightSymmetric", -1, &env.weight_symmetric));
    env.selected = qop_selected;
    env.range = qop_range;
    env.user = r;
    OLIVE_TRY(olive_qop_rewrite(&env, &done));
    OLIVE_INFO(PASS ": %zu nodes written in QOperator form (%s activations, %s weights%s)", done,
               r->atype == OIR_INT8 ? "int8" : "uint8", r->wtype == OIR_INT8 ? "int8" : "uint8",
               r->per_channel ? ", per channel" : "");
    return OLIVE_OK;
}

/* ---- options ---- */

static int option_bool(const char *extra, const char *key, int fallback, int *out)
{
    const char *p = extra;
    size_t k = strlen(key);
    *out = fallback;
    while (p && (p = strstr(p, key))) {
        if ((p == extra || p[-1] == ' ' || p[-1] == ',') && p[k] == '=') {
            const char *v = p + k + 1;
            if (!strncmp(v, "true", 4) || !strncmp(v, "True", 4) || !strncmp(v, "1", 1))
                *out = 1;
            else if (!strncmp(v, "false", 5) || !strncmp(v, "False", 5) || !strncmp(v, "0", 1))
                *out = 0;
            else
                return olive_fail(OLIVE_EINVALID, PASS ": extra_options %s must be true or false", key);
            return OLIVE_OK;
        }
        p += k;
    }
    return OLIVE_OK;
}

static int option_float(const char *extra, const char *key, double fallback, double *out)
{
    const char *p = extra;
    size_t k = strlen(key);
    *out = fallback;
    while (p && (p = strstr(p, key))) {
        if ((p == extra || p[-1] == ' ' || p[-1] == ',') && p[k] == '=') {
            char *end;
            double v = strtod(p + k + 1, &end);
            if (end == p + k + 1 || (*end && *end != ',' && *end != ' ') || !(v >= 0.0 && v <= 100.0))
                return olive_fail(OLIVE_EINVALID, PASS ": extra_options %s must be a number from 0 to 100", key);
            *out = v;
            return OLIVE_OK;
        }
        p += k;
    }
    return OLIVE_OK;
}

static int check_extra_options(const char *extra)
{
    static const char *const known[] = {"ActivationSymmetric",
                                        "WeightSymmetric",
                                        "CalibTensorRangeSymmetric",
                                        "CalibMovingAverage",
                                        "CalibMovingAverageConstant",
                                        "CalibPercentile",
                                        NULL};
    const char *p = extra;
    while (p && *p) {
        size_t len;
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        len = strcspn(p, "=, ");
        {
            int ok = 0;
            for (size_t i = 0; known[i]; i++)
                ok |= strlen(known[i]) == len && !strncmp(known[i], p, len);
            if (!ok)
                return olive_fail(OLIVE_EUNSUPPORTED,
                                  PASS ": extra option '%.*s' is not supported (known: ActivationSymmetric, "
                                       "WeightSymmetric, CalibTensorRangeSymmetric, CalibMovingAverage, "
                                       "CalibMovingAverageConstant, CalibPercentile)",
                                  (int)len, p);
        }
        p += strcspn(p, ", ");
    }
    return OLIVE_OK;
}

static int check_op_types(const olive_pass_args *args)
{
    const char *v = olive_args_string(args, "op_types_to_quantize");
    while (v && *v) {
        size_t len;
        char name[64];
        while (*v == ' ' || *v == ',')
            v++;
        len = strcspn(v, ", ");
        if (!len)
            break;
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name - 1 ? len : sizeof name - 1), v);
        if (strcmp(name, "MatMul") && in_list(special_ops, name))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              PASS ": op type %s is not quantized by this pass yet in the QDQ format (MatMul "
                                   "and op types without rules of their own in quantize_static, such as Add, Mul or "
                                   "Softmax, are; quant_format=QOperator writes it)",
                              name);
        v += len;
    }
    return OLIVE_OK;
}

static void run_free(sq_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->t[i].name);
        free(r->t[i].mins);
        free(r->t[i].maxs);
        olive_hist_free(&r->t[i].hist);
    }
    free(r->t);
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    sq_run r;
    olive_calib_data data;
    const char *extra = olive_args_string(args, "extra_options");
    int64_t opset = oir_model_opset(m, "");
    int rc, wsym;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.ctx = ctx;
    r.g = m->graph;
    r.wtype = strcmp(olive_args_string(args, "weight_type"), "QUInt8") ? OIR_INT8 : OIR_UINT8;
    r.atype = strcmp(olive_args_string(args, "activation_type"), "QUInt8") ? OIR_INT8 : OIR_UINT8;
    r.per_channel = olive_args_bool(args, "per_channel");
    r.reduce_range = olive_args_bool(args, "reduce_range");
    r.include_all = list_is_empty(olive_args_string(args, "nodes_to_include"));
    r.qoperator = !strcmp(olive_args_string(args, "quant_format"), "QOperator");
    r.percentile_method = !strcmp(olive_args_string(args, "calibrate_method"), "Percentile");
    r.entropy_method = !strcmp(olive_args_string(args, "calibrate_method"), "Entropy");
    r.distribution_method = !strcmp(olive_args_string(args, "calibrate_method"), "Distribution");
    OLIVE_TRY(check_extra_options(extra));
    if (!r.qoperator) /* QOperator: every op type is written as quantize_static writes it */
        OLIVE_TRY(check_op_types(args));
    OLIVE_TRY(option_bool(extra, "ActivationSymmetric", 0, &r.act_symmetric));
    OLIVE_TRY(option_bool(extra, "WeightSymmetric", r.wtype == OIR_INT8, &wsym));
    r.weight_symmetric = wsym;
    OLIVE_TRY(option_bool(extra, "CalibTensorRangeSymmetric", 0, &r.calib_symmetric));
    /* Percentile bins |x| unless CalibTensorRangeSymmetric says otherwise; the range it reads
     * is not made symmetric again afterwards. */
    OLIVE_TRY(option_bool(extra, "CalibTensorRangeSymmetric", 1, &r.hist_absolute));
    OLIVE_TRY(option_float(extra, "CalibPercentile", 99.999, &r.percentile));
    if (r.percentile_method || r.entropy_method || r.distribution_method)
        r.calib_symmetric = r.moving_average = 0; /* MinMax options */
    OLIVE_TRY(option_bool(extra, "CalibMovingAverage", 0, &r.moving_average));
    if (opset < 10 || (r.per_channel && opset < 13))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          PASS ": the model imports ONNX opset %lld; QuantizeLinear needs 10, per channel 13",
                          (long long)opset);
    OLIVE_TRY(olive_calib_data_open(&data, m->graph, olive_args_string(args, "calibration_data"), PASS));
    rc = mark_nodes(&r);
    if (rc == OLIVE_OK)
        rc = calibrate(&r, m, &data);
    olive_calib_data_close(&data);
    for (size_t i = 0; rc == OLIVE_OK && i < r.n; i++)
        finish_range(&r, &r.t[i]);
    if (rc == OLIVE_OK)
        rc = r.qoperator ? rewrite_qoperator(&r, m) : rewrite(&r);
    run_free(&r);
    if (rc != OLIVE_OK)
        return rc;
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    OLIVE_CALIB_DATA_PARAMS{
        .name = "quant_format",
        .type = OLIVE_PARAM_CHOICE,
        .default_value = "QDQ",
        .min = 0,
        .max = -1,
        .choices = "QDQ|QOperator",
        .help = "QDQ (Quantize/DequantizeLinear around float ops) or QOperator (QLinearConv, QGemm, ...)",
        .details =
            "QOperator writes quantize_static's integer operators: QLinearConv, QLinearMatMul, "
            "QGemm, QLinearAdd, QLinearMul, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu, "
            "QLinearAveragePool, QLinearGlobalAveragePool, QLinearSoftmax, QEmbedLayerNormalization; codes through "
            "Reshape, Transpose, Squeeze, Unsqueeze, Flatten, MaxPool, Resize, Gather, Split, "
            "Pad and ArgMax; Relu and Clip folded. Other op types stay in float."},
    {.name = "activation_type",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "QInt8",
     .min = 0,
     .max = -1,
     .choices = "QInt8|QUInt8",
     .help = "Activation type"},
    {.name = "weight_type",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "QInt8",
     .min = 0,
     .max = -1,
     .choices = "QInt8|QUInt8",
     .help = "Weight type (QInt8 symmetric, QUInt8 asymmetric unless WeightSymmetric says otherwise)"},
    {.name = "per_channel",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Weights per output channel: MatMul's columns (symmetric in QDQ), and Conv's and Gemm's in QOperator"},
    {.name = "reduce_range",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Weights on 7 bits ([-64, 64] or [0, 127])"},
    {.name = "calibrate_method",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "MinMax",
     .min = 0,
     .max = -1,
     .choices = "MinMax|Entropy|Percentile|Distribution",
     .help = "How activation ranges are found, as quantize_static finds them",
     .details = "MinMax; Percentile (2048-bin histograms); Entropy (its 128-bin KL search, which with "
                "quantize_static's fixed bins keeps [min, max]); Distribution ([-t, t], t the largest magnitude)."},
    {.name = "op_types_to_quantize",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Op types to quantize (empty: MatMul in QDQ, quantize_static's default in QOperator)",
     .details = "QDQ: MatMul, and op types without special rules in quantize_static (Add, Mul, Softmax, ...). "
                "QOperator: any (see quant_format); empty, every op type quantize_static knows."},
    {.name = "nodes_to_include",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Only these node names are quantized (empty: all)"},
    {.name = "nodes_to_exclude",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Node names left in float"},
    {.name = "extra_options",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Key=value list: ActivationSymmetric, WeightSymmetric, CalibTensorRangeSymmetric, CalibMovingAverage"},
    {.name = "quant_preprocess",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Accepted for Olive configs; libolive's graphs need no pre-processing step"},
};

static const olive_pass_type olive_types[] = {{"OnnxStaticQuantization", NULL, NULL, NULL},
                                              {"OnnxQuantization", NULL, NULL, NULL},
                                              {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_static_quantize = {
    .name = "static_quantize",
    .summary = "ONNX Runtime's static int8/uint8 quantization (QDQ or QOperator) from calibration data",
    .details = "MinMax, Percentile, Entropy or Distribution calibration on .npy data; Quantize/DequantizeLinear on "
               "activations and weights (QDQ) or integer operators (QOperator), as quantize_static writes them.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
