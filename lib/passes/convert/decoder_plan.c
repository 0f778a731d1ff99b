/* The per-module quantization plan (see decoder_plan.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder_plan.h"

struct cvt_quant_plan {
    json_t *root;
    cvt_module_quant base;
    int lm_head, embeds;
    enum { SEL_NONE, SEL_MIXED, SEL_DOWN, SEL_LAST, SEL_SCORED, SEL_BUILDER_MIXED } selective;
    char algorithm[16];         /* SEL_SCORED: snr, snr_relative, iqe, iqe_relative or kld_gradient */
    cvt_score_settings scoring; /* SEL_SCORED */
    json_t *chosen;             /* SEL_SCORED: module -> true */
    int high_bits;
    int64_t n_layers;
    int tied;
    const json_t *overrides; /* borrowed from root; may be NULL */
    int gptq;                /* the plan has a GPTQ part */
    int gptq_head;           /* ... which takes the LM head too (Gptq's lm_head) */
    cvt_module_quant gptq_base;
    json_t *gptq_nodes; /* node -> {bits, group_size} */
};

static int check_bits(int64_t bits, const char *where)
{
    return bits == 4 || bits == 8 ? OLIVE_OK : olive_fail(OLIVE_EINVALID, "quant_plan%s: bits must be 4 or 8", where);
}

static int check_block(int64_t bs, const char *where)
{
    if (bs < 16 || bs > 256 || (bs & (bs - 1)))
        return olive_fail(OLIVE_EINVALID, "quant_plan%s: group_size %lld: expected 16, 32, 64, 128 or 256", where,
                          (long long)bs);
    return OLIVE_OK;
}

/* Reads bits / group_size / symmetric of `obj` over *q (keys absent or null keep q's). */
static int read_settings(const json_t *obj, cvt_module_quant *q, const char *where)
{
    const json_t *v;
    if ((v = json_object_get(obj, "bits")) && !json_is_null(v)) {
        if (!json_is_integer(v))
            return olive_fail(OLIVE_EINVALID, "quant_plan%s.bits: expected 4 or 8", where);
        OLIVE_TRY(check_bits(json_integer_value(v), where));
        q->bits = (int)json_integer_value(v);
    }
    if ((v = json_object_get(obj, "group_size")) && !json_is_null(v)) {
        if (!json_is_integer(v))
            return olive_fail(OLIVE_EINVALID, "quant_plan%s.group_size: expected an integer", where);
        OLIVE_TRY(check_block(json_integer_value(v), where));
        q->block_size = (int)json_integer_value(v);
    }
    if ((v = json_object_get(obj, "symmetric")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return olive_fail(OLIVE_EINVALID, "quant_plan%s.symmetric: expected true or false", where);
        q->symmetric = json_is_true(v);
    }
    return OLIVE_OK;
}

int cvt_plan_parse(const char *text, int64_t n_layers, int tied, cvt_quant_plan **out)
{
    json_error_t err;
    cvt_quant_plan *p;
    const json_t *v, *sel;
    int rc = OLIVE_OK;
    *out = NULL;
    if (!text || !*text)
        return OLIVE_OK;
    if (!(p = olive_calloc(1, sizeof *p)))
        return OLIVE_ENOMEM;
    p->root = json_loads(text, 0, &err);
    p->n_layers = n_layers;
    p->tied = tied;
    p->base = (cvt_module_quant){1, 4, 128, 0};
    if (!p->root || !json_is_object(p->root)) {
        rc = olive_fail(OLIVE_EINVALID, "quant_plan: expected a JSON object (%s)",
                        p->root ? "not an object" : err.text);
        goto out;
    }
    if ((rc = read_settings(p->root, &p->base, "")) != OLIVE_OK)
        goto out;
    p->lm_head = json_is_true(json_object_get(p->root, "lm_head"));
    p->embeds = json_is_true(json_object_get(p->root, "embeds"));
    if ((sel = json_object_get(p->root, "selective")) && !json_is_null(sel)) {
        const char *alg = json_string_value(json_object_get(sel, "algorithm"));
        const int scored = alg && (!strcmp(alg, "snr") || !strcmp(alg, "snr_relative") || !strcmp(alg, "iqe") ||
                                   !strcmp(alg, "iqe_relative") || !strcmp(alg, "kld_gradient"));
        p->selective = !alg                                                                           ? SEL_NONE
                       : !strcmp(alg, "k_quant_mixed") || !strcmp(alg, "high_precision_mlp_down_qkv") ? SEL_MIXED
                       : !strcmp(alg, "k_quant_down") || !strcmp(alg, "high_precision_mlp_down")      ? SEL_DOWN
                       : !strcmp(alg, "k_quant_last") || !strcmp(alg, "high_precision_lm_head")       ? SEL_LAST
                       : !strcmp(alg, "last_matmul")                                                  ? SEL_LAST
                       : !strcmp(alg, "mixed_layers") ? SEL_BUILDER_MIXED
                       : scored                       ? SEL_SCORED
                                                      : SEL_NONE;
        if (p->selective == SEL_NONE) {
            rc = olive_fail(
                OLIVE_EINVALID,
                "quant_plan.selective.algorithm '%s': expected k_quant_mixed (high_precision_mlp_down_qkv), "
                "k_quant_down (high_precision_mlp_down), k_quant_last (high_precision_lm_head), snr, "
                "snr_relative, iqe, iqe_relative, kld_gradient, last_matmul or mixed_layers",
                alg ? alg : "(none)");
            goto out;
        }
        v = json_object_get(sel, "high_bits");
        p->high_bits = json_is_integer(v) ? (int)json_integer_value(v) : 8;
        if ((rc = check_bits(p->high_bits, ".selective.high_bits")) != OLIVE_OK)
            goto out;
        if (scored) {
            cvt_score_settings *ss = &p->scoring;
            const json_t *r = json_object_get(sel, "ratio");
            snprintf(p->algorithm, sizeof p->algorithm, "%s", alg);
            ss->bits = p->base.bits;
            ss->high_bits = p->high_bits;
            ss->group_size = (int)json_integer_value(json_object_get(sel, "group_size"));
            ss->high_group_size = (int)json_integer_value(json_object_get(sel, "high_group_size"));
            ss->symmetric = json_is_true(json_object_get(sel, "symmetric"));
            ss->high_symmetric = json_is_true(json_object_get(sel, "high_symmetric"));
            ss->ratio = json_is_number(r) ? json_number_value(r) : -1;
            if (!(ss->ratio > 0 && ss->ratio < 1)) {
                rc = olive_fail(OLIVE_EINVALID, "quant_plan.selective.ratio: %s needs a ratio between 0 and 1", alg);
                goto out;
            }
            if (ss->group_size == 0 || ss->high_group_size == 0) {
                rc = olive_fail(OLIVE_EINVALID,
                                "quant_plan.selective: %s takes group_size -1 (per channel) or a "
                                "positive size, not 0 (per tensor)",
                                alg);
                goto out;
            }
            if (!(p->chosen = json_object())) {
                rc = OLIVE_ENOMEM;
                goto out;
            }
        }
    }
    if ((v = json_object_get(p->root, "overrides")) && !json_is_null(v)) {
        const char *name;
        const json_t *o;
        if (!json_is_object(v)) {
            rc = olive_fail(OLIVE_EINVALID, "quant_plan.overrides: expected an object of module names");
            goto out;
        }
        json_object_foreach((json_t *)v, name, o)
        {
            cvt_module_quant probe = p->base;
            char *where = olive_asprintf(".overrides.%s", name);
            rc = !where ? OLIVE_ENOMEM
                 : !json_is_object(o)
                     ? olive_fail(OLIVE_EINVALID, "quant_plan%s: expected an object (bits, group_size, symmetric)",
                                  where)
                     : read_settings(o, &probe, where);
            free(where);
            if (rc != OLIVE_OK)
                goto out;
        }
        p->overrides = v;
    }
    if ((v = json_object_get(p->root, "gptq")) && !json_is_null(v)) {
        p->gptq = 1;
        p->gptq_head = json_is_true(json_object_get(v, "lm_head"));
        p->gptq_base = p->base;
        if ((rc = read_settings(v, &p->gptq_base, ".gptq")) != OLIVE_OK)
            goto out;
        if (!(p->gptq_nodes = json_object())) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
    }
out:
    if (rc != OLIVE_OK) {
        cvt_plan_free(p);
        return rc;
    }
    *out = p;
    return OLIVE_OK;
}

void cvt_plan_free(cvt_quant_plan *p)
{
    if (!p)
        return;
    json_decref(p->root);
    json_decref(p->gptq_nodes);
    json_decref(p->chosen);
    free(p);
}

int cvt_plan_k_quant_layer(int64_t layer, int64_t n_layers)
{
    /* Olive: idx < n/8 or idx >= 7n/8 (true division) or (idx - n//8) % 3 == 2 (Python's modulo,
     * never negative; idx >= n//8 whenever the first test fails, so C's % agrees). */
    return 8 * layer < n_layers || 8 * layer >= 7 * n_layers || (layer - n_layers / 8) % 3 == 2;
}

/* onnxruntime-genai's builder's mixed_layers rule: i < n/8 or i >= 7n/8 (true division) or
 * (i - round(n/8)) % 3 == 2, with Python's round (half to even) and modulo (never negative). */
static int builder_mixed_layer(int64_t layer, int64_t n_layers)
{
    int64_t eighth = n_layers / 8, rem = n_layers % 8, m;
    if (rem > 4 || (rem == 4 && eighth % 2)) /* round half to even */
        eighth++;
    m = (layer - eighth) % 3;
    return 8 * layer < n_layers || 8 * layer >= 7 * n_layers || (m < 0 ? m + 3 : m) == 2;
}

/* "model.layers.<i>.<rest>": *layer and the rest; 0 when the name is not a layer's. */
static int layer_of(const char *name, int64_t *layer, const char **rest)
{
    static const char prefix[] = "model.layers.";
    char *end;
    if (strncmp(name, prefix, sizeof prefix - 1))
        return 0;
    *layer = strtoll(name + sizeof prefix - 1, &end, 10);
    if (end == name + sizeof prefix - 1 || *end != '.')
        return 0;
    *rest = end + 1;
    return 1;
}

/* Olive's k-quant rule: the head always; in the chosen layers the MLP output (down_proj) and,
 * for k_quant_mixed, the attention inputs (q/k/v, or a packed qkv_proj). */
static int selected(const cvt_quant_plan *p, const char *name, int is_lm_head)
{
    int64_t layer;
    const char *rest;
    if (p->selective == SEL_NONE)
        return 0;
    if (p->selective == SEL_SCORED)
        return json_object_get(p->chosen, is_lm_head ? "lm_head" : name) != NULL;
    if (is_lm_head)
        return 1;
    if (p->selective == SEL_BUILDER_MIXED) /* v (and so a packed qkv) and down, as the builder names them */
        return layer_of(name, &layer, &rest) && builder_mixed_layer(layer, p->n_layers) &&
               (!strcmp(rest, "self_attn.v_proj") || !strcmp(rest, "self_attn.qkv_proj") ||
                !strcmp(rest, "mlp.down_proj"));
    if (p->selective == SEL_LAST || !layer_of(name, &layer, &rest) || !cvt_plan_k_quant_layer(layer, p->n_layers))
        return 0;
    if (!strcmp(rest, "mlp.down_proj"))
        return 1;
    return p->selective == SEL_MIXED && (!strcmp(rest, "self_attn.q_proj") || !strcmp(rest, "self_attn.k_proj") ||
                                         !strcmp(rest, "self_attn.v_proj") || !strcmp(rest, "self_attn.qkv_proj"));
}

/* The high settings: Olive's k-quant rules change the bits only, the scored ones all three. */
static void promote(const cvt_quant_plan *p, cvt_module_quant *q)
{
    q->bits = p->high_bits;
    if (p->selective == SEL_SCORED) {
        if (p->scoring.high_group_size > 0)
            q->block_size = p->scoring.high_group_size;
        q->symmetric = p->scoring.high_symmetric;
    }
}

cvt_module_quant cvt_plan_module(const cvt_quant_plan *p, const char *name, int is_lm_head, int is_embeds)
{
    cvt_module_quant q = p->base;
    const json_t *o;
    if ((is_lm_head && !p->lm_head) || (is_embeds && !p->embeds)) {
        q.quantize = 0;
        return q;
    }
    /* Tied embeddings take the head's selection, as Olive copies the head's override. */
    if (is_embeds ? p->tied && selected(p, "lm_head", 1) : selected(p, name, is_lm_head))
        promote(p, &q);
    if (p->overrides && (o = json_object_get(p->overrides, name)))
        (void)read_settings(o, &q, ""); /* checked when parsed */
    return q;
}

int cvt_plan_embeds(const cvt_quant_plan *p)
{
    return p && p->embeds;
}

int cvt_plan_has_gptq(const cvt_quant_plan *p)
{
    return p && p->gptq;
}

int cvt_plan_gptq_module(const cvt_quant_plan *p, const char *name, int is_lm_head, cvt_module_quant *mq)
{
    if (!p || !p->gptq || (is_lm_head && !p->gptq_head))
        return 0;
    *mq = p->gptq_base;
    if (selected(p, name, is_lm_head))
        promote(p, mq);
    return 1;
}

int cvt_plan_note_gptq(cvt_quant_plan *p, const char *node, const cvt_module_quant *mq)
{
    json_t *e = json_pack("{s:i, s:i}", "bits", mq->bits, "group_size", mq->block_size);
    if (!e || json_object_set_new(p->gptq_nodes, node, e))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    return OLIVE_OK;
}

char *cvt_plan_gptq_text(const cvt_quant_plan *p)
{
    if (!p || !p->gptq_nodes || !json_object_size(p->gptq_nodes))
        return NULL;
    return json_dumps(p->gptq_nodes, JSON_COMPACT | JSON_SORT_KEYS);
}

const char *cvt_plan_scored(const cvt_quant_plan *p, cvt_score_settings *s)
{
    if (!p || p->selective != SEL_SCORED)
        return NULL;
    *s = p->scoring;
    return p->algorithm;
}

int cvt_plan_select(cvt_quant_plan *p, const char *name)
{
    if (!name || json_object_set_new(p->chosen, name, json_true()))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    return OLIVE_OK;
}
