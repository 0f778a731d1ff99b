/* See qoperator_ops.h. One small writer per op family; the table at the end maps op types to
 * them. A writer first checks that every value it needs can be quantized (a calibrated range,
 * a float initializer, or codes written already), so that a node it cannot write is left in
 * float with nothing added for it; then it quantizes its inputs, writes its node and records
 * the codes of its output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/strmap.h"
#include "passes/calibrate/qoperator_ops.h"
#include "passes/calibrate/qparams.h"

#define PASS "static_quantize"
#define MS_DOMAIN "com.microsoft"

/* A value as codes: their name and their scale and zero point initializers. `gone` says that
 * the float value has no producer left (a DequantizeLinear writes it where float nodes read). */
typedef struct qval {
    char *src, *q, *scale, *zp;
    int gone;
    int axis; /* an initializer's per-channel axis, -1 per tensor */
} qval;

typedef struct qrange {
    char *name;
    float lo, hi;
} qrange;

typedef struct qop {
    const olive_qop_env *e;
    oir_graph *g;
    int64_t opset;
    qval *v;
    size_t n, cap;
    qrange *ov; /* quantize_static's range adjustments (Relu/Clip inputs, Softmax outputs) */
    size_t n_ov, cap_ov;
    size_t at;   /* index of the node being written; new nodes go before it */
    int removed; /* the node at `at` was removed */
    int ms_nodes;
} qop;

static long lookup(const qop *q, const char *src)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->v[i].src, src))
            return (long)i;
    return -1;
}

/* Records (or replaces) the codes of `src`; returns its index or a negative error. */
static long remember(qop *q, const char *src, const char *qname, const char *scale, const char *zp, int gone)
{
    long at = lookup(q, src);
    qval nv = {olive_strdup(src), olive_strdup(qname), olive_strdup(scale), olive_strdup(zp), gone, -1};
    if (!nv.src || !nv.q || !nv.scale || !nv.zp)
        goto oom;
    if (at < 0) {
        if (q->n == q->cap && olive_grow((void **)&q->v, &q->cap, q->n + 1, sizeof *q->v) != OLIVE_OK)
            goto oom;
        at = (long)q->n++;
    } else {
        free(q->v[at].src);
        free(q->v[at].q);
        free(q->v[at].scale);
        free(q->v[at].zp);
    }
    q->v[at] = nv;
    return at;
oom:
    free(nv.src);
    free(nv.q);
    free(nv.scale);
    free(nv.zp);
    return OLIVE_ENOMEM;
}

static int range_of(const qop *q, const char *name, float *lo, float *hi)
{
    for (size_t i = q->n_ov; i-- > 0;)
        if (!strcmp(q->ov[i].name, name)) {
            *lo = q->ov[i].lo;
            *hi = q->ov[i].hi;
            return 1;
        }
    return q->e->range(q->e->user, name, lo, hi);
}

static int set_range(qop *q, const char *name, float lo, float hi)
{
    qrange *r;
    if (q->n_ov == q->cap_ov && olive_grow((void **)&q->ov, &q->cap_ov, q->n_ov + 1, sizeof *q->ov) != OLIVE_OK)
        return OLIVE_ENOMEM;
    r = &q->ov[q->n_ov];
    if (!(r->name = olive_strdup(name)))
        return OLIVE_ENOMEM;
    r->lo = lo;
    r->hi = hi;
    q->n_ov++;
    return OLIVE_OK;
}

static oir_tensor *float_init(const qop *q, const char *name)
{
    oir_tensor *t = oir_graph_initializer(q->g, name);
    return t && t->dtype == OIR_FLOAT && t->blob ? t : NULL;
}

static int wsym(const qop *q, int32_t qtype)
{
    return q->e->weight_symmetric >= 0 ? q->e->weight_symmetric : qtype == OIR_INT8;
}

/* Adds an initializer unless one of that name exists (quantize_static keeps the first). */
static int put_init(qop *q, const char *name, int32_t dtype, size_t rank, const int64_t *dims, const void *data,
                    size_t nbytes)
{
    oir_tensor *t;
    int rc;
    if (oir_graph_initializer(q->g, name))
        return OLIVE_OK;
    if (oir_graph_input_index(q->g, name) >= 0)
        return olive_fail(OLIVE_EFORMAT, PASS ": the model already has an input named '%s'", name);
    if (!(t = oir_tensor_new(name, dtype, rank, dims)))
        return OLIVE_ENOMEM;
    if ((rc = oir_tensor_set_copy(t, data, nbytes)) != OLIVE_OK ||
        (rc = oir_graph_add_initializer(q->g, t)) != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

/* "<base>_scale" and "<base>_zero_point": n values, a scalar when !per_axis. */
static int put_params(qop *q, const char *base, int32_t qtype, size_t n, int per_axis, const float *scales,
                      const int32_t *zps)
{
    int64_t dims[1] = {(int64_t)n};
    uint8_t *zb = olive_malloc(n ? n : 1);
    char *s = olive_asprintf("%s_scale", base), *z = olive_asprintf("%s_zero_point", base);
    int rc = zb && s && z ? OLIVE_OK : OLIVE_ENOMEM;
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++)
        zb[i] = qtype == OIR_INT8 ? (uint8_t)(int8_t)zps[i] : (uint8_t)zps[i];
    if (rc == OLIVE_OK)
        rc = put_init(q, s, OIR_FLOAT, per_axis ? 1 : 0, dims, scales, n * sizeof *scales);
    if (rc == OLIVE_OK)
        rc = put_init(q, z, qtype, per_axis ? 1 : 0, dims, zb, n);
    free(zb);
    free(s);
    free(z);
    return rc;
}

/* The output's scale and zero point from its calibrated range; 0 when it has none. */
static int output_params(qop *q, const char *name)
{
    float lo, hi, scale;
    int32_t qmin, qmax, zp;
    int rc;
    if (!range_of(q, name, &lo, &hi))
        return 0;
    olive_sq_qrange(q->e->atype, 0, q->e->act_symmetric, &qmin, &qmax);
    olive_sq_scale_zp(lo, hi, qmin, qmax, q->e->act_symmetric, &scale, &zp);
    rc = put_params(q, name, q->e->atype, 1, 0, &scale, &zp);
    return rc == OLIVE_OK ? 1 : rc;
}

/* 1 when `name` can be read as codes: written already, a float initializer, or calibrated. */
static int available(const qop *q, const char *name)
{
    float lo, hi;
    return name[0] && (lookup(q, name) >= 0 || float_init(q, name) || range_of(q, name, &lo, &hi));
}

/* An initializer's codes (quantize_initializer / quantize_weight_per_channel): per tensor when
 * axis < 0, else per slice along `axis`. */
static long quantize_init(qop *q, const char *name, int32_t qtype, int symmetric, int reduce, int axis)
{
    oir_tensor *w = float_init(q, name);
    uint64_t count;
    size_t channels, rows, cols;
    float *v = NULL, *slice = NULL, *scales = NULL;
    int32_t *zps = NULL;
    uint8_t *codes = NULL;
    char *qname = NULL, *sname = NULL, *zname = NULL;
    long rc = OLIVE_OK;
    if (oir_tensor_numel(w, &count) != OLIVE_OK || count * 4 != w->nbytes)
        return olive_fail(OLIVE_EFORMAT, PASS ": initializer '%s' has no data of the size its shape needs", name);
    if (axis >= 0 && (size_t)axis >= w->rank)
        return olive_fail(OLIVE_EFORMAT, PASS ": weight '%s' has rank %zu, too low for per-channel axis %d", name,
                          w->rank, axis);
    channels = axis >= 0 ? (size_t)w->dims[axis] : 1;
    cols = 1;
    for (size_t d = axis >= 0 ? (size_t)axis + 1 : w->rank; d < w->rank; d++)
        cols *= (size_t)w->dims[d];
    rows = channels && cols ? (size_t)count / channels / cols : 0;
    v = olive_malloc(count ? (size_t)count * sizeof *v : 1);
    slice = olive_malloc(rows && cols ? rows * cols * sizeof *slice : 1);
    scales = olive_calloc(channels ? channels : 1, sizeof *scales);
    zps = olive_calloc(channels ? channels : 1, sizeof *zps);
    codes = olive_malloc(count ? (size_t)count : 1);
    if (!v || !slice || !scales || !zps || !codes) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    memcpy(v, oir_tensor_data(w), (size_t)count * sizeof *v); /* aligned: the data may not be */
    for (size_t c = 0; c < channels; c++) {
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++)
                slice[i * cols + k] = v[(i * channels + c) * cols + k];
        if (olive_sq_data_params(qtype, reduce, symmetric, slice, rows * cols, 1, &scales[c], &zps[c]) >= 0) {
            rc = olive_fail(OLIVE_EFORMAT, PASS ": initializer '%s' holds a value that is not finite", name);
            goto done;
        }
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++) {
                size_t at = (i * channels + c) * cols + k;
                codes[at] = (uint8_t)olive_sq_code(qtype, v[at], scales[c], zps[c]);
            }
    }
    if (!(qname = olive_asprintf("%s_quantized", name)) || !(sname = olive_asprintf("%s_scale", name)) ||
        !(zname = olive_asprintf("%s_zero_point", name))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if ((rc = put_init(q, qname, qtype, w->rank, w->dims, codes, (size_t)count)) != OLIVE_OK ||
        (rc = put_params(q, name, qtype, channels, axis >= 0, scales, zps)) != OLIVE_OK)
        goto done;
    if ((rc = remember(q, name, qname, sname, zname, 0)) >= 0)
        q->v[rc].axis = axis;
done:
    free(v);
    free(slice);
    free(scales);
    free(zps);
    free(codes);
    free(qname);
    free(sname);
    free(zname);
    return rc;
}

/* An activation's codes: QuantizeLinear "<X>_QuantizeLinear" before the node being written. */
static long quantize_value(qop *q, const char *name)
{
    float lo, hi, scale;
    int32_t qmin, qmax, zp;
    char *qname = olive_asprintf("%s_quantized", name), *node_name = olive_asprintf("%s_QuantizeLinear", name);
    char *s = olive_asprintf("%s_scale", name), *z = olive_asprintf("%s_zero_point", name);
    oir_node *n = NULL;
    long rc = OLIVE_OK;
    if (!qname || !node_name || !s || !z) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if (!range_of(q, name, &lo, &hi)) {
        rc = olive_fail(OLIVE_EINTERNAL, PASS ": no calibrated range for '%s'", name);
        goto done;
    }
    olive_sq_qrange(q->e->atype, 0, q->e->act_symmetric, &qmin, &qmax);
    olive_sq_scale_zp(lo, hi, qmin, qmax, q->e->act_symmetric, &scale, &zp);
    if ((rc = put_params(q, name, q->e->atype, 1, 0, &scale, &zp)) != OLIVE_OK)
        goto done;
    {
        const char *ins[3] = {name, s, z};
        const char *outs[1] = {qname};
        if (!(n = oir_node_new("QuantizeLinear", "", node_name, 3, ins, 1, outs))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
    }
    if ((rc = oir_graph_insert_node(q->g, q->at, n)) != OLIVE_OK) {
        oir_node_free(n);
        goto done;
    }
    q->at++;
    rc = remember(q, name, qname, s, z, 0);
done:
    free(qname);
    free(node_name);
    free(s);
    free(z);
    return rc;
}

/* quantize_activation: initializers take the activation type. */
static long act_input(qop *q, const char *name)
{
    long at = lookup(q, name);
    int32_t t = q->e->atype;
    if (at >= 0)
        return at;
    if (float_init(q, name))
        return quantize_init(q, name, t, t == q->e->wtype ? wsym(q, t) : q->e->act_symmetric, 0, -1);
    return quantize_value(q, name);
}

/* quantize_weight (axis < 0) or quantize_weight_per_channel: an initializer takes `qtype`, a
 * computed value is quantized as an activation. */
static long weight_input(qop *q, const char *name, int32_t qtype, int axis)
{
    long at = lookup(q, name);
    if (at >= 0)
        return at;
    if (!float_init(q, name))
        return quantize_value(q, name);
    return quantize_init(q, name, qtype, wsym(q, qtype), q->e->reduce_range, axis);
}

static const float *scale_data(const qop *q, const char *name, size_t *n)
{
    oir_tensor *t = oir_graph_initializer(q->g, name);
    uint64_t count = 0;
    if (!t || t->dtype != OIR_FLOAT || oir_tensor_numel(t, &count) != OLIVE_OK || count * 4 != t->nbytes ||
        (uintptr_t)oir_tensor_data(t) % sizeof(float))
        return NULL;
    *n = (size_t)count;
    return (const float *)oir_tensor_data(t); /* written here (aligned), unless the model had it */
}

/* The codes of float initializer `name` at the given scales (zero points unchanged), written
 * over "<name>_quantized" and "<name>_scale" (_requantize_weight). */
static int requantize(qop *q, long w, const float *scales, size_t n_scales)
{
    const qval *qv = &q->v[w];
    oir_tensor *src = float_init(q, qv->src), *codes_t = oir_graph_initializer(q->g, qv->q),
               *scale_t = oir_graph_initializer(q->g, qv->scale), *zp_t = oir_graph_initializer(q->g, qv->zp);
    int32_t qtype = codes_t ? codes_t->dtype : OIR_INT8;
    uint64_t count;
    size_t channels = 1, cols = 1;
    uint8_t *codes;
    int rc;
    if (!src || !codes_t || !scale_t || !zp_t || !zp_t->blob || oir_tensor_numel(src, &count) != OLIVE_OK ||
        count * 4 != src->nbytes || codes_t->nbytes != count)
        return olive_fail(OLIVE_EINTERNAL, PASS ": weight '%s' cannot be quantized again", qv->src);
    if (qv->axis >= 0) {
        channels = (size_t)src->dims[qv->axis];
        for (size_t d = (size_t)qv->axis + 1; d < src->rank; d++)
            cols *= (size_t)src->dims[d];
    }
    if (channels != n_scales || zp_t->nbytes != n_scales)
        return olive_fail(OLIVE_EINTERNAL, PASS ": weight '%s' has %zu scales for %zu channels", qv->src, n_scales,
                          channels);
    if (!(codes = olive_malloc(count ? (size_t)count : 1)))
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < count; i++) {
        size_t c = channels > 1 ? (size_t)(i / cols) % channels : 0;
        int32_t zp = qtype == OIR_INT8 ? (int8_t)oir_tensor_data(zp_t)[c] : oir_tensor_data(zp_t)[c];
        float x;
        memcpy(&x, oir_tensor_data(src) + i * 4, 4);
        codes[i] = (uint8_t)olive_sq_code(qtype, x, scales[c], zp);
    }
    rc = oir_tensor_set_copy(codes_t, codes, (size_t)count);
    free(codes);
    if (rc == OLIVE_OK)
        rc = oir_tensor_set_copy(scale_t, scales, n_scales * sizeof *scales);
    return rc;
}

/* _adjust_weight_scale_for_int32_bias: with int8 weights whose zero points are all 0, a weight
 * scale that would leave the bias codes beyond int32 is enlarged until they fit, and the
 * weight quantized again. */
static int widen_weight_scale(qop *q, const char *bias, const float *b, size_t count, float in_scale, long w)
{
    const double qrange = 4294967294.0; /* int32 max - (int32 min + 1) */
    const oir_tensor *zt = oir_graph_initializer(q->g, q->v[w].zp), *st = oir_graph_initializer(q->g, q->v[w].scale);
    size_t n = 0;
    const float *ws = scale_data(q, q->v[w].scale, &n);
    float *scales;
    int changed = 0, rc = OLIVE_OK;
    if (q->e->wtype != OIR_INT8 || !zt || !zt->blob || !zt->nbytes || !ws || !n)
        return OLIVE_OK;
    for (uint64_t i = 0; i < zt->nbytes; i++)
        if (oir_tensor_data(zt)[i])
            return OLIVE_OK;
    if (q->e->per_channel && (st->rank != 1 || count < n))
        return OLIVE_OK; /* quantize_static looks at per-channel scales only */
    if (!(scales = olive_malloc(n * sizeof *scales)))
        return OLIVE_ENOMEM;
    memcpy(scales, ws, n * sizeof *scales);
    for (size_t c = 0; c < (q->e->per_channel ? n : 1); c++) {
        double smallest, cand = (double)in_scale * (double)scales[c];
        if (q->e->per_channel) {
            /* float32 arithmetic on the one bias value, as numpy does it */
            float two = 2.0f * fabsf(b[c]), eps = 1.0001f * two;
            smallest = (double)eps / qrange;
        } else {
            double lo = 0.0, hi = 0.0;
            for (size_t i = 0; i < count; i++) {
                lo = b[i] < lo ? b[i] : lo;
                hi = b[i] > hi ? b[i] : hi;
            }
            smallest = 1.0001 * (2.0 * (fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi))) / qrange;
        }
        if (cand < smallest && cand > 0.0) {
            scales[c] = (float)((double)scales[c] * (smallest / cand));
            changed = 1;
        }
    }
    if (changed) {
        if (!float_init(q, q->v[w].src))
            rc = olive_fail(OLIVE_EUNSUPPORTED,
                            PASS ": bias '%s' would overflow int32 at the scale of a weight that is not an "
                                 "initializer",
                            bias);
        else
            rc = requantize(q, w, scales, n);
    }
    free(scales);
    return rc;
}

/* quantize_bias_static: int32 codes "<B>_quantized" of scale input_scale * weight_scale * beta. */
static int quantize_bias(qop *q, const char *bias, long in, long w, float beta, char **out)
{
    oir_tensor *b = float_init(q, bias);
    const float *is, *ws;
    size_t n_is = 0, n_ws = 0;
    uint64_t count;
    float *v = NULL;
    int32_t *codes = NULL;
    int rc = OLIVE_OK;
    long at = lookup(q, bias);
    *out = NULL;
    if (at >= 0)
        return (*out = olive_strdup(q->v[at].q)) ? OLIVE_OK : OLIVE_ENOMEM;
    if (!b || oir_tensor_numel(b, &count) != OLIVE_OK || count * 4 != b->nbytes)
        return olive_fail(OLIVE_EFORMAT, PASS ": bias '%s' is not a float initializer with data", bias);
    is = scale_data(q, q->v[in].scale, &n_is);
    ws = scale_data(q, q->v[w].scale, &n_ws);
    if (!is || n_is != 1 || !ws || !n_ws || (n_ws > 1 && count % n_ws))
        return olive_fail(OLIVE_EFORMAT, PASS ": bias '%s' does not match its input's and weight's scales", bias);
    v = olive_malloc(count ? (size_t)count * sizeof *v : 1);
    codes = olive_malloc(count ? (size_t)count * sizeof *codes : 1);
    if (!v || !codes) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    memcpy(v, oir_tensor_data(b), (size_t)count * sizeof *v);
    if ((rc = widen_weight_scale(q, bias, v, (size_t)count, is[0], w)) != OLIVE_OK)
        goto done;
    ws = scale_data(q, q->v[w].scale, &n_ws); /* the scales may have been replaced */
    for (uint64_t i = 0; i < count; i++) {
        float bs = (is[0] * ws[n_ws > 1 ? i % n_ws : 0]) * beta;
        double c = beta == 0.0f ? 0.0 : rint((double)v[i] / (double)bs);
        c = c < -2147483648.0 ? -2147483648.0 : c > 2147483647.0 ? 2147483647.0 : c;
        codes[i] = isnan(c) ? 0 : (int32_t)c;
    }
    {
        char *qname = olive_asprintf("%s_quantized", bias), *s = olive_asprintf("%s_quantized_scale", bias),
             *z = olive_asprintf("%s_quantized_zero_point", bias);
        if (!qname || !s || !z)
            rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = put_init(q, qname, OIR_INT32, b->rank, b->dims, codes, (size_t)count * sizeof *codes);
        if (rc == OLIVE_OK && (at = remember(q, bias, qname, s, z, 0)) < 0)
            rc = (int)at;
        if (rc == OLIVE_OK)
            *out = qname;
        else
            free(qname);
        free(s);
        free(z);
    }
done:
    free(v);
    free(codes);
    return rc;
}

/* Replaces the node being written with `op` (its attributes kept), reading ins, writing the
 * codes "<out>_quantized" whose scale and zero point are "<out>_scale" / "<out>_zero_point"
 * unless given. */
static int replace_with(qop *q, const oir_node *n, const char *op, const char *domain, const char *const *ins,
                        size_t n_ins, const char *scale, const char *zp)
{
    const char *out = n->outputs[0];
    char *qout = olive_asprintf("%s_quantized", out),
         *name = n->name[0] ? olive_asprintf("%s_quant", n->name) : olive_strdup("");
    char *s = scale ? olive_strdup(scale) : olive_asprintf("%s_scale", out);
    char *z = zp ? olive_strdup(zp) : olive_asprintf("%s_zero_point", out);
    char *src = olive_strdup(out);
    oir_node *nn = NULL;
    long rc = OLIVE_OK;
    if (!qout || !name || !s || !z || !src || !(nn = oir_node_clone_as(n, op, domain))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    free(nn->name);
    nn->name = name;
    name = NULL;
    for (size_t i = 0; rc == OLIVE_OK && i < n_ins; i++)
        rc = oir_node_set_input(nn, i, ins[i]);
    if (rc == OLIVE_OK)
        rc = oir_node_set_output(nn, 0, qout);
    if (rc != OLIVE_OK)
        goto done;
    oir_graph_replace_node(q->g, q->at, nn);
    nn = NULL;
    q->ms_nodes |= !strcmp(domain, MS_DOMAIN);
    rc = remember(q, src, qout, s, z, 1);
    rc = rc < 0 ? rc : OLIVE_OK;
done:
    oir_node_free(nn);
    free(qout);
    free(name);
    free(s);
    free(z);
    free(src);
    return (int)rc;
}

#define TRY_IDX(var, expr)                                                                                             \
    do {                                                                                                               \
        if (((var) = (expr)) < 0)                                                                                      \
            return (int)(var);                                                                                         \
    } while (0)

/* ---- writers: 1 written, 0 left in float, < 0 error ---- */

static int write_conv_gemm(qop *q, oir_node *n, int gemm)
{
    const char *bias = n->n_inputs > 2 ? n->inputs[2] : "";
    int per_channel = q->e->per_channel && oir_graph_initializer(q->g, n->inputs[1]);
    int axis = gemm ? (oir_node_attr_int(n, "transB", 0) > 0 ? 0 : 1) : 0;
    char *qbias = NULL;
    long a, w;
    int rc;
    if (n->n_inputs < 2 || !available(q, n->inputs[0]) || !available(q, n->inputs[1]) ||
        (bias[0] && !float_init(q, bias)))
        return 0;
    if ((rc = output_params(q, n->outputs[0])) <= 0)
        return rc;
    TRY_IDX(a, act_input(q, n->inputs[0]));
    /* QLinearConv's per-channel weights are int8 whatever weight_type says, QGemm's not. */
    TRY_IDX(w, per_channel ? weight_input(q, n->inputs[1], gemm ? q->e->wtype : OIR_INT8, axis)
                           : weight_input(q, n->inputs[1], q->e->wtype, -1));
    if (bias[0] &&
        (rc = quantize_bias(q, bias, a, w, gemm ? oir_node_attr_float(n, "beta", 1.0f) : 1.0f, &qbias)) != OLIVE_OK)
        return rc;
    {
        char *os = olive_asprintf("%s_scale", n->outputs[0]), *oz = olive_asprintf("%s_zero_point", n->outputs[0]);
        const char *conv_ins[9] = {q->v[a].q, q->v[a].scale, q->v[a].zp, q->v[w].q, q->v[w].scale, q->v[w].zp, os,
                                   oz,        qbias};
        const char *gemm_ins[9] = {q->v[a].q,  q->v[a].scale,      q->v[a].zp, q->v[w].q, q->v[w].scale,
                                   q->v[w].zp, qbias ? qbias : "", os,         oz};
        rc = os && oz ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && gemm) {
            rc = replace_with(q, n, "QGemm", MS_DOMAIN, gemm_ins, 9, NULL, NULL);
            if (rc == OLIVE_OK)
                oir_node_remove_attr(q->g->nodes[q->at], "beta");
        } else if (rc == OLIVE_OK) {
            rc = replace_with(q, n, "QLinearConv", "", conv_ins, qbias ? 9 : 8, NULL, NULL);
        }
        free(os);
        free(oz);
    }
    free(qbias);
    return rc == OLIVE_OK ? 1 : rc;
}

static int write_conv(qop *q, oir_node *n)
{
    return write_conv_gemm(q, n, 0);
}

static int write_gemm(qop *q, oir_node *n)
{
    return write_conv_gemm(q, n, 1);
}

static int write_matmul(qop *q, oir_node *n)
{
    oir_tensor *b;
    long a, w;
    int rc;
    if (n->n_inputs != 2 || !available(q, n->inputs[0]) || !available(q, n->inputs[1]))
        return 0;
    if ((rc = output_params(q, n->outputs[0])) <= 0)
        return rc;
    b = oir_graph_initializer(q->g, n->inputs[1]);
    TRY_IDX(a, act_input(q, n->inputs[0]));
    TRY_IDX(w, weight_input(q, n->inputs[1], q->e->wtype, q->e->per_channel && b && b->rank ? (int)b->rank - 1 : -1));
    {
        char *os = olive_asprintf("%s_scale", n->outputs[0]), *oz = olive_asprintf("%s_zero_point", n->outputs[0]);
        const char *ins[8] = {q->v[a].q, q->v[a].scale, q->v[a].zp, q->v[w].q, q->v[w].scale, q->v[w].zp, os, oz};
        rc = os && oz ? replace_with(q, n, "QLinearMatMul", "", ins, 8, NULL, NULL) : OLIVE_ENOMEM;
        free(os);
        free(oz);
    }
    return rc == OLIVE_OK ? 1 : rc;
}

/* QLinearAdd, QLinearMul, QLinearConcat: every input as an activation. */
static int write_multi(qop *q, oir_node *n, const char *op, int concat)
{
    const char **ins = NULL;
    char *os = NULL, *oz = NULL;
    size_t k = 0;
    int rc;
    if (!n->n_inputs || (!concat && n->n_inputs != 2))
        return 0;
    for (size_t i = 0; i < n->n_inputs; i++)
        if (!available(q, n->inputs[i]))
            return 0;
    if ((rc = output_params(q, n->outputs[0])) <= 0)
        return rc;
    for (size_t i = 0; i < n->n_inputs; i++) {
        long at;
        TRY_IDX(at, act_input(q, n->inputs[i]));
    }
    ins = olive_calloc(2 + 3 * n->n_inputs, sizeof *ins);
    os = olive_asprintf("%s_scale", n->outputs[0]);
    oz = olive_asprintf("%s_zero_point", n->outputs[0]);
    if (!ins || !os || !oz) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if (concat) {
        ins[k++] = os;
        ins[k++] = oz;
    }
    for (size_t i = 0; i < n->n_inputs; i++) {
        const qval *v = &q->v[lookup(q, n->inputs[i])];
        ins[k++] = v->q;
        ins[k++] = v->scale;
        ins[k++] = v->zp;
    }
    if (!concat) {
        ins[k++] = os;
        ins[k++] = oz;
    }
    rc = replace_with(q, n, op, MS_DOMAIN, ins, k, NULL, NULL);
done:
    free(ins);
    free(os);
    free(oz);
    return rc == OLIVE_OK ? 1 : rc;
}

static int write_add(qop *q, oir_node *n)
{
    return write_multi(q, n, "QLinearAdd", 0);
}

static int write_mul(qop *q, oir_node *n)
{
    return write_multi(q, n, "QLinearMul", 0);
}

static int write_concat(qop *q, oir_node *n)
{
    return write_multi(q, n, "QLinearConcat", 1);
}

/* QLinear<op> of one input and its own output range: Sigmoid, LeakyRelu, AveragePool, and
 * Softmax (whose output scale is 1/256). */
static int write_unary(qop *q, oir_node *n)
{
    char op[64];
    char *os = olive_asprintf("%s_scale", n->outputs[0]), *oz = olive_asprintf("%s_zero_point", n->outputs[0]);
    int softmax = !strcmp(n->op_type, "Softmax");
    long a;
    int rc = OLIVE_OK;
    if (!os || !oz) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if (!n->n_inputs || !available(q, n->inputs[0]))
        goto done;
    if (softmax) {
        float lo, hi, scale = 1.0f / 256.0f;
        int32_t zp = q->e->atype == OIR_UINT8 ? 0 : -128;
        if (!range_of(q, n->outputs[0], &lo, &hi))
            goto done;
        rc = put_params(q, n->outputs[0], q->e->atype, 1, 0, &scale, &zp);
        rc = rc == OLIVE_OK ? 1 : rc;
    } else {
        rc = output_params(q, n->outputs[0]);
    }
    if (rc <= 0)
        goto done;
    if ((a = act_input(q, n->inputs[0])) < 0) {
        rc = (int)a;
        goto done;
    }
    snprintf(op, sizeof op, "QLinear%s", n->op_type);
    {
        const char *ins[5] = {q->v[a].q, q->v[a].scale, q->v[a].zp, os, oz};
        rc = replace_with(q, n, op, MS_DOMAIN, ins, 5, NULL, NULL);
    }
    if (rc == OLIVE_OK && softmax)
        rc = oir_node_set_attr_int(q->g->nodes[q->at], "opset", q->opset);
    rc = rc == OLIVE_OK ? 1 : rc;
done:
    free(os);
    free(oz);
    return rc;
}

/* QLinearGlobalAveragePool reads codes written already; without a range of its own its output
 * keeps its input's scale and zero point. */
static int write_global_pool(qop *q, oir_node *n)
{
    long a = n->n_inputs ? lookup(q, n->inputs[0]) : -1;
    char *s = NULL, *z = NULL;
    int found, rc;
    if (a < 0)
        return 0;
    if ((found = output_params(q, n->outputs[0])) < 0)
        return found;
    if (found) {
        s = olive_asprintf("%s_scale", n->outputs[0]);
        z = olive_asprintf("%s_zero_point", n->outputs[0]);
    } else {
        s = olive_strdup(q->v[a].scale);
        z = olive_strdup(q->v[a].zp);
    }
    if (!s || !z) {
        rc = OLIVE_ENOMEM;
    } else {
        const char *ins[5] = {q->v[a].q, q->v[a].scale, q->v[a].zp, s, z};
        rc = replace_with(q, n, "QLinearGlobalAveragePool", MS_DOMAIN, ins, 5, s, z);
        if (rc == OLIVE_OK)
            rc = oir_node_set_attr_int(q->g->nodes[q->at], "channels_last", 0);
    }
    free(s);
    free(z);
    return rc == OLIVE_OK ? 1 : rc;
}

/* Reshape, Transpose, Squeeze, Unsqueeze, Flatten, MaxPool: the same node on codes, the output
 * taking the input's scale and zero point. */
static int write_direct(qop *q, oir_node *n)
{
    long a = n->n_inputs ? lookup(q, n->inputs[0]) : -1;
    char *out, *qout;
    long rc;
    if (a < 0 || (!strcmp(n->op_type, "MaxPool") && q->opset < 12) || (!strcmp(n->op_type, "Resize") && q->opset < 11))
        return 0;
    out = olive_strdup(n->outputs[0]);
    qout = olive_asprintf("%s_quantized", n->outputs[0]);
    rc = out && qout ? oir_node_set_input(n, 0, q->v[a].q) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_node_set_output(n, 0, qout);
    if (rc == OLIVE_OK)
        rc = remember(q, out, qout, q->v[a].scale, q->v[a].zp, 1);
    free(out);
    free(qout);
    return rc < 0 ? (int)rc : 1;
}

/* Gather of a float table: the table as activation-typed codes, gathered as codes. */
static int write_gather(qop *q, oir_node *n)
{
    long a;
    if (!n->n_inputs || !float_init(q, n->inputs[0]))
        return 0;
    TRY_IDX(a, act_input(q, n->inputs[0]));
    (void)a;
    return write_direct(q, n);
}

/* Relu and Clip vanish: their output is their input's codes (whose range is theirs). */
static int write_relu_clip(qop *q, oir_node *n)
{
    long a = n->n_inputs ? lookup(q, n->inputs[0]) : -1, rc;
    if (a < 0 || q->e->act_symmetric)
        return 0;
    {
        char *qn = olive_strdup(q->v[a].q), *s = olive_strdup(q->v[a].scale), *z = olive_strdup(q->v[a].zp);
        rc = qn && s && z ? remember(q, n->outputs[0], qn, s, z, 1) : OLIVE_ENOMEM;
        free(qn);
        free(s);
        free(z);
    }
    if (rc < 0)
        return (int)rc;
    oir_graph_remove_node(q->g, q->at);
    q->removed = 1;
    return 1;
}

/* Split: codes in, codes out ("<out>quantized", as quantize_static names them), every output
 * with the input's scale and zero point. */
static int write_split(qop *q, oir_node *n)
{
    long a, rc = OLIVE_OK;
    oir_node *nn;
    char *name;
    if (!n->n_inputs || !available(q, n->inputs[0]))
        return 0;
    TRY_IDX(a, act_input(q, n->inputs[0]));
    name = n->name[0] ? olive_asprintf("%s_quant", n->name) : olive_strdup("");
    if (!name || !(nn = oir_node_clone_as(n, n->op_type, n->domain))) {
        free(name);
        return OLIVE_ENOMEM;
    }
    free(nn->name);
    nn->name = name;
    rc = oir_node_set_input(nn, 0, q->v[a].q);
    for (size_t k = 0; rc == OLIVE_OK && k < n->n_outputs; k++) {
        char *qout = olive_asprintf("%s"
                                    "quantized",
                                    n->outputs[k]);
        char *s = olive_strdup(q->v[a].scale), *z = olive_strdup(q->v[a].zp);
        rc = qout && s && z ? oir_node_set_output(nn, k, qout) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && (rc = remember(q, n->outputs[k], qout, s, z, 1)) > 0)
            rc = OLIVE_OK;
        free(qout);
        free(s);
        free(z);
    }
    if (rc < 0) {
        oir_node_free(nn);
        return (int)rc;
    }
    oir_graph_replace_node(q->g, q->at, nn);
    return 1;
}

/* Pad on codes (opset 11+): a constant pad value becomes a code of the input's scale and zero
 * point, no pad value the input's zero point. */
static int write_pad(qop *q, oir_node *n)
{
    long a = n->n_inputs ? lookup(q, n->inputs[0]) : -1;
    const char *mode = oir_node_attr_string(n, "mode", "constant");
    int rc = OLIVE_OK;
    if (a < 0 || q->opset < 11)
        return 0;
    if (!strcmp(mode, "constant")) {
        if (n->n_inputs > 2 && n->inputs[2][0]) {
            const char *cv = n->inputs[2];
            oir_tensor *c = oir_graph_initializer(q->g, cv);
            size_t n_s = 0;
            const float *s = scale_data(q, q->v[a].scale, &n_s);
            const oir_tensor *zt = oir_graph_initializer(q->g, q->v[a].zp);
            int32_t zp;
            if (!s || !n_s || !zt || !zt->blob || !zt->nbytes)
                return 0;
            zp = q->e->atype == OIR_INT8 ? (int32_t)(int8_t)oir_tensor_data(zt)[0] : (int32_t)oir_tensor_data(zt)[0];
            if (c) {
                uint64_t count;
                uint8_t *codes;
                char *qname = olive_asprintf("%s_quantized", cv);
                if (!qname)
                    return OLIVE_ENOMEM;
                if (c->dtype != OIR_FLOAT || oir_tensor_numel(c, &count) != OLIVE_OK || count * 4 != c->nbytes) {
                    free(qname);
                    return olive_fail(OLIVE_EFORMAT, PASS ": Pad value '%s' is not float data", cv);
                }
                if (!(codes = olive_malloc(count ? (size_t)count : 1))) {
                    free(qname);
                    return OLIVE_ENOMEM;
                }
                for (uint64_t i = 0; i < count; i++) {
                    float x;
                    memcpy(&x, oir_tensor_data(c) + i * 4, 4);
                    codes[i] = (uint8_t)olive_sq_code(q->e->atype, x, s[0], zp);
                }
                rc = put_init(q, qname, q->e->atype, c->rank, c->dims, codes, (size_t)count);
                if (rc == OLIVE_OK)
                    rc = oir_node_set_input(n, 2, qname);
                free(codes);
                free(qname);
            } else {
                /* A computed pad value: QuantizeLinear with the input's scale and zero point. */
                char *qname = olive_asprintf("%s_quantized", cv), *qn = olive_asprintf("%s_QuantizeLinear", cv);
                char *value = olive_strdup(cv), *ss = olive_strdup(q->v[a].scale), *zz = olive_strdup(q->v[a].zp);
                oir_node *ql = NULL;
                long at;
                const char *ins[3] = {value, ss, zz};
                const char *outs[1] = {qname};
                if (!qname || !qn || !value || !ss || !zz ||
                    !(ql = oir_node_new("QuantizeLinear", "", qn, 3, ins, 1, outs)))
                    rc = OLIVE_ENOMEM;
                else if ((rc = oir_graph_insert_node(q->g, q->at, ql)) == OLIVE_OK)
                    q->at++;
                else
                    oir_node_free(ql);
                if (rc == OLIVE_OK && (at = remember(q, value, qname, ss, zz, 0)) < 0)
                    rc = (int)at;
                if (rc == OLIVE_OK)
                    rc = oir_node_set_input(n, 2, qname);
                free(qname);
                free(qn);
                free(value);
                free(ss);
                free(zz);
            }
        } else {
            rc = oir_node_set_input(n, 2, q->v[a].zp);
        }
        if (rc != OLIVE_OK)
            return rc;
    }
    return write_direct(q, n);
}

/* ArgMax reads codes where they exist; its int64 output is unchanged. */
static int write_argmax(qop *q, oir_node *n)
{
    long a = n->n_inputs ? lookup(q, n->inputs[0]) : -1;
    int rc;
    if (a < 0)
        return 0;
    rc = oir_node_set_input(n, 0, q->v[a].q);
    return rc == OLIVE_OK ? 1 : rc;
}

/* Where: quantize_static writes QLinearWhere only with ForceQuantizeNoInputCheck, which this
 * pass does not take; it stays in float. (quantize_static then leaves it reading values that
 * only exist as codes, and refuses its own model; here it reads them through
 * DequantizeLinear.) */
static int write_where(qop *q, oir_node *n)
{
    (void)q;
    (void)n;
    return 0;
}

/* EmbedLayerNormalization (com.microsoft) with two outputs: its embeddings, gamma and beta as
 * activation-typed codes into QEmbedLayerNormalization; its outputs stay float. */
static int write_embed_layer_norm(qop *q, oir_node *n)
{
    const char *ins[18];
    long at[5];
    oir_node *nn;
    char *name;
    int rc = OLIVE_OK;
    if (n->n_outputs > 2 || n->n_inputs < 7)
        return 0;
    for (size_t k = 2; k < 7; k++)
        if (n->inputs[k][0] && !available(q, n->inputs[k]))
            return 0;
    for (size_t k = 2; k < 7; k++) {
        at[k - 2] = -1;
        if (n->inputs[k][0])
            TRY_IDX(at[k - 2], act_input(q, n->inputs[k]));
    }
    ins[0] = n->inputs[0];
    ins[1] = n->inputs[1];
    ins[7] = n->n_inputs > 7 ? n->inputs[7] : "";
    for (size_t k = 0; k < 5; k++) {
        const qval *v = at[k] >= 0 ? &q->v[at[k]] : NULL;
        ins[2 + k] = v ? v->q : "";
        ins[8 + k] = v ? v->scale : "";
        ins[13 + k] = v ? v->zp : "";
    }
    name = n->name[0] ? olive_asprintf("%s_quant", n->name) : olive_strdup("");
    if (!name || !(nn = oir_node_clone_as(n, "QEmbedLayerNormalization", MS_DOMAIN))) {
        free(name);
        return OLIVE_ENOMEM;
    }
    free(nn->name);
    nn->name = name;
    for (size_t k = 0; rc == OLIVE_OK && k < 18; k++)
        rc = oir_node_set_input(nn, k, ins[k]);
    if (rc != OLIVE_OK) {
        oir_node_free(nn);
        return rc;
    }
    oir_graph_replace_node(q->g, q->at, nn);
    q->ms_nodes = 1;
    return 1;
}

typedef int (*qop_writer)(qop *q, oir_node *n);

static const struct {
    const char *op_type;
    qop_writer write;
} writers[] = {
    {"Conv", write_conv},
    {"Gemm", write_gemm},
    {"MatMul", write_matmul},
    {"Add", write_add},
    {"Mul", write_mul},
    {"Concat", write_concat},
    {"Sigmoid", write_unary},
    {"LeakyRelu", write_unary},
    {"AveragePool", write_unary},
    {"Softmax", write_unary},
    {"GlobalAveragePool", write_global_pool},
    {"Relu", write_relu_clip},
    {"Clip", write_relu_clip},
    {"Reshape", write_direct},
    {"Transpose", write_direct},
    {"Squeeze", write_direct},
    {"Unsqueeze", write_direct},
    {"Flatten", write_direct},
    {"MaxPool", write_direct},
    {"Resize", write_direct},
    {"Gather", write_gather},
    {"Split", write_split},
    {"Pad", write_pad},
    {"ArgMax", write_argmax},
    {"Where", write_where},
    {"EmbedLayerNormalization", write_embed_layer_norm}, /* com.microsoft */
};

static qop_writer writer_for(const oir_node *n)
{
    int ms = !strcmp(n->domain, MS_DOMAIN);
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") && !ms)
        return NULL;
    if (ms != !strcmp(n->op_type, "EmbedLayerNormalization"))
        return NULL;
    for (size_t i = 0; i < sizeof writers / sizeof *writers; i++)
        if (!strcmp(writers[i].op_type, n->op_type))
            return writers[i].write;
    return NULL;
}

/* quantize_static's op types when none are named: its QOperator and QDQ registries. */
static const char *const default_op_types[] = {
    "ArgMax",
    "Conv",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "MaxPool",
    "GlobalAveragePool",
    "Split",
    "Pad",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Resize",
    "AveragePool",
    "Concat",
    "Softmax",
    "Where",
    "Gather",
    "Transpose",
    "EmbedLayerNormalization",
    "ConvTranspose",
    "Slice",
    "GatherElements",
    "InstanceNormalization",
    "LayerNormalization",
    "BatchNormalization",
    "TopK",
    "CumSum",
    NULL,
};

int olive_qop_default_op_type(const char *op_type)
{
    for (size_t i = 0; default_op_types[i]; i++)
        if (!strcmp(default_op_types[i], op_type))
            return 1;
    return 0;
}

/* A float node or a graph output reads `name`: where only its codes exist, a DequantizeLinear
 * "<name>_DequantizeLinear" writes it before the node being written. */
static int dequantize(qop *q, const char *name)
{
    long at = lookup(q, name);
    oir_node *n;
    char *dn;
    int rc;
    if (at < 0 || !q->v[at].gone)
        return OLIVE_OK;
    if (!(dn = olive_asprintf("%s_DequantizeLinear", name)))
        return OLIVE_ENOMEM;
    {
        const char *ins[3] = {q->v[at].q, q->v[at].scale, q->v[at].zp};
        n = oir_node_new("DequantizeLinear", "", dn, 3, ins, 1, &name);
    }
    free(dn);
    if (!n)
        return OLIVE_ENOMEM;
    if ((rc = oir_graph_insert_node(q->g, q->at, n)) != OLIVE_OK) {
        oir_node_free(n);
        return rc;
    }
    q->at++;
    q->v[at].gone = 0;
    return OLIVE_OK;
}

/* adjust_tensor_ranges: the input of a selected Relu or Clip read by nothing else takes the
 * output's range; a selected Softmax's output has the range [0, 1]. */
static int adjust_ranges(qop *q)
{
    oir_graph_index ix;
    int rc = oir_graph_index_build(&ix, q->g);
    for (size_t i = 0; rc == OLIVE_OK && i < q->g->n_nodes; i++) {
        const oir_node *n = q->g->nodes[i];
        float lo, hi, olo, ohi;
        size_t uses = 0;
        if (!writer_for(n) || !n->n_inputs || !n->n_outputs || !q->e->selected(q->e->user, n))
            continue;
        if (!strcmp(n->op_type, "Softmax")) {
            rc = set_range(q, n->outputs[0], 0.0f, 1.0f);
            continue;
        }
        if (strcmp(n->op_type, "Relu") && strcmp(n->op_type, "Clip"))
            continue;
        while (oir_index_consumer(&ix, n->inputs[0], uses))
            uses++;
        if (uses == 1 && range_of(q, n->inputs[0], &lo, &hi) && range_of(q, n->outputs[0], &olo, &ohi))
            rc = set_range(q, n->inputs[0], olo, ohi);
    }
    oir_graph_index_free(&ix);
    return rc;
}

/* clean_initializers: what nothing reads any more goes. */
static int remove_unused_initializers(oir_graph *g)
{
    oir_graph_index ix;
    int rc = oir_graph_index_build(&ix, g);
    if (rc != OLIVE_OK)
        return rc;
    for (size_t i = g->n_initializers; i-- > 0;) {
        const char *name = g->initializers[i]->name;
        if (!oir_index_use_count(&ix, name) && oir_graph_input_index(g, name) < 0)
            oir_graph_remove_initializer(g, i);
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}

int olive_qop_rewrite(const olive_qop_env *env, size_t *n_written)
{
    qop q;
    size_t i = 0;
    int rc;
    memset(&q, 0, sizeof q);
    q.e = env;
    q.g = env->model->graph;
    q.opset = oir_model_opset(env->model, "");
    *n_written = 0;
    rc = adjust_ranges(&q);
    while (rc == OLIVE_OK && i < q.g->n_nodes) {
        oir_node *n = q.g->nodes[i];
        qop_writer w = writer_for(n);
        int done = 0;
        q.at = i;
        q.removed = 0;
        if (w && n->n_outputs && n->outputs[0][0] && env->selected(env->user, n)) {
            /* the writer may free n */
            char *what = olive_asprintf("node '%s' (%s)", n->name, n->op_type);
            done = what ? w(&q, n) : OLIVE_ENOMEM;
            if (done < 0)
                rc = olive_fail_context(done, PASS ": writing %s in QOperator form", what ? what : "a node");
            free(what);
            if (rc != OLIVE_OK)
                break;
        }
        if (done) {
            (*n_written)++;
        } else {
            olive_strmap implicit = {0};
            for (size_t k = 0; rc == OLIVE_OK && k < n->n_inputs; k++) {
                char *in = olive_strdup(n->inputs[k]);
                rc = in ? dequantize(&q, in) : OLIVE_ENOMEM;
                free(in);
            }
            /* values its subgraphs read from this graph too (the node stays where it is) */
            if (rc == OLIVE_OK && n->n_attrs)
                rc = oir_node_implicit_inputs(n, &implicit);
            for (size_t k = 0; rc == OLIVE_OK && k < implicit.cap; k++)
                if (implicit.keys[k] && implicit.keys[k][0])
                    rc = dequantize(&q, implicit.keys[k]);
            olive_strmap_free(&implicit);
        }
        i = q.removed ? q.at : q.at + 1;
    }
    for (size_t k = 0; rc == OLIVE_OK && k < q.g->n_outputs; k++) {
        char *name = olive_strdup(q.g->outputs[k].name);
        q.at = q.g->n_nodes;
        rc = name ? dequantize(&q, name) : OLIVE_ENOMEM;
        free(name);
    }
    if (rc == OLIVE_OK)
        rc = remove_unused_initializers(q.g);
    if (rc == OLIVE_OK && q.ms_nodes && oir_model_opset(env->model, MS_DOMAIN) < 1)
        rc = oir_model_require_opset(env->model, MS_DOMAIN, 1);
    if (rc == OLIVE_OK)
        rc = oir_graph_toposort(q.g);
    for (size_t k = 0; k < q.n; k++) {
        free(q.v[k].src);
        free(q.v[k].q);
        free(q.v[k].scale);
        free(q.v[k].zp);
    }
    free(q.v);
    for (size_t k = 0; k < q.n_ov; k++)
        free(q.ov[k].name);
    free(q.ov);
    return rc;
}
