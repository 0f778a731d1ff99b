/* See awq_pass.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "kernels/awq.h"
#include "passes/calibrate/awq_pass.h"
#include "passes/calibrate/calib_data.h"
#include "passes/calibrate/capture.h"
#include "passes/calibrate/matmul_quantizer.h"
#include "passes/calibrate/nbits_writer.h"

#define PASS "awq"

typedef struct aw_input {
    char *name;
    size_t k;
    double *abs_sum; /* sum over all tokens of |x| per channel */
    uint64_t tokens;
    float *rows; /* the first `kept` rows, [max_rows][k] */
    size_t kept;
    int in_group;
} aw_input;

typedef struct aw_run {
    const olive_pass_args *args;
    olive_pass_ctx *ctx;
    oir_graph *g;
    olive_awq_config cfg;
    size_t max_rows;
    aw_input *in;
    size_t n_in, cap_in, total, done;
} aw_run;

static const char *label(const oir_node *n)
{
    return n->name[0] ? n->name : n->outputs[0];
}

/* modules_to_not_convert: MatMuls whose name contains one of the entries stay in float. */
static int selected(const void *user, const oir_node *n)
{
    const aw_run *r = user;
    const char *v = olive_args_string(r->args, "modules_to_not_convert");
    while (v && *v) {
        size_t len;
        char part[256];
        while (*v == ',' || *v == ' ')
            v++;
        len = strcspn(v, ", ");
        if (len && len < sizeof part) {
            memcpy(part, v, len);
            part[len] = 0;
            if (strstr(n->name, part))
                return 0;
        }
        v += len;
    }
    return 1;
}

static aw_input *input_of(aw_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_in; i++)
        if (!strcmp(r->in[i].name, name))
            return &r->in[i];
    return NULL;
}

static int collect_inputs(aw_run *r)
{
    for (size_t i = 0; i < r->g->n_nodes; i++) {
        const oir_node *n = r->g->nodes[i];
        oir_tensor *w = olive_calib_matmul_weight(r->g, n);
        aw_input *in;
        if (!w || !selected(r, n))
            continue;
        if ((size_t)w->dims[0] % r->cfg.group_size)
            return olive_fail(OLIVE_EINVALID, PASS ": MatMul '%s' has K = %lld, which group_size %zu does not divide",
                              label(n), (long long)w->dims[0], r->cfg.group_size);
        r->total++;
        if ((in = input_of(r, n->inputs[0])))
            continue;
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

static int gather(void *user, size_t index, const olive_tensor *value)
{
    aw_run *r = user;
    aw_input *in = NULL;
    size_t seen = 0, rank = olive_tensor_rank(value), rows;
    const float *x = olive_tensor_data(value);
    for (size_t i = 0; i < r->n_in; i++)
        if (r->in[i].in_group && seen++ == index)
            in = &r->in[i];
    if (!in)
        return OLIVE_OK;
    if (rank < 1 || (size_t)olive_tensor_dim(value, rank - 1) != in->k)
        return olive_fail(OLIVE_EFORMAT, PASS ": input '%s' of a MatMul does not end in K = %zu", in->name, in->k);
    rows = (size_t)(olive_tensor_element_count(value) / in->k);
    for (size_t t = 0; t < rows; t++)
        for (size_t j = 0; j < in->k; j++)
            in->abs_sum[j] += fabsf(x[t * in->k + j]);
    in->tokens += rows;
    if (in->kept < r->max_rows) {
        size_t take = rows < r->max_rows - in->kept ? rows : r->max_rows - in->kept;
        memcpy(in->rows + in->kept * in->k, x, take * in->k * sizeof *x);
        in->kept += take;
    }
    return OLIVE_OK;
}

static const char *const norm_ops[] = {"LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization",
                                       "SkipSimplifiedLayerNormalization", NULL};

/* 1 when input k of normalization `op` multiplies (or is added after) the normalized value:
 * gamma and beta, not the bias added before normalizing. */
static int scaled_param(const char *op, size_t k)
{
    if (!strcmp(op, "LayerNormalization"))
        return k == 1 || k == 2;
    if (!strcmp(op, "SimplifiedLayerNormalization") || !strcmp(op, "SkipSimplifiedLayerNormalization"))
        return k == (op[0] == 'S' && op[1] == 'k' ? 2u : 1u);
    return k == 2 || k == 3; /* SkipLayerNormalization: gamma, beta (input 4 is the bias) */
}

/* Divides the input `in` by s: in the normalization that writes it when it can be folded
 * there, else through a new Mul; the group's MatMuls then read the scaled value. */
static int scale_input(aw_run *r, aw_input *in, const float *s, int *folded)
{
    oir_graph *g = r->g;
    oir_graph_index ix;
    oir_node *prod;
    int ok = 0, rc;
    *folded = 0;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    prod = oir_index_producer(&ix, in->name);
    if (prod && !oir_index_is_graph_output(&ix, in->name) && !strcmp(prod->outputs[0], in->name)) {
        int is_norm = 0;
        for (const char *const *op = norm_ops; *op; op++)
            is_norm |= !strcmp(prod->op_type, *op);
        ok = is_norm;
        /* Only the group's MatMuls read it. */
        for (size_t i = 0; ok && i < oir_index_use_count(&ix, in->name); i++) {
            oir_node *c = oir_index_consumer(&ix, in->name, i);
            ok = c && olive_calib_matmul_weight(g, c) && selected(r, c) && !strcmp(c->inputs[0], in->name);
        }
        /* gamma (and beta / bias) are constants nothing else reads, of K floats. */
        for (size_t k = 0; ok && k < prod->n_inputs; k++) {
            oir_tensor *t;
            if (!scaled_param(prod->op_type, k) || !prod->inputs[k][0])
                continue;
            t = oir_graph_initializer(g, prod->inputs[k]);
            ok = t && t->dtype == OIR_FLOAT && t->rank == 1 && (size_t)t->dims[0] == in->k && t->nbytes == in->k * 4 &&
                 oir_index_use_count(&ix, prod->inputs[k]) == 1;
        }
    }
    if (ok) {
        for (size_t k = 0; k < prod->n_inputs; k++) {
            oir_tensor *t;
            float *v;
            if (!scaled_param(prod->op_type, k) || !prod->inputs[k][0])
                continue;
            t = oir_graph_initializer(g, prod->inputs[k]);
            if (!(v = olive_malloc(in->k * sizeof *v))) {
                oir_graph_index_free(&ix);
                return OLIVE_ENOMEM;
            }
            memcpy(v, oir_tensor_data(t), in->k * sizeof *v);
            for (size_t j = 0; j < in->k; j++)
                v[j] /= s[j];
            rc = oir_tensor_set_copy(t, v, in->k * sizeof *v);
            free(v);
            if (rc != OLIVE_OK) {
                oir_graph_index_free(&ix);
                return rc;
            }
        }
        *folded = 1;
        oir_graph_index_free(&ix);
        return OLIVE_OK;
    }
    oir_graph_index_free(&ix);
    {
        char *sname = NULL, *out = NULL, *base = olive_asprintf("%s_awq_inv_scale", in->name);
        float *inv = olive_malloc(in->k * sizeof *inv);
        int64_t dims[1] = {(int64_t)in->k};
        oir_tensor *t = NULL;
        oir_node *mul = NULL;
        rc = OLIVE_OK;
        if (!base || !inv || !(sname = oir_graph_unique_name(g, base)))
            rc = OLIVE_ENOMEM;
        free(base);
        base = rc == OLIVE_OK ? olive_asprintf("%s_awq_scaled", in->name) : NULL;
        if (rc == OLIVE_OK && (!base || !(out = oir_graph_unique_name(g, base))))
            rc = OLIVE_ENOMEM;
        free(base);
        for (size_t j = 0; rc == OLIVE_OK && j < in->k; j++)
            inv[j] = 1.0f / s[j];
        if (rc == OLIVE_OK && !(t = oir_tensor_new(sname, OIR_FLOAT, 1, dims)))
            rc = OLIVE_ENOMEM;
        if (rc == OLIVE_OK && (rc = oir_tensor_set_copy(t, inv, in->k * sizeof *inv)) == OLIVE_OK)
            rc = oir_graph_add_initializer(g, t);
        else
            oir_tensor_free(t);
        /* The group's MatMuls read the scaled value. */
        for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
            oir_node *c = g->nodes[i];
            if (olive_calib_matmul_weight(g, c) && selected(r, c) && !strcmp(c->inputs[0], in->name))
                rc = oir_node_set_input(c, 0, out);
        }
        if (rc == OLIVE_OK) {
            const char *ins[2] = {in->name, sname};
            const char *outs[1] = {out};
            char *mname = olive_asprintf("%s_awq_Mul", in->name);
            if (!mname || !(mul = oir_node_new("Mul", "", mname, 2, ins, 1, outs)))
                rc = OLIVE_ENOMEM;
            else
                rc = oir_graph_add_node(g, mul);
            free(mname);
        }
        free(inv);
        free(sname);
        free(out);
        return rc;
    }
}

static int avoid_clip(const char *name)
{
    static const char *const parts[] = {"q_", "k_", "query", "key", "qkv", NULL};
    for (const char *const *p = parts; *p; p++)
        if (strstr(name, *p))
            return 1;
    return 0;
}

/* Scale search, scaling, clipping and quantization of the MatMuls reading `in`. */
static int quantize_input(aw_run *r, aw_input *in)
{
    oir_graph *g = r->g;
    const size_t k = in->k, gsz = r->cfg.group_size, n_groups = k / gsz;
    size_t count = 0, *idx = NULL, *ns = NULL;
    float **ws = NULL, *x_mean = olive_malloc(k * sizeof *x_mean), *s = olive_malloc(k * sizeof *s);
    double ratio = 0;
    int rc = OLIVE_OK, folded = 0;
    if (!x_mean || !s) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        count += olive_calib_matmul_weight(g, g->nodes[i]) && selected(r, g->nodes[i]) &&
                 !strcmp(g->nodes[i]->inputs[0], in->name);
    idx = olive_calloc(count ? count : 1, sizeof *idx);
    ns = olive_calloc(count ? count : 1, sizeof *ns);
    ws = olive_calloc(count ? count : 1, sizeof *ws);
    if (!idx || !ns || !ws) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    count = 0;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_tensor *w = olive_calib_matmul_weight(g, g->nodes[i]);
        if (!w || !selected(r, g->nodes[i]) || strcmp(g->nodes[i]->inputs[0], in->name))
            continue;
        idx[count] = i;
        ns[count] = (size_t)w->dims[1];
        if (!(ws[count] = olive_malloc(ns[count] * k * sizeof **ws))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        rc = olive_calib_weight_rows(w, label(g->nodes[i]), ws[count], PASS);
        count++;
    }
    if (rc != OLIVE_OK)
        goto done;
    for (size_t j = 0; j < k; j++)
        x_mean[j] = (float)(in->abs_sum[j] / (double)in->tokens);
    rc = olive_awq_search_scale(&r->cfg, (const float *const *)ws, ns, count, k, in->rows, in->kept, x_mean, s, &ratio);
    if (rc != OLIVE_OK)
        goto done;
    /* Scaled weights, scaled inputs. */
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < ns[i]; b++)
            for (size_t a = 0; a < k; a++)
                ws[i][b * k + a] *= s[a];
    for (size_t t = 0; t < in->kept; t++)
        for (size_t a = 0; a < k; a++)
            in->rows[t * k + a] /= s[a];
    if ((rc = scale_input(r, in, s, &folded)) != OLIVE_OK)
        goto done;
    /* scale_input only appends nodes (sorted at the end of the pass): the indices hold. */
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        uint8_t *codes = NULL;
        float *scales = NULL, *zeros = NULL;
        size_t at = idx[i], n = ns[i];
        oir_tensor *w;
        w = oir_graph_initializer(g, g->nodes[at]->inputs[1]);
        if (!avoid_clip(g->nodes[at]->name) &&
            (rc = olive_awq_search_clip(&r->cfg, ws[i], n, k, in->rows, in->kept, 512)) != OLIVE_OK)
            break;
        codes = olive_malloc(n * k);
        scales = olive_malloc(n * n_groups * sizeof *scales);
        zeros = olive_malloc(n * n_groups * sizeof *zeros);
        if (!codes || !scales || !zeros) {
            rc = OLIVE_ENOMEM;
        } else {
            const float lo = r->cfg.zero_point ? 0.0f : (float)-(1 << (r->cfg.bits - 1));
            const float hi = r->cfg.zero_point ? (float)((1 << r->cfg.bits) - 1)
                                               : (float)((1 << (r->cfg.bits - 1)) - 1);
            const float shift = r->cfg.zero_point ? 0.0f : (float)(1 << (r->cfg.bits - 1));
            for (size_t b = 0; b < n; b++)
                for (size_t gi = 0; gi < n_groups; gi++) {
                    const float *v = ws[i] + b * k + gi * gsz;
                    float sc, z;
                    olive_awq_group_params(&r->cfg, v, &sc, &z);
                    scales[b * n_groups + gi] = sc;
                    zeros[b * n_groups + gi] = z;
                    for (size_t j = 0; j < gsz; j++) {
                        float q = nearbyintf(v[j] / sc) + z;
                        q = q < lo ? lo : q > hi ? hi : q;
                        codes[b * k + gi * gsz + j] = (uint8_t)(q + shift);
                    }
                }
            /* The MatMul at `at` now gets the quantized weight (its float one still holds W). */
            rc = olive_calib_write_nbits(g, at, w, r->cfg.bits, gsz, !r->cfg.zero_point, codes, scales, zeros, NULL);
        }
        free(codes);
        free(scales);
        free(zeros);
        r->done += rc == OLIVE_OK;
    }
    if (rc == OLIVE_OK)
        OLIVE_DEBUG(PASS ": '%s': ratio %.2f, scales %s", in->name, ratio,
                    folded ? "folded into its normalization" : "applied by a Mul");
done:
    for (size_t i = 0; ws && i < count; i++)
        free(ws[i]);
    free(ws);
    free(ns);
    free(idx);
    free(x_mean);
    free(s);
    return rc;
}

static void free_input_data(aw_input *in)
{
    free(in->abs_sum);
    free(in->rows);
    in->abs_sum = NULL;
    in->rows = NULL;
    in->kept = 0;
    in->tokens = 0;
    in->in_group = 0;
}

static const char *group_name(void *user, size_t i)
{
    return ((aw_run *)user)->in[i].name;
}

/* The rows kept, max_rows x k floats. */
static uint64_t group_bytes(void *user, size_t i)
{
    const aw_run *r = user;
    return (uint64_t)r->max_rows * r->in[i].k * 4;
}

static int group_open(void *user, size_t i)
{
    aw_run *r = user;
    aw_input *in = &r->in[i];
    in->in_group = 1;
    in->abs_sum = olive_calloc(in->k, sizeof *in->abs_sum);
    in->rows = olive_malloc(r->max_rows * in->k * sizeof *in->rows);
    return in->abs_sum && in->rows ? OLIVE_OK : OLIVE_ENOMEM;
}

static int group_finish(void *user, size_t first, size_t last)
{
    aw_run *r = user;
    int rc = OLIVE_OK;
    for (size_t i = first; i < last && rc == OLIVE_OK; i++)
        rc = quantize_input(r, &r->in[i]);
    return rc;
}

static void group_close(void *user, size_t i)
{
    free_input_data(&((aw_run *)user)->in[i]);
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    aw_run r;
    olive_calib_data data;
    int64_t group = olive_args_int(args, "group_size");
    int rc;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.ctx = ctx;
    r.g = m->graph;
    r.cfg.bits = (int)olive_args_int(args, "bits");
    r.cfg.zero_point = olive_args_bool(args, "zero_point");
    r.cfg.duo_scaling = olive_args_bool(args, "duo_scaling");
    r.cfg.n_grid = 20;
    r.max_rows = (size_t)olive_args_int(args, "max_calib_tokens");
    OLIVE_TRY(olive_calib_nbits_check(PASS, r.cfg.bits, group));
    r.cfg.group_size = (size_t)group;
    OLIVE_TRY(olive_calib_data_open(&data, m->graph, olive_args_string(args, "calibration_data"), PASS));
    rc = collect_inputs(&r);
    if (rc == OLIVE_OK && r.total) {
        const olive_calib_groups groups = {
            .n = r.n_in,
            .budget = (uint64_t)olive_args_int(args, "calib_budget_mb") << 20,
            .name = group_name,
            .bytes = group_bytes,
            .open = group_open,
            .finish = group_finish,
            .close = group_close,
            .gather = gather,
            .user = &r,
        };
        rc = olive_calib_replace_matmuls(m, selected, &groups, &data, olive_args_int(args, "calibration_batch_size"),
                                         ctx, PASS);
    }
    if (rc == OLIVE_OK && r.total)
        rc = oir_graph_toposort(r.g);
    olive_calib_data_close(&data);
    for (size_t i = 0; i < r.n_in; i++) {
        free(r.in[i].name);
        free_input_data(&r.in[i]);
    }
    free(r.in);
    if (rc != OLIVE_OK)
        return rc;
    OLIVE_INFO(PASS ": %zu of %zu MatMuls to %d-bit MatMulNBits (group %zu)", r.done, r.total, r.cfg.bits,
               r.cfg.group_size);
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    OLIVE_CALIB_DATA_PARAMS OLIVE_CALIB_NBITS_PARAMS{.name = "zero_point",
                                                     .type = OLIVE_PARAM_BOOL,
                                                     .default_value = "true",
                                                     .min = 0,
                                                     .max = -1,
                                                     .choices = NULL,
                                                     .help = "Asymmetric groups with zero points (else symmetric)"},
    {.name = "duo_scaling",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Scales from activations and weights (x_mean^r / w_mean^(1-r)), else from activations only"},
    {.name = "modules_to_not_convert",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "MatMuls whose name contains one of these stay float"},
    {.name = "max_calib_tokens",
     .type = OLIVE_PARAM_INT,
     .default_value = "4096",
     .min = 1,
     .max = 1e9,
     .choices = NULL,
     .help = "Input rows kept per group for the scale and clip searches (x_mean uses every token)"},
    {.name = "calib_budget_mb",
     .type = OLIVE_PARAM_INT,
     .default_value = "512",
     .min = 1,
     .max = 1e7,
     .choices = NULL,
     .help = "Memory for the rows held at once; the calibration data runs once per group that fits"},
};

static const olive_pass_type olive_types[] = {{"AutoAWQQuantizer", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_awq = {
    .name = "awq",
    .summary = "AWQ of MatMul weights to 4/8-bit MatMulNBits from calibration data",
    .details =
        "AutoAWQ's scale and clipping searches; the scales are folded into the preceding normalization or a Mul.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
