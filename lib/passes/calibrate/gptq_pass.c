/* See gptq_pass.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "kernels/blas_kernels.h"
#include "kernels/gptq.h"
#include "kernels/gptq_cuda.h"
#include "passes/calibrate/calib_data.h"
#include "passes/calibrate/capture.h"
#include "passes/calibrate/gptq_pass.h"
#include "passes/calibrate/matmul_quantizer.h"
#include "passes/calibrate/nbits_writer.h"
#include "core/node_overrides.h"

#define PASS "gptq"

typedef struct gq_input {
    char *name; /* the value the MatMuls read as A */
    size_t k;
    olive_gptq_hessian h;
    olive_gptq_cuda_hessian dh; /* on the GPU until the group is finished (on_gpu) */
    int on_gpu;
    int in_group;
} gq_input;

typedef struct gq_run {
    const olive_pass_args *args;
    olive_pass_ctx *ctx;
    oir_graph *g;
    olive_gptq_config cfg;
    olive_gptq_cuda *gpu;            /* GPTQ on the GPU (CUDAExecutionProvider and a device), or NULL */
    olive_node_overrides *overrides; /* per-node bits and group size, or NULL */
    int plan_only;                   /* the overrides came from a conversion's plan: only its nodes */
    gq_input *in;
    size_t n_in, cap_in;
    size_t total, done;
} gq_run;

static const char *label(const oir_node *n)
{
    return n->name[0] ? n->name : n->outputs[0];
}

static int selected(const void *user, const oir_node *n)
{
    const gq_run *r = user;
    if (r->plan_only && !olive_node_overrides_has(r->overrides, n->name))
        return 0;
    return !(n->name[0] && olive_args_list_has(r->args, "nodes_to_exclude", n->name));
}

static gq_input *input_of(gq_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_in; i++)
        if (!strcmp(r->in[i].name, name))
            return &r->in[i];
    return NULL;
}

static int collect_inputs(gq_run *r)
{
    for (size_t i = 0; i < r->g->n_nodes; i++) {
        const oir_node *n = r->g->nodes[i];
        oir_tensor *w = olive_calib_matmul_weight(r->g, n);
        gq_input *in;
        if (!w || !selected(r, n))
            continue;
        r->total++;
        if ((in = input_of(r, n->inputs[0]))) {
            if (in->k != (size_t)w->dims[0])
                return olive_fail(OLIVE_EFORMAT, PASS ": MatMul '%s' reads '%s' with K = %lld, another MatMul with %zu",
                                  label(n), n->inputs[0], (long long)w->dims[0], in->k);
            continue;
        }
        if (r->n_in == r->cap_in && olive_grow((void **)&r->in, &r->cap_in, r->n_in + 1, sizeof *r->in) != OLIVE_OK)
            return OLIVE_ENOMEM;
        in = &r->in[r->n_in];
        memset(in, 0, sizeof *in);
        in->k = (size_t)w->dims[0];
        if (!(in->name = olive_strdup(n->inputs[0])))
            return OLIVE_ENOMEM;
        r->n_in++;
    }
    return OLIVE_OK;
}

static int accumulate(void *user, size_t index, const olive_tensor *value)
{
    gq_run *r = user;
    gq_input *in = NULL;
    size_t seen = 0, rank = olive_tensor_rank(value);
    uint64_t count = olive_tensor_element_count(value);
    for (size_t i = 0; i < r->n_in; i++)
        if (r->in[i].in_group && seen++ == index)
            in = &r->in[i];
    if (!in)
        return OLIVE_OK;
    if (rank < 1 || (size_t)olive_tensor_dim(value, rank - 1) != in->k)
        return olive_fail(OLIVE_EFORMAT, PASS ": input '%s' of a MatMul does not end in K = %zu", in->name, in->k);
    /* AutoGPTQ counts samples as the batch dim of 3-D inputs, 1 for 2-D ones. */
    if (in->on_gpu)
        return olive_gptq_cuda_hessian_add(r->gpu, &in->dh, olive_tensor_data(value), (size_t)(count / in->k),
                                           rank >= 3 ? (size_t)olive_tensor_dim(value, 0) : 1);
    olive_gptq_hessian_add(&in->h, olive_tensor_data(value), (size_t)(count / in->k),
                           rank >= 3 ? (size_t)olive_tensor_dim(value, 0) : 1);
    return OLIVE_OK;
}

/* GPTQ of every selected MatMul reading an input of the current group. */
static int quantize_group(gq_run *r)
{
    oir_graph *g = r->g;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        oir_tensor *w = olive_calib_matmul_weight(g, n);
        gq_input *in;
        size_t k, cols, n_groups;
        float *wt = NULL, *h = NULL, *scales = NULL, *zeros = NULL;
        uint8_t *codes = NULL;
        int32_t *g_idx = NULL;
        double damp = 0;
        int rc = OLIVE_OK;
        olive_gptq_config cfg = r->cfg;
        int bits = cfg.bits, group = (int)cfg.group_size;
        if (!w || !selected(r, n) || !(in = input_of(r, n->inputs[0])) || !in->in_group)
            continue;
        olive_node_overrides_apply(r->overrides, n->name, &bits, &group);
        cfg.bits = bits;
        cfg.group_size = (size_t)group;
        k = (size_t)w->dims[0];
        cols = (size_t)w->dims[1];
        n_groups = (k + cfg.group_size - 1) / cfg.group_size;
        wt = olive_malloc(cols * k * sizeof *wt);
        h = olive_malloc(k * k * sizeof *h);
        scales = olive_malloc(cols * n_groups * sizeof *scales);
        zeros = olive_malloc(cols * n_groups * sizeof *zeros);
        codes = olive_malloc(cols * k);
        g_idx = olive_malloc(k * sizeof *g_idx);
        if (!wt || !h || !scales || !zeros || !codes || !g_idx)
            rc = OLIVE_ENOMEM;
        else if ((rc = olive_calib_weight_copy(w, label(n), wt, PASS)) == OLIVE_OK)
            memcpy(h, in->h.h, k * k * sizeof *h);
        if (rc == OLIVE_OK && r->gpu) {
            rc = olive_gptq_cuda_quantize(r->gpu, &cfg, wt, cols, k, h, codes, scales, zeros, g_idx, &damp);
            if (rc != OLIVE_OK && rc != OLIVE_EINVALID && rc != OLIVE_ECANCELLED) {
                /* out of device memory, or the device failed: this layer on the CPU */
                OLIVE_WARN(PASS ": MatMul '%s' on the GPU: %s; quantizing it on the CPU", label(n), olive_error_last());
                olive_error_clear();
                if ((rc = olive_calib_weight_copy(w, label(n), wt, PASS)) == OLIVE_OK) {
                    memcpy(h, in->h.h, k * k * sizeof *h);
                    rc = olive_gptq_quantize(&cfg, wt, cols, k, h, codes, scales, zeros, g_idx, &damp);
                }
            }
        } else if (rc == OLIVE_OK) {
            rc = olive_gptq_quantize(&cfg, wt, cols, k, h, codes, scales, zeros, g_idx, &damp);
        }
        if (rc == OLIVE_EINVALID)
            olive_fail_context(rc, PASS ": MatMul '%s' (input '%s')", label(n), in->name);
        else if (rc == OLIVE_OK && damp != cfg.damp_percent)
            OLIVE_WARN(PASS ": MatMul '%s' needed damping %g (damp_percent %g) to be positive definite", label(n), damp,
                       cfg.damp_percent);
        if (rc == OLIVE_OK)
            rc = olive_calib_write_nbits(g, i, w, cfg.bits, cfg.group_size, cfg.sym, codes, scales, zeros,
                                         cfg.desc_act && !cfg.static_groups ? g_idx : NULL);
        free(wt);
        free(h);
        free(scales);
        free(zeros);
        free(codes);
        free(g_idx);
        if (rc != OLIVE_OK)
            return rc;
        r->done++;
    }
    return OLIVE_OK;
}

static const char *group_name(void *user, size_t i)
{
    return ((gq_run *)user)->in[i].name;
}

/* A Hessian of k x k floats. */
static uint64_t group_bytes(void *user, size_t i)
{
    const gq_input *in = &((gq_run *)user)->in[i];
    return (uint64_t)in->k * in->k * 4;
}

static int group_open(void *user, size_t i)
{
    gq_run *r = user;
    gq_input *in = &r->in[i];
    in->in_group = 1;
    if (r->gpu) {
        if (olive_gptq_cuda_hessian_init(r->gpu, &in->dh, in->k) == OLIVE_OK) {
            in->on_gpu = 1;
            return OLIVE_OK;
        }
        OLIVE_DEBUG(PASS ": the Hessian of '%s' on the CPU: %s", in->name, olive_error_last());
        olive_error_clear();
    }
    return olive_gptq_hessian_init(&in->h, in->k);
}

/* Hessians accumulated on the GPU come to the host here: quantization reads them there. */
static int group_finish(void *user, size_t first, size_t last)
{
    gq_run *r = user;
    for (size_t i = first; i < last; i++) {
        gq_input *in = &r->in[i];
        if (!in->on_gpu) {
            olive_gptq_hessian_finish(&in->h);
            continue;
        }
        OLIVE_TRY(olive_gptq_hessian_init(&in->h, in->k));
        OLIVE_TRY(olive_gptq_cuda_hessian_finish(r->gpu, &in->dh, &in->h));
        olive_gptq_cuda_hessian_free(&in->dh);
        in->on_gpu = 0;
    }
    return quantize_group(r);
}

static void group_close(void *user, size_t i)
{
    gq_input *in = &((gq_run *)user)->in[i];
    in->in_group = 0;
    in->on_gpu = 0;
    olive_gptq_hessian_free(&in->h);
    olive_gptq_cuda_hessian_free(&in->dh);
}

/* GPTQ on the GPU when the accelerator's provider is CUDA's and a device and cuBLAS / cuSOLVER
 * are there; else on the CPU, said once per process. */
static olive_gptq_cuda *open_gpu(const olive_pass_ctx *ctx)
{
    static atomic_int said;
    const char *provider = ctx && ctx->accelerator ? olive_accelerator_provider(ctx->accelerator) : NULL;
    olive_gptq_cuda *gpu = NULL;
    if (!provider || strcmp(provider, "CUDAExecutionProvider"))
        return NULL;
    if (olive_gptq_cuda_open(&gpu) == OLIVE_OK) {
        OLIVE_INFO(PASS ": GPTQ on the GPU (%s, cuBLAS and cuSOLVER)", olive_gptq_cuda_device_name(gpu));
        return gpu;
    }
    if (!atomic_exchange(&said, 1))
        OLIVE_INFO(PASS ": GPTQ on the CPU for CUDAExecutionProvider: %s", olive_error_last());
    olive_error_clear();
    return NULL;
}

/* Per-node bits and group size: customized_weight_config, else the plan a conversion left in
 * the model's metadata (OLIVE_GPTQ_PLAN_KEY), which is then removed: it is spent. A plan names
 * every MatMul GPTQ is to quantize (*plan_only): the others (the head Olive's Gptq leaves to
 * Rtn) stay as they are. */
static int node_plan(oir_model *m, const olive_pass_args *args, olive_node_overrides **out, int *plan_only)
{
    const char *text = olive_args_string(args, "customized_weight_config");
    size_t i = 0;
    if (text[0])
        return olive_node_overrides_parse(text, out);
    for (; i < m->n_metadata && strcmp(m->metadata_keys[i], OLIVE_GPTQ_PLAN_KEY); i++)
        ;
    if (i == m->n_metadata)
        return olive_node_overrides_parse("", out);
    OLIVE_TRY(olive_node_overrides_parse(m->metadata_values[i], out));
    *plan_only = 1;
    free(m->metadata_keys[i]);
    free(m->metadata_values[i]);
    memmove(m->metadata_keys + i, m->metadata_keys + i + 1, (m->n_metadata - i - 1) * sizeof *m->metadata_keys);
    memmove(m->metadata_values + i, m->metadata_values + i + 1, (m->n_metadata - i - 1) * sizeof *m->metadata_values);
    m->n_metadata--;
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    gq_run r;
    olive_calib_data data;
    int64_t group = olive_args_int(args, "group_size");
    int rc;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.ctx = ctx;
    r.g = m->graph;
    r.cfg.bits = (int)olive_args_int(args, "bits");
    r.cfg.sym = olive_args_bool(args, "sym");
    r.cfg.damp_percent = olive_args_float(args, "damp_percent");
    r.cfg.desc_act = olive_args_bool(args, "desc_act");
    r.cfg.static_groups = olive_args_bool(args, "static_groups");
    r.cfg.block_size = 128;
    OLIVE_TRY(olive_calib_nbits_check(PASS, r.cfg.bits, group));
    olive_blas_check_kernels(PASS);
    if (r.cfg.desc_act && !r.cfg.static_groups && !r.cfg.sym)
        OLIVE_WARN(PASS ": desc_act without static_groups writes MatMulNBits with g_idx and float zero points, "
                        "which ONNX Runtime's CPU kernel runs many times slower than uint8 ones; static_groups=true or "
                        "sym=true keeps the fast form");
    if (r.cfg.desc_act && !r.cfg.static_groups && ctx && ctx->accelerator &&
        strcmp(olive_accelerator_provider(ctx->accelerator), "CPUExecutionProvider"))
        OLIVE_WARN(PASS ": desc_act without static_groups writes MatMulNBits with g_idx (groups of scattered "
                        "rows), which ONNX Runtime runs on its CPU provider; for %s set static_groups=true (groups of "
                        "consecutive rows, no g_idx)",
                   olive_accelerator_provider(ctx->accelerator));
    r.cfg.group_size = (size_t)group;
    OLIVE_TRY(node_plan(m, args, &r.overrides, &r.plan_only));
    r.gpu = open_gpu(ctx);
    if ((rc = olive_calib_data_open(&data, m->graph, olive_args_string(args, "calibration_data"), PASS)) != OLIVE_OK) {
        olive_node_overrides_free(r.overrides);
        olive_gptq_cuda_close(r.gpu);
        return rc;
    }
    rc = collect_inputs(&r);
    if (rc == OLIVE_OK && r.total) {
        const olive_calib_groups groups = {
            .n = r.n_in,
            .budget = (uint64_t)olive_args_int(args, "hessian_budget_mb") << 20,
            .name = group_name,
            .bytes = group_bytes,
            .open = group_open,
            .finish = group_finish,
            .close = group_close,
            .gather = accumulate,
            .user = &r,
            .sequential = olive_args_bool(args, "layerwise"),
        };
        rc = olive_calib_replace_matmuls(m, selected, &groups, &data, olive_args_int(args, "calibration_batch_size"),
                                         ctx, PASS);
    }
    olive_calib_data_close(&data);
    olive_node_overrides_free(r.overrides);
    for (size_t i = 0; i < r.n_in; i++) {
        free(r.in[i].name);
        olive_gptq_hessian_free(&r.in[i].h);
        olive_gptq_cuda_hessian_free(&r.in[i].dh);
    }
    free(r.in);
    olive_gptq_cuda_close(r.gpu);
    if (rc != OLIVE_OK)
        return rc;
    OLIVE_INFO(PASS ": %zu of %zu MatMuls to %d-bit MatMulNBits (group %zu, %s)", r.done, r.total, r.cfg.bits,
               r.cfg.group_size, r.cfg.sym ? "symmetric" : "asymmetric");
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    OLIVE_CALIB_DATA_PARAMS OLIVE_CALIB_NBITS_PARAMS{
        .name = "sym",
        .type = OLIVE_PARAM_BOOL,
        .default_value = "false",
        .min = 0,
        .max = -1,
        .choices = NULL,
        .help = "Symmetric (implicit zero point 2^(bits-1)), else zero points"},
    {.name = "damp_percent",
     .type = OLIVE_PARAM_FLOAT,
     .default_value = "0.01",
     .min = 1e-9,
     .max = 10,
     .choices = NULL,
     .help = "Damping added to the Hessian, times its mean diagonal"},
    {.name = "desc_act",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Quantize columns by decreasing Hessian diagonal (act-order)"},
    {.name = "static_groups",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Group scales fixed before GPTQ (with desc_act: groups of consecutive rows, no g_idx)"},
    {.name = "nodes_to_exclude",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "MatMul names left in float"},
    {.name = "customized_weight_config",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Per-node bits and group size as JSON: {node: {\"bits\": 4|8, \"group_size\": 16..256}}",
     .details = "Empty: the per-node plan a conversion from a checkpoint left in the model's metadata (a "
                "SelectiveMixedPrecision plan), if any; then only the MatMuls it names are quantized"},
    {.name = "lm_head",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Also the LM head, in a checkpoint's chain (Olive's lm_head)",
     .details = "In Olive's chain SelectiveMixedPrecision / Gptq / Rtn / ModelBuilder the plan leaves GPTQ every "
                "Linear, and the head too when this is true. On other ONNX models every MatMul is quantized "
                "unless nodes_to_exclude names it"},
    {.name = "layerwise",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Layer by layer: each decoder layer calibrated on the outputs of the layers before it as quantized",
     .details = "As Olive's Gptq and AutoGPTQ run it. ONNX Runtime then holds one layer at a time and the values "
                "between layers wait in a temporary file (samples x hidden size x a few floats). Applies where "
                "the MatMuls' names number their layers (layers.N, h.N, blocks.N); false, or a model without "
                "layers: every input captured from the float model in runs of hessian_budget_mb"},
    {.name = "hessian_budget_mb",
     .type = OLIVE_PARAM_INT,
     .default_value = "512",
     .min = 1,
     .max = 1e7,
     .choices = NULL,
     .help = "Without layerwise: memory for the Hessians held at once (one data run per group that fits)"},
};

static const olive_pass_type olive_types[] = {{"Gptq", NULL, NULL, NULL},
                                              {"GptqQuantizer", NULL, NULL, NULL},
                                              {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_gptq = {
    .name = "gptq",
    .summary = "GPTQ (AutoGPTQ's algorithm) of MatMul weights to 4/8-bit MatMulNBits from calibration data",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
