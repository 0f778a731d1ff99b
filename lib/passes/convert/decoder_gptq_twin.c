/* See decoder_gptq_twin.h. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/calibrate/gptq_pass.h"
#include "passes/convert/decoder_gptq_twin.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"

/* One Linear of the plan: the twin's float MatMul, then what GPTQ made of it. */
typedef struct gptq_linear {
    char *node;   /* "<path>/MatMul" */
    char *output; /* its output, which the MatMulNBits GPTQ writes keeps */
    int quantized, used;
    int bits, block_size;
    int64_t k, n;
    /* share the twin's bytes; zero_points NULL: symmetric; g_idx NULL: groups of consecutive rows */
    oir_tensor *codes, *scales, *zero_points, *g_idx;
} gptq_linear;

struct cvt_gptq_result {
    size_t n;
    gptq_linear *items;
};

/* Maps a nested run's progress into [from, to] of the convert pass's. */
typedef struct scaled_ctx {
    olive_pass_ctx ctx;
    olive_pass_ctx *outer;
    double from, to;
} scaled_ctx;

static int scaled_progress(olive_pass_ctx *ctx, double fraction)
{
    scaled_ctx *s = (scaled_ctx *)ctx;
    return olive_pass_progress(s->outer, s->from + (s->to - s->from) * fraction);
}

/* The twin runs on the CPU whatever the accelerator: no accelerator in its context. */
static void scaled_init(scaled_ctx *s, olive_pass_ctx *outer, double from, double to)
{
    memset(s, 0, sizeof *s);
    s->ctx.progress = scaled_progress;
    s->outer = outer;
    s->from = from;
    s->to = to;
}

int cvt_gptq_twin_needed(const cvt_decoder *d, int *needed)
{
    cvt_quant_plan *p = NULL;
    *needed = 0;
    /* an algo_config placement stands for the plan (decoder_build.c): no GPTQ part then */
    if (d->io_dtype == OIR_FLOAT || !d->opt.quant_plan[0] || d->opt.placement)
        return OLIVE_OK;
    OLIVE_TRY(cvt_plan_parse(d->opt.quant_plan, 1, 0, &p));
    *needed = cvt_plan_has_gptq(p);
    cvt_plan_free(p);
    return OLIVE_OK;
}

void cvt_gptq_result_free(cvt_gptq_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].node);
        free(r->items[i].output);
        oir_tensor_free(r->items[i].codes);
        oir_tensor_free(r->items[i].scales);
        oir_tensor_free(r->items[i].zero_points);
        oir_tensor_free(r->items[i].g_idx);
    }
    free(r->items);
    free(r);
}

/* The twin's convert arguments: the target's, for cpu with float32 activations, q/k/v packed as
 * the target packs them, without the calibration data (this file calibrates the twin's plan). */
static int twin_values(const olive_pass_args *args, int separate_qkv, char ***out)
{
    const olive_pass_def *def = args->def;
    char **v = olive_calloc(def->n_params, sizeof *v);
    if (!v)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < def->n_params; i++) {
        const char *name = def->params[i].name;
        v[i] = !strcmp(name, "execution_provider")                   ? "cpu"
               : !strcmp(name, "io_dtype")                           ? "fp32"
               : !strcmp(name, "disable_qkv_fusion") && separate_qkv ? "true"
               : !strcmp(name, "gptq_calibration_data")              ? ""
                                                                     : args->values[i];
    }
    *out = v;
    return OLIVE_OK;
}

/* The gptq pass's arguments: its defaults, the plan's "gptq" "settings" (the Gptq pass's values
 * in the workflow), and the calibration folder. */
static int gptq_values(const olive_pass_args *args, char ***out)
{
    const olive_pass_def *def = &olive_pass_gptq;
    const char *data = olive_args_string(args, "gptq_calibration_data");
    json_error_t err;
    json_t *plan = json_loads(olive_args_string(args, "quant_plan"), 0, &err);
    const json_t *settings = json_object_get(json_object_get(plan, "gptq"), "settings");
    char **v = olive_calloc(def->n_params, sizeof *v);
    int rc = OLIVE_OK;
    if (!v || !plan) {
        free(v);
        json_decref(plan);
        return plan ? OLIVE_ENOMEM : olive_fail(OLIVE_EINVALID, "quant_plan: not JSON: %s", err.text);
    }
    if (!data[0])
        rc = olive_fail(OLIVE_EINVALID,
                        "quant_plan: GPTQ for %s runs inside the conversion, on a float32 CPU copy of the model, "
                        "and needs calibration data: set gptq_calibration_data (a workflow sets it from the Gptq "
                        "pass's data_config)",
                        olive_args_string(args, "execution_provider"));
    if (rc == OLIVE_OK && settings && !json_is_object(settings))
        rc = olive_fail(OLIVE_EINVALID, "quant_plan.gptq.settings: expected an object of gptq parameters");
    for (size_t i = 0; i < def->n_params && rc == OLIVE_OK; i++) {
        const olive_param_spec *s = &def->params[i];
        const json_t *j = json_object_get(settings, s->name);
        const char *value = !strcmp(s->name, "calibration_data") ? data
                            : json_is_string(j)                  ? json_string_value(j)
                                                                 : s->default_value;
        if (j && !json_is_string(j) && strcmp(s->name, "calibration_data"))
            rc = olive_fail(OLIVE_EINVALID, "quant_plan.gptq.settings.%s: expected the value as text", s->name);
        else if ((rc = olive_param_check(def, s, value)) != OLIVE_OK)
            olive_fail_context(rc, "quant_plan.gptq.settings");
        else if (!(v[i] = olive_param_canonical(s, value)))
            rc = OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK && settings) {
        const char *key;
        const json_t *j;
        json_object_foreach((json_t *)settings, key, j)
        {
            if (rc == OLIVE_OK && !olive_param_find(def, key))
                rc = olive_fail(OLIVE_EINVALID, "quant_plan.gptq.settings.%s: the gptq pass has no such parameter",
                                key);
        }
    }
    json_decref(plan);
    if (rc != OLIVE_OK) {
        for (size_t i = 0; i < def->n_params; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    return OLIVE_OK;
}

/* The Linears the twin's conversion left to GPTQ (gptq_pass.h's metadata key), with the value
 * each MatMul writes. */
static int planned(cvt_gptq_result *r, const oir_model *twin)
{
    const char *text = NULL, *node;
    json_t *plan, *v;
    json_error_t err;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < twin->n_metadata && !text; i++)
        if (!strcmp(twin->metadata_keys[i], OLIVE_GPTQ_PLAN_KEY))
            text = twin->metadata_values[i];
    if (!text)
        return OLIVE_OK;
    if (!(plan = json_loads(text, 0, &err)) || !json_is_object(plan)) {
        json_decref(plan);
        return olive_fail(OLIVE_EINTERNAL, "convert: the GPTQ plan of the float32 copy is not a JSON object");
    }
    if (!(r->items = olive_calloc(json_object_size(plan) + 1, sizeof *r->items)))
        rc = OLIVE_ENOMEM;
    json_object_foreach(plan, node, v)
    {
        const oir_node *n = NULL;
        for (size_t i = 0; i < twin->graph->n_nodes && !n && rc == OLIVE_OK; i++)
            if (!strcmp(twin->graph->nodes[i]->name, node))
                n = twin->graph->nodes[i];
        if (rc != OLIVE_OK)
            break;
        if (!n || n->n_outputs != 1) {
            rc = olive_fail(OLIVE_EINTERNAL, "convert: the float32 copy has no MatMul '%s' its GPTQ plan names", node);
            break;
        }
        r->items[r->n].node = olive_strdup(node);
        r->items[r->n].output = olive_strdup(n->outputs[0]);
        r->n++;
        if (!r->items[r->n - 1].node || !r->items[r->n - 1].output)
            rc = OLIVE_ENOMEM;
    }
    json_decref(plan);
    return rc;
}

static oir_tensor *take_tensor(const oir_graph *g, const oir_node *n, size_t input)
{
    const oir_tensor *t = input < n->n_inputs && n->inputs[input][0] ? oir_graph_initializer(g, n->inputs[input])
                                                                     : NULL;
    return t ? oir_tensor_clone(t) : NULL;
}

/* What GPTQ wrote for each planned Linear: a MatMulNBits producing the MatMul's output. One the
 * gptq pass left float (nodes_to_exclude) stays unquantized. */
static int harvest(cvt_gptq_result *r, const oir_graph *g)
{
    for (size_t i = 0; i < r->n; i++) {
        gptq_linear *l = &r->items[i];
        const oir_node *n = NULL;
        for (size_t j = 0; j < g->n_nodes && !n; j++)
            if (g->nodes[j]->n_outputs == 1 && !strcmp(g->nodes[j]->outputs[0], l->output))
                n = g->nodes[j];
        if (!n || strcmp(n->op_type, "MatMulNBits"))
            continue;
        l->k = oir_node_attr_int(n, "K", -1);
        l->n = oir_node_attr_int(n, "N", -1);
        l->bits = (int)oir_node_attr_int(n, "bits", 4);
        l->block_size = (int)oir_node_attr_int(n, "block_size", -1);
        l->codes = take_tensor(g, n, 1);
        l->scales = take_tensor(g, n, 2);
        l->zero_points = take_tensor(g, n, 3);
        l->g_idx = take_tensor(g, n, 4);
        if (!l->codes || !l->scales || (n->n_inputs > 3 && n->inputs[3][0] && !l->zero_points) ||
            (n->n_inputs > 4 && n->inputs[4][0] && !l->g_idx) || n->n_inputs > 5)
            return olive_fail(OLIVE_EINTERNAL, "convert: MatMulNBits '%s' of the float32 copy lacks its initializers",
                              n->name);
        if (l->codes->dtype != OIR_UINT8 || (l->scales->dtype != OIR_FLOAT && l->scales->dtype != OIR_FLOAT16) ||
            (l->zero_points && l->zero_points->dtype != OIR_UINT8 && l->zero_points->dtype != OIR_FLOAT &&
             l->zero_points->dtype != OIR_FLOAT16) ||
            (l->g_idx && l->g_idx->dtype != OIR_INT32) || !l->codes->blob || !l->scales->blob ||
            (l->zero_points && !l->zero_points->blob) || (l->g_idx && !l->g_idx->blob))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "convert: MatMulNBits '%s' of the float32 copy: uint8 codes, float scales, uint8 or "
                              "float zero points and int32 g_idx are carried here",
                              n->name);
        l->quantized = 1;
    }
    return OLIVE_OK;
}

int cvt_gptq_twin_run(cvt_gptq_result **out, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                      const olive_pass_args *args, int separate_qkv, olive_pass_ctx *ctx, double from, double to)
{
    cvt_gptq_result *r = olive_calloc(1, sizeof *r);
    oir_model *twin = oir_model_new();
    char **tv = NULL, **gv = NULL;
    scaled_ctx sc;
    int rc = r && twin ? OLIVE_OK : OLIVE_ENOMEM;
    const double mid = from + (to - from) / 3;
    if (rc == OLIVE_OK)
        rc = gptq_values(args, &gv);
    if (rc == OLIVE_OK)
        rc = twin_values(args, separate_qkv, &tv);
    if (rc == OLIVE_OK) {
        const olive_pass_args ta = {args->def, tv};
        OLIVE_INFO("convert: GPTQ for %s: quantizing a float32 CPU copy of the model",
                   olive_args_string(args, "execution_provider"));
        scaled_init(&sc, ctx, from, mid);
        if ((rc = cvt_decoder_build(twin, ck, arch, &ta, &sc.ctx)) != OLIVE_OK)
            olive_fail_context(rc, "convert: the float32 CPU copy for GPTQ");
    }
    if (rc == OLIVE_OK)
        rc = planned(r, twin);
    if (rc == OLIVE_OK && r->n) {
        const olive_pass_args ga = {&olive_pass_gptq, gv};
        scaled_init(&sc, ctx, mid, to);
        if ((rc = olive_pass_run_def(&olive_pass_gptq, &ga, twin, &sc.ctx)) != OLIVE_OK)
            olive_fail_context(rc, "convert: GPTQ on the float32 CPU copy");
    }
    if (rc == OLIVE_OK)
        rc = harvest(r, twin->graph);
    if (gv)
        for (size_t i = 0; i < olive_pass_gptq.n_params; i++)
            free(gv[i]);
    free(gv);
    free(tv);
    oir_model_free(twin);
    if (rc != OLIVE_OK) {
        cvt_gptq_result_free(r);
        return rc;
    }
    *out = r;
    return OLIVE_OK;
}

static int spill_copy(cvt_decoder *d, const oir_tensor *t)
{
    uint64_t off;
    OLIVE_TRY(cvt_spill_tensor(d, t->name, t->dtype, t->rank, t->dims, &off));
    return olive_spill_write(d->spill, off, t->blob->data + t->offset, (size_t)t->nbytes);
}

/* Scales (and float zero points) in float16 where the activations are, as the build quantizes
 * for them; other tensors as GPTQ wrote them. */
static int spill_carried(cvt_decoder *d, const oir_tensor *t)
{
    const size_t n = (size_t)(t->nbytes / 4);
    const uint8_t *src = t->blob->data + t->offset;
    uint16_t *h;
    uint64_t off;
    int rc;
    if (t->dtype != OIR_FLOAT || d->io_dtype != OIR_FLOAT16)
        return spill_copy(d, t);
    OLIVE_TRY(cvt_spill_tensor(d, t->name, OIR_FLOAT16, t->rank, t->dims, &off));
    if (!(h = olive_malloc(n * sizeof *h + 1)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, src + i * 4, 4);
        h[i] = olive_float_to_half(f);
    }
    rc = olive_spill_write(d->spill, off, h, n * sizeof *h);
    free(h);
    return rc;
}

/* The MatMulNBits of a carried Linear, as the builder writes one (cvt_matmulnbits_node), with
 * g_idx as its fifth input when GPTQ wrote one. */
static int gptq_node(cvt_decoder *d, const char *path, const char *x, const gptq_linear *l, const char **out)
{
    const char *node = cvt_str(d, "%s/MatMul_Q%d", path, l->bits);
    const char *ins[5] = {x, cvt_str(d, "%s", l->codes->name), cvt_str(d, "%s", l->scales->name),
                          l->zero_points ? cvt_str(d, "%s", l->zero_points->name) : "",
                          l->g_idx ? cvt_str(d, "%s", l->g_idx->name) : ""};
    const size_t n_in = l->g_idx ? 5 : l->zero_points ? 4 : 3;
    oir_node *nd;
    const char *outs[1];
    for (size_t i = 0; i < 5; i++)
        if (!ins[i])
            return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "MatMulNBits", "com.microsoft", node, n_in, ins, 1, &nd, outs));
    /* The output keeps the float MatMul's name, as the quantize pass leaves it. */
    if (!(*out = cvt_str(d, "%s/MatMul/output_0", path)) || oir_node_set_output(nd, 0, *out) != OLIVE_OK)
        return OLIVE_ENOMEM;
    if (oir_node_set_attr_int(nd, "K", l->k) != OLIVE_OK || oir_node_set_attr_int(nd, "N", l->n) != OLIVE_OK ||
        oir_node_set_attr_int(nd, "bits", l->bits) != OLIVE_OK ||
        oir_node_set_attr_int(nd, "block_size", l->block_size) != OLIVE_OK ||
        (d->opt.accuracy_level > 0 && oir_node_set_attr_int(nd, "accuracy_level", d->opt.accuracy_level) != OLIVE_OK))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

int cvt_gptq_linear(cvt_decoder *d, const char *path, const char *x, int64_t in, int64_t cols, int *done,
                    const char **out)
{
    const char *node = cvt_str(d, "%s/MatMul", path);
    gptq_linear *l = NULL;
    int rc;
    *done = 0;
    if (!node)
        return OLIVE_ENOMEM;
    for (size_t i = 0; d->gptq && i < d->gptq->n && !l; i++)
        if (!strcmp(d->gptq->items[i].node, node))
            l = &d->gptq->items[i];
    if (!l || !l->quantized)
        return OLIVE_OK;
    if (l->used)
        return olive_fail(OLIVE_EINTERNAL, "convert: Linear '%s' is built twice", path);
    if (l->k != in || l->n != cols)
        return olive_fail(OLIVE_EFORMAT,
                          "convert: GPTQ quantized '%s' of the float32 CPU copy as [K %lld, N %lld], but the "
                          "float16 graph's Linear is [%lld, %lld]",
                          node, (long long)l->k, (long long)l->n, (long long)in, (long long)cols);
    if ((rc = spill_copy(d, l->codes)) == OLIVE_OK && (rc = spill_carried(d, l->scales)) == OLIVE_OK && l->zero_points)
        rc = spill_carried(d, l->zero_points);
    if (rc == OLIVE_OK && l->g_idx)
        rc = spill_copy(d, l->g_idx);
    OLIVE_TRY(rc);
    l->used = 1;
    *done = 1;
    rc = gptq_node(d, path, x, l, out);
    /* the bytes are in the spill file now: the twin's are released */
    oir_tensor_free(l->codes);
    oir_tensor_free(l->scales);
    oir_tensor_free(l->zero_points);
    oir_tensor_free(l->g_idx);
    l->codes = l->scales = l->zero_points = l->g_idx = NULL;
    return rc;
}

int cvt_gptq_result_check_used(const cvt_gptq_result *r)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->items[i].quantized && !r->items[i].used)
            return olive_fail(OLIVE_EINTERNAL,
                              "convert: GPTQ quantized '%s' of the float32 CPU copy, which the float16 graph lacks",
                              r->items[i].node);
    return OLIVE_OK;
}
