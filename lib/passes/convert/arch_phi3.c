/* Phi-3 / Phi-3.5 / Phi-4-mini (Phi3ForCausalLM) on the default decoder build.
 *
 * The layout is Llama's with two packed projections: self_attn.qkv_proj holds the q, k and v
 * rows one after the other and mlp.gate_up_proj the gate rows then the up rows. Rotary may be
 * partial (partial_rotary_factor, read by the common config) and may use LongRoPE: two sets
 * of per-frequency factors, the short ones while the sequence fits the original training
 * context and the long ones beyond it, both with the same magnitude scale. The graph holds
 * both cos/sin pairs and picks one per run with an If on the attention mask's width, so a
 * runtime that keeps its KV cache rotates new tokens with the long factors once the sequence
 * passes the original context (what onnxruntime-genai's builder does too). A sliding_window
 * in config.json applies to every layer, as transformers applies it. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"

/* ---- packed projections ---- */

static int phi3_weight_rows(cvt_decoder *d, int64_t layer, cvt_proj which, cvt_rows *out)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t q = c->heads * c->head_dim, kv = c->kv_heads * c->head_dim, inter = c->intermediate;
    const ofmt_tensor *t;
    const char *name;
    if (which <= CVT_PROJ_V) {
        if (!(name = cvt_str(d, "model.layers.%" PRId64 ".self_attn.qkv_proj.weight", layer)))
            return OLIVE_ENOMEM;
        OLIVE_TRY(cvt_tensor(d, name, 2, (const int64_t[]){q + 2 * kv, c->hidden}, &t));
        out->tensor = name;
        out->first = which == CVT_PROJ_Q ? 0 : which == CVT_PROJ_K ? q : q + kv;
        out->count = which == CVT_PROJ_Q ? q : kv;
        return OLIVE_OK;
    }
    if (!(name = cvt_str(d, "model.layers.%" PRId64 ".mlp.gate_up_proj.weight", layer)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_tensor(d, name, 2, (const int64_t[]){2 * inter, c->hidden}, &t));
    out->tensor = name;
    out->first = which == CVT_PROJ_GATE ? 0 : inter;
    out->count = inter;
    return OLIVE_OK;
}

/* ---- LongRoPE ---- */

/* The rotary settings object: "rope_scaling" (published checkpoints) or "rope_parameters"
 * (transformers 5). */
static json_t *rope_object(const cvt_decoder *d)
{
    json_t *o = json_object_get(d->ck->config, "rope_scaling");
    if (o && json_is_object(o))
        return o;
    o = json_object_get(d->ck->config, "rope_parameters");
    return o && json_is_object(o) ? o : NULL;
}

/* Reads factors `key` (rotary_dim / 2 positive numbers) into out. */
static int read_factors(const cvt_decoder *d, json_t *rope, const char *key, double *out)
{
    const int64_t half = d->cfg.rotary_dim / 2;
    json_t *a = json_object_get(rope, key);
    if (!a || !json_is_array(a) || (int64_t)json_array_size(a) != half)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': longrope '%s' must be a list of %" PRId64
                          " numbers (half the rotary size)",
                          d->ck->path, key, half);
    for (int64_t i = 0; i < half; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        double f = v && json_is_number(v) ? json_number_value(v) : 0;
        if (!(f > 0 && isfinite(f)))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': longrope %s[%" PRId64 "] must be a positive number",
                              d->ck->path, key, i);
        out[i] = f;
    }
    return OLIVE_OK;
}

/* The cos/sin magnitude: "attention_factor" when given, else transformers' default from the
 * context extension factor (max_position_embeddings / original, or "factor"). */
static int longrope_mscale(const cvt_decoder *d, json_t *rope, double *out)
{
    const double orig = (double)d->cfg.rope_original_context;
    json_t *af = json_object_get(rope, "attention_factor"), *f = json_object_get(rope, "factor");
    double factor = f && json_is_number(f) ? json_number_value(f) : (double)d->cfg.context_length / orig;
    if (af && json_is_number(af)) {
        *out = json_number_value(af);
        if (!(*out > 0 && isfinite(*out)))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': longrope attention_factor must be positive",
                              d->ck->path);
        return OLIVE_OK;
    }
    *out = factor <= 1.0 ? 1.0 : sqrt(1.0 + log(factor) / log(orig));
    return OLIVE_OK;
}

static int phi3_configure(cvt_decoder *d)
{
    json_t *rope = rope_object(d), *window = json_object_get(d->ck->config, "sliding_window");
    double *f;
    double mscale;
    int rc;
    /* transformers masks every layer to the window when config.json sets one (Phi-3-mini-4k:
     * 2047); a window as long as the context changes nothing. */
    if (window && !json_is_null(window)) {
        if (!json_is_integer(window) || json_integer_value(window) < 1)
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'sliding_window' must be a positive integer or null",
                              d->ck->path);
        if (json_integer_value(window) < d->cfg.context_length)
            d->cfg.sliding_window = (int64_t)json_integer_value(window);
    }
    /* transformers reads "su" and "yarn" in Phi-3 configs as LongRoPE. */
    if (!strcmp(d->cfg.rope_type, "su") || !strcmp(d->cfg.rope_type, "yarn"))
        strcpy(d->cfg.rope_type, "longrope");
    if (strcmp(d->cfg.rope_type, "longrope"))
        return OLIVE_OK;
    if (d->cfg.rope_original_context < 2 || d->cfg.rope_original_context > d->cfg.context_length)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': longrope needs original_max_position_embeddings in [2, "
                          "max_position_embeddings = %" PRId64 "]",
                          d->ck->path, d->cfg.context_length);
    /* Check everything now so a bad config fails before any weight is written. */
    if (!(f = olive_malloc((size_t)(d->cfg.rotary_dim / 2) * sizeof *f + 1)))
        return OLIVE_ENOMEM;
    rc = read_factors(d, rope, "short_factor", f);
    if (rc == OLIVE_OK)
        rc = read_factors(d, rope, "long_factor", f);
    if (rc == OLIVE_OK)
        rc = longrope_mscale(d, rope, &mscale);
    free(f);
    return rc;
}

/* cos/sin initializers of `rows` positions with inverse frequencies divided by `factors`. */
static int longrope_pair(cvt_decoder *d, const double *factors, int64_t rows, double mscale, const char *cos_name,
                         const char *sin_name)
{
    const int64_t dim = d->cfg.rotary_dim, half = dim / 2, dims[2] = {rows, half};
    double *inv = olive_malloc((size_t)half * sizeof *inv + 1);
    float *c = olive_malloc((size_t)(rows * half) * sizeof *c + 1),
          *s = olive_malloc((size_t)(rows * half) * sizeof *s + 1);
    int rc = inv && c && s ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        for (int64_t i = 0; i < half; i++)
            inv[i] = 1.0 / (factors[i] * pow(d->cfg.rope_theta, (double)(2 * i) / (double)dim));
        cvt_rotary_fill(inv, half, rows, c, s);
        for (int64_t i = 0; i < rows * half; i++) {
            c[i] = (float)(c[i] * mscale);
            s[i] = (float)(s[i] * mscale);
        }
        rc = cvt_init_from_f32(d, cos_name, d->io_dtype, 2, dims, c);
    }
    if (rc == OLIVE_OK)
        rc = cvt_init_from_f32(d, sin_name, d->io_dtype, 2, dims, s);
    free(inv);
    free(c);
    free(s);
    return rc;
}

/* An If branch that yields the two outer caches under new names. */
static int cache_branch(cvt_decoder *d, const char *name, const char *cos_in, const char *sin_in, int64_t rows,
                        oir_graph **out)
{
    const int64_t dims[2] = {rows, d->cfg.rotary_dim / 2};
    const char *ins[2] = {cos_in, sin_in};
    oir_graph *g = oir_graph_new(name);
    oir_type *ty = oir_type_new_tensor(d->io_dtype, 2, dims, NULL);
    int rc = g && ty ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int i = 0; i < 2 && rc == OLIVE_OK; i++) {
        const char *node_name = cvt_str(d, "/%s/%s/Identity", name, i ? "sin_cache" : "cos_cache");
        const char *value = cvt_str(d, "%s/output_0", node_name ? node_name : "");
        oir_node *n;
        if (!node_name || !value) {
            rc = OLIVE_ENOMEM;
            break;
        }
        if (!(n = oir_node_new("Identity", "", node_name, 1, &ins[i], 1, &value))) {
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
            break;
        }
        if ((rc = oir_graph_add_node(g, n)) != OLIVE_OK) {
            oir_node_free(n);
            break;
        }
        rc = oir_graph_add_output(g, value, ty);
    }
    oir_type_free(ty);
    if (rc != OLIVE_OK) {
        oir_graph_free(g);
        return rc;
    }
    *out = g;
    return OLIVE_OK;
}

static int phi3_rotary_caches(cvt_decoder *d)
{
    const int64_t half = d->cfg.rotary_dim / 2, orig = d->cfg.rope_original_context;
    const int64_t axis1 = 1;
    json_t *rope = rope_object(d);
    const char *shape, *width, *cond, *one, *limit, *outs[2];
    oir_graph *large = NULL, *small = NULL;
    oir_node *n;
    double *f, mscale;
    int rc;
    if (strcmp(d->cfg.rope_type, "longrope"))
        return cvt_rotary_caches(d);
    if (!(f = olive_malloc((size_t)half * sizeof *f + 1)))
        return OLIVE_ENOMEM;
    rc = longrope_mscale(d, rope, &mscale);
    if (rc == OLIVE_OK)
        rc = read_factors(d, rope, "long_factor", f);
    if (rc == OLIVE_OK)
        rc = longrope_pair(d, f, d->cfg.context_length, mscale, "cos_cache_large", "sin_cache_large");
    if (rc == OLIVE_OK)
        rc = read_factors(d, rope, "short_factor", f);
    if (rc == OLIVE_OK)
        rc = longrope_pair(d, f, orig, mscale, "cos_cache_small", "sin_cache_small");
    free(f);
    OLIVE_TRY(rc);

    /* total length = attention_mask.shape[1]; long caches when it exceeds the original context */
    OLIVE_TRY(cvt_const_i64(d, &axis1, 1, 1, &one));
    OLIVE_TRY(cvt_const_i64(d, &orig, 1, 1, &limit));
    OLIVE_TRY(cvt_node(d, "Shape", "", "/model/rope_caches_subgraph/Shape", 1, (const char *[]){"attention_mask"}, 1,
                       NULL, &shape));
    OLIVE_TRY(cvt_node(d, "Gather", "", "/model/rope_caches_subgraph/Gather", 2, (const char *[]){shape, one}, 1, &n,
                       &width));
    if (oir_node_set_attr_int(n, "axis", 0) != OLIVE_OK)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "Greater", "", "/model/rope_caches_subgraph/Greater", 2, (const char *[]){width, limit}, 1,
                       NULL, &cond));
    OLIVE_TRY(cache_branch(d, "large", "cos_cache_large", "sin_cache_large", d->cfg.context_length, &large));
    if ((rc = cache_branch(d, "small", "cos_cache_small", "sin_cache_small", orig, &small)) != OLIVE_OK) {
        oir_graph_free(large);
        return rc;
    }
    if ((rc = cvt_node(d, "If", "", "/model/rope_caches_subgraph/If", 1, &cond, 2, &n, outs)) != OLIVE_OK) {
        oir_graph_free(large);
        oir_graph_free(small);
        return rc;
    }
    if (oir_node_set_attr_graph(n, "then_branch", large) != OLIVE_OK) {
        oir_graph_free(large);
        oir_graph_free(small);
        return OLIVE_ENOMEM;
    }
    if (oir_node_set_attr_graph(n, "else_branch", small) != OLIVE_OK) {
        oir_graph_free(small);
        return OLIVE_ENOMEM;
    }
    d->cos_cache = outs[0];
    d->sin_cache = outs[1];
    return OLIVE_OK;
}

const cvt_decoder_arch cvt_arch_phi3 = {
    .architecture = "Phi3ForCausalLM",
    .genai_type = "phi3",
    .configure = phi3_configure,
    .rotary_caches = phi3_rotary_caches,
    .weight_rows = phi3_weight_rows,
};
