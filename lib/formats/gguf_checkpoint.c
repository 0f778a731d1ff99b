/* A GGUF file seen as a Hugging Face checkpoint: llama.cpp tensor names mapped back to the
 * transformers names of the same architecture, dims reversed from ggml's ne order to PyTorch
 * order, the q/k head permutation of llama.cpp's converter marked for undoing, and config.json
 * rebuilt from the {arch}.* metadata. A model split by gguf-split is opened from its first
 * file, and its sibling files are read too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "formats/ggml_dequant.h"
#include "formats/gguf.h"
#include "ir/ir.h"

/* What differs between the supported architectures. */
typedef struct gguf_arch {
    const char *name;     /* general.architecture */
    const char *hf_class; /* config "architectures" */
    const char *model_type;
    const char *hidden_act;
    int permuted_qk;  /* llama.cpp's converter permuted q/k rows per head */
    int gemma2_norms; /* ffn_norm is the pre-feedforward norm, plus post norms */
    int fused_phi3;   /* attn_qkv and a fused gate_up in ffn_up */
} gguf_arch;

static const gguf_arch arches[] = {
    {"llama", "LlamaForCausalLM", "llama", "silu", 1, 0, 0},
    {"mistral", "MistralForCausalLM", "mistral", "silu", 1, 0, 0},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", "silu", 0, 0, 0},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", "silu", 0, 0, 0},
    {"phi3", "Phi3ForCausalLM", "phi3", "silu", 0, 0, 1},
    {"gemma", "GemmaForCausalLM", "gemma", "gelu_pytorch_tanh", 0, 0, 0},
    {"gemma2", "Gemma2ForCausalLM", "gemma2", "gelu_pytorch_tanh", 0, 1, 0},
};

/* Per-layer tensors: llama.cpp's "blk.N.<gguf>" is "model.layers.N.<hf>". */
typedef struct layer_name {
    const char *gguf, *hf;
} layer_name;

static const layer_name layer_names[] = {
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_qkv", "self_attn.qkv_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"attn_norm", "input_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
    {"ffn_norm", "post_attention_layernorm"},
    {"post_attention_norm", "post_attention_layernorm"},
    {"post_ffw_norm", "post_feedforward_layernorm"},
};

static const gguf_arch *find_arch(const ofmt_gguf_str *name)
{
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
        if (ofmt_gguf_str_eq(name, arches[i].name))
            return &arches[i];
    return NULL;
}

/* The Hugging Face name of a GGUF tensor; names with no counterpart (rope_freqs, ...) are
 * kept as they are, so nothing in the file is hidden. Sets *role to the layer tensor's GGUF
 * base name ("attn_q", ...) or "" for a global tensor. */
static char *hf_name(const gguf_arch *arch, const char *gguf, const char **role)
{
    static const layer_name globals[] = {
        {"token_embd", "model.embed_tokens"},
        {"output_norm", "model.norm"},
        {"output", "lm_head"},
    };
    const char *dot = strrchr(gguf, '.');
    *role = "";
    if (!dot)
        return olive_strdup(gguf);
    size_t base_len = (size_t)(dot - gguf);
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
        if (strlen(globals[i].gguf) == base_len && !strncmp(gguf, globals[i].gguf, base_len))
            return olive_asprintf("%s%s", globals[i].hf, dot);

    /* "blk.<decimal layer>.<part>.<weight|bias>" */
    unsigned long layer = 0;
    const char *p = gguf + 4;
    if (strncmp(gguf, "blk.", 4) || !(*p >= '0' && *p <= '9'))
        return olive_strdup(gguf);
    while (*p >= '0' && *p <= '9' && layer < 1000000)
        layer = layer * 10 + (unsigned long)(*p++ - '0');
    if (*p != '.' || p + 1 >= dot)
        return olive_strdup(gguf);
    const char *part = p + 1;
    size_t part_len = (size_t)(dot - part);
    for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++) {
        const layer_name *ln = &layer_names[i];
        if (strlen(ln->gguf) != part_len || strncmp(part, ln->gguf, part_len))
            continue;
        const char *hf = ln->hf;
        if (arch->gemma2_norms && !strcmp(ln->gguf, "ffn_norm"))
            hf = "pre_feedforward_layernorm";
        if (arch->fused_phi3 && !strcmp(ln->gguf, "ffn_up"))
            hf = "mlp.gate_up_proj";
        *role = ln->gguf;
        return olive_asprintf("model.layers.%lu.%s%s", layer, hf, dot);
    }
    return olive_strdup(gguf);
}

static int32_t plain_dtype(uint32_t ggml_type)
{
    switch (ggml_type) {
    case OFMT_GGML_F32: return OIR_FLOAT;
    case OFMT_GGML_F16: return OIR_FLOAT16;
    case OFMT_GGML_BF16: return OIR_BFLOAT16;
    case OFMT_GGML_F64: return OIR_DOUBLE;
    case OFMT_GGML_I8: return OIR_INT8;
    case OFMT_GGML_I16: return OIR_INT16;
    case OFMT_GGML_I32: return OIR_INT32;
    case OFMT_GGML_I64: return OIR_INT64;
    default: return OIR_UNDEFINED;
    }
}

/* Reads "{arch}.<suffix>" as an unsigned integer. */
static int arch_u64(const ofmt_gguf *g, const gguf_arch *a, const char *suffix, uint64_t *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", a->name, suffix);
    if (ofmt_gguf_get_u64(g, key, out))
        return 1;
    /* some files give per-layer arrays (e.g. feed_forward_length); a uniform one is a scalar */
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    if (!v || v->type != OFMT_GGUF_ARRAY || v->v.arr.n == 0)
        return 0;
    uint64_t first, x;
    if (!ofmt_gguf_array_u64(&v->v.arr, 0, &first))
        return 0;
    for (uint64_t i = 1; i < v->v.arr.n; i++)
        if (!ofmt_gguf_array_u64(&v->v.arr, i, &x) || x != first)
            return 0;
    *out = first;
    return 1;
}

/* The shortest decimal that reads back as the same float32: metadata stores 1e-5 as the
 * float32 nearest to it, and config.json should say 1e-05, not 9.999999747378752e-06. */
static double float32_decimal(double v)
{
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        double d = strtod(buf, NULL);
        if ((float)d == (float)v)
            return d;
    }
    return v;
}

static int arch_f64(const ofmt_gguf *g, const gguf_arch *a, const char *suffix, double *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", a->name, suffix);
    if (!ofmt_gguf_get_f64(g, key, out))
        return 0;
    if (ofmt_gguf_find(g, key)->type == OFMT_GGUF_FLOAT32 && isfinite(*out))
        *out = float32_decimal(*out);
    return 1;
}

static int need_u64(const ofmt_gguf *g, const gguf_arch *a, const char *suffix, uint64_t *out)
{
    if (arch_u64(g, a, suffix, out) && *out > ((uint64_t)1 << 24)) /* far beyond any model */
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': metadata key '%s.%s' is %llu, not a plausible size", g->path,
                          a->name, suffix, (unsigned long long)*out);
    if (arch_u64(g, a, suffix, out))
        return OLIVE_OK;
    return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': metadata key '%s.%s' is missing or not an unsigned integer",
                      g->path, a->name, suffix);
}

static int set_int(json_t *o, const char *k, uint64_t v)
{
    return json_object_set_new(o, k, json_integer((json_int_t)v)) ? OLIVE_ENOMEM : OLIVE_OK;
}

static int set_real(json_t *o, const char *k, double v)
{
    return json_object_set_new(o, k, json_real(v)) ? OLIVE_ENOMEM : OLIVE_OK;
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v)) ? OLIVE_ENOMEM : OLIVE_OK;
}

/* torch_dtype from general.file_type (llama_ftype): all-F32, mostly-F16 and mostly-BF16 files
 * keep their precision; quantized files were made from float16 or bfloat16 weights we cannot
 * tell apart, and float16 is what ONNX Runtime's builders default to. */
static const char *torch_dtype(const ofmt_gguf *g)
{
    uint64_t ft;
    if (!ofmt_gguf_get_u64(g, "general.file_type", &ft))
        return "float16";
    return ft == 0 ? "float32" : ft == 32 ? "bfloat16" : "float16";
}

/* eos_token_id: the end-of-sequence token, plus llama.cpp's end-of-turn and end-of-message
 * tokens when they differ (chat models stop on each), as a list the way transformers
 * configs give several. */
static int set_eos(json_t *cfg, const ofmt_gguf *g)
{
    static const char *keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                 "tokenizer.ggml.eom_token_id"};
    uint64_t ids[3];
    size_t n = 0;
    for (size_t k = 0; k < 3; k++) {
        uint64_t id;
        int seen = 0;
        if (!ofmt_gguf_get_u64(g, keys[k], &id))
            continue;
        for (size_t j = 0; j < n; j++)
            seen |= ids[j] == id;
        if (!seen)
            ids[n++] = id;
    }
    if (n == 0)
        return OLIVE_OK;
    if (n == 1)
        return set_int(cfg, "eos_token_id", ids[0]);
    json_t *list = json_array();
    for (size_t j = 0; list && j < n; j++)
        if (json_array_append_new(list, json_integer((json_int_t)ids[j]))) {
            json_decref(list);
            list = NULL;
        }
    return list && !json_object_set_new(cfg, "eos_token_id", list) ? OLIVE_OK : OLIVE_ENOMEM;
}

/* Rotary size over head size, as config.json's partial_rotary_factor (Phi-3.5, Phi-4-mini):
 * nudged up where the quotient times head_dim falls just short of the rotary size, because
 * readers truncate that product to an integer. */
static double partial_rotary_factor(uint64_t rope_dim, uint64_t head_dim)
{
    double f = (double)rope_dim / (double)head_dim;
    while ((uint64_t)(f * (double)head_dim) < rope_dim)
        f = nextafter(f, 1.0);
    return f;
}

/* Float metadata that config.json carries must be finite: JSON has no NaN or infinity. */
static int check_finite_keys(const ofmt_gguf *g, const gguf_arch *a)
{
    static const char *const suffixes[] = {"attention.layer_norm_rms_epsilon", "rope.freq_base",
                                           "attn_logit_softcapping", "final_logit_softcapping", "rope.scaling.factor"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char key[160];
        double v;
        snprintf(key, sizeof key, "%s.%s", a->name, suffixes[i]);
        if (ofmt_gguf_get_f64(g, key, &v) && !isfinite(v))
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': metadata key '%s' is %g, not a finite number", g->path,
                              key, v);
    }
    return OLIVE_OK;
}

static int build_config(json_t **out, const ofmt_gguf *g, const gguf_arch *a, int has_lm_head, uint64_t embd_rows)
{
    uint64_t hidden, inter, layers, heads, kv_heads, head_dim, ctx, vocab, tok, rope_dim;
    double eps, theta, cap;
    json_t *cfg = json_object(), *archs = json_array();
    int rc = OLIVE_OK;

    if (!cfg || !archs || json_array_append_new(archs, json_string(a->hf_class))) {
        json_decref(cfg);
        json_decref(archs);
        return OLIVE_ENOMEM;
    }
    if (json_object_set_new(cfg, "architectures", archs)) {
        json_decref(cfg);
        return OLIVE_ENOMEM;
    }
#define STEP(x)                                                                                                        \
    do {                                                                                                               \
        if (!rc)                                                                                                       \
            rc = (x);                                                                                                  \
    } while (0)
    STEP(check_finite_keys(g, a));
    STEP(need_u64(g, a, "embedding_length", &hidden));
    STEP(need_u64(g, a, "block_count", &layers));
    STEP(need_u64(g, a, "attention.head_count", &heads));
    STEP(need_u64(g, a, "feed_forward_length", &inter));
    if (!rc && heads == 0)
        rc = olive_fail(OLIVE_EFORMAT, "GGUF file '%s': metadata '%s.attention.head_count' is 0", g->path, a->name);
    if (rc) {
        json_decref(cfg);
        return rc;
    }
    kv_heads = heads;
    head_dim = hidden / heads;
    if (arch_u64(g, a, "attention.head_count_kv", &kv_heads))
        STEP(need_u64(g, a, "attention.head_count_kv", &kv_heads));
    if (arch_u64(g, a, "attention.key_length", &head_dim))
        STEP(need_u64(g, a, "attention.key_length", &head_dim));
    if (!arch_f64(g, a, "attention.layer_norm_rms_epsilon", &eps))
        eps = 1e-6;
    if (!arch_f64(g, a, "rope.freq_base", &theta))
        theta = 10000.0;
    if (arch_u64(g, a, "vocab_size", &vocab)) {
        STEP(need_u64(g, a, "vocab_size", &vocab));
    } else {
        const ofmt_gguf_array *toks = ofmt_gguf_get_array(g, "tokenizer.ggml.tokens", OFMT_GGUF_STRING);
        vocab = toks ? toks->n : embd_rows;
    }
    if (rc) {
        json_decref(cfg);
        return rc;
    }

    STEP(set_str(cfg, "model_type", a->model_type));
    STEP(set_int(cfg, "hidden_size", hidden));
    STEP(set_int(cfg, "intermediate_size", inter));
    STEP(set_int(cfg, "num_hidden_layers", layers));
    STEP(set_int(cfg, "num_attention_heads", heads));
    STEP(set_int(cfg, "num_key_value_heads", kv_heads));
    STEP(set_int(cfg, "head_dim", head_dim));
    if (!rc && arch_u64(g, a, "rope.dimension_count", &rope_dim) && rope_dim > 0 && rope_dim < head_dim)
        STEP(set_real(cfg, "partial_rotary_factor", partial_rotary_factor(rope_dim, head_dim)));
    STEP(set_real(cfg, "rms_norm_eps", eps));
    STEP(set_real(cfg, "rope_theta", theta));
    STEP(set_str(cfg, "hidden_act", a->hidden_act));
    if (arch_u64(g, a, "context_length", &ctx))
        STEP(set_int(cfg, "max_position_embeddings", ctx));
    STEP(set_int(cfg, "vocab_size", vocab));
    STEP(json_object_set_new(cfg, "tie_word_embeddings", json_boolean(!has_lm_head)) ? OLIVE_ENOMEM : OLIVE_OK);
    if (ofmt_gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &tok))
        STEP(set_int(cfg, "bos_token_id", tok));
    STEP(set_eos(cfg, g));
    if (ofmt_gguf_get_u64(g, "tokenizer.ggml.padding_token_id", &tok))
        STEP(set_int(cfg, "pad_token_id", tok));
    STEP(set_str(cfg, "torch_dtype", torch_dtype(g)));
    STEP(ofmt_gguf_rope_scaling(cfg, g, a->name));
    if (arch_u64(g, a, "attention.sliding_window", &ctx))
        STEP(set_int(cfg, "sliding_window", ctx));
    if (arch_f64(g, a, "attn_logit_softcapping", &cap))
        STEP(set_real(cfg, "attn_logit_softcapping", cap));
    if (arch_f64(g, a, "final_logit_softcapping", &cap))
        STEP(set_real(cfg, "final_logit_softcapping", cap));
    if (!strncmp(a->name, "gemma", 5))
        STEP(set_str(cfg, "hidden_activation", a->hidden_act)); /* the key Gemma configs read */
    /* GGUF does not store Gemma 2's attention scale; llama.cpp takes hidden/heads for the
     * 27B model (46 layers) and head_dim for the others, as their configs say */
    if (a->gemma2_norms)
        STEP(set_int(cfg, "query_pre_attn_scalar", layers == 46 ? hidden / heads : head_dim));
#undef STEP
    if (rc) {
        json_decref(cfg);
        return rc;
    }
    *out = cfg;
    return OLIVE_OK;
}

static uint64_t gguf_heads(const ofmt_gguf *g, const gguf_arch *a, const char *suffix)
{
    uint64_t n = 0;
    return arch_u64(g, a, suffix, &n) ? n : 0;
}

/* Adds the tensors of one file (the first or a later split); the head counts come from the
 * first file, which alone holds the metadata. */
static int add_tensors(ofmt_checkpoint *c, const ofmt_gguf *g, const gguf_arch *a, uint64_t n_head, uint64_t n_head_kv)
{
    for (size_t i = 0; i < g->n_tensors; i++) {
        const ofmt_gguf_tensor *gt = &g->tensors[i];
        ofmt_tensor t = {0};
        const char *role;

        if (!ofmt_ggml_can_dequant(gt->type) && plain_dtype(gt->type) == OIR_UNDEFINED)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "GGUF file '%s': tensor '%s' has GGML type %s (%u), which this build cannot dequantize",
                              g->path, gt->name, ofmt_ggml_type_name(gt->type), gt->type);
        t.name = hf_name(a, gt->name, &role);
        if (!t.name)
            return OLIVE_ENOMEM;
        t.file = g->blob->path ? g->blob->path : c->path; /* the blob outlives the tensor */
        t.rank = gt->n_dims;
        for (uint32_t d = 0; d < gt->n_dims; d++)
            t.dims[d] = (int64_t)gt->ne[gt->n_dims - 1 - d];
        t.dtype = plain_dtype(gt->type);
        t.storage = t.dtype != OIR_UNDEFINED ? OFMT_PLAIN : OFMT_GGML;
        t.ggml_type = gt->type;
        t.offset = gt->offset;
        t.nbytes = gt->nbytes;
        if (a->permuted_qk && !strcmp(role, "attn_q"))
            t.unpermute_heads = (int64_t)n_head;
        else if (a->permuted_qk && !strcmp(role, "attn_k"))
            t.unpermute_heads = (int64_t)n_head_kv;
        t.blob = olive_blob_ref(g->blob);
        int rc = ofmt_checkpoint_add_tensor(c, &t);
        if (rc)
            return olive_fail_context(rc, "GGUF tensor '%s'", gt->name);
    }
    return OLIVE_OK;
}

/* A model split by llama.cpp's gguf-split is "<prefix>-00001-of-0000N.gguf" plus its siblings;
 * only the first holds metadata, every file holds split.no and split.count. */
static int add_splits(ofmt_checkpoint *c, const ofmt_gguf *first, const gguf_arch *a, uint64_t n_head,
                      uint64_t n_head_kv)
{
    uint64_t count, total = first->n_tensors, want_total;
    if (!ofmt_gguf_get_u64(first, "split.count", &count) || count <= 1)
        return OLIVE_OK;
    if (count > 9999)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': split.count %llu is impossible", first->path,
                          (unsigned long long)count);
    char tail[40];
    size_t len = strlen(first->path);
    snprintf(tail, sizeof tail, "-00001-of-%05llu.gguf", (unsigned long long)count);
    if (len < strlen(tail) || strcmp(first->path + len - strlen(tail), tail))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' is split in %llu files but is not named '<name>%s'",
                          first->path, (unsigned long long)count, tail);
    size_t prefix = len - strlen(tail);
    for (uint64_t i = 1; i < count; i++) {
        char *path = olive_asprintf("%.*s-%05llu-of-%05llu.gguf", (int)prefix, first->path, (unsigned long long)i + 1,
                                    (unsigned long long)count);
        ofmt_gguf *g = NULL;
        uint64_t g_no, g_count;
        int rc = path ? ofmt_gguf_read(&g, path) : OLIVE_ENOMEM;
        if (rc)
            rc = olive_fail_context(rc, "split %llu of %llu of '%s'", (unsigned long long)i + 1,
                                    (unsigned long long)count, first->path);
        else if (!ofmt_gguf_get_u64(g, "split.no", &g_no) || !ofmt_gguf_get_u64(g, "split.count", &g_count) ||
                 g_no != i || g_count != count)
            rc = olive_fail(OLIVE_EFORMAT,
                            "GGUF file '%s' is not split %llu of %llu (its split.no / split.count say otherwise)", path,
                            (unsigned long long)i + 1, (unsigned long long)count);
        if (!rc)
            rc = ofmt_checkpoint_keep_blob(c, g->blob);
        if (!rc)
            rc = add_tensors(c, g, a, n_head, n_head_kv);
        if (!rc)
            total += g->n_tensors;
        ofmt_gguf_free(g);
        free(path);
        OLIVE_TRY(rc);
    }
    if (ofmt_gguf_get_u64(first, "split.tensors.count", &want_total) && want_total != total)
        return olive_fail(
            OLIVE_EFORMAT, "GGUF file '%s': split.tensors.count is %llu but its %llu files hold %llu tensors",
            first->path, (unsigned long long)want_total, (unsigned long long)count, (unsigned long long)total);
    return OLIVE_OK;
}

static int open_checkpoint(ofmt_checkpoint *c, const ofmt_gguf *g)
{
    uint64_t split_no;
    if (ofmt_gguf_find(g, "split.no") && (!ofmt_gguf_get_u64(g, "split.no", &split_no) || split_no != 0))
        return olive_fail(
            OLIVE_EFORMAT,
            "GGUF file '%s' is not the first file of its split model (split.no is not 0): open the first one", g->path);
    const ofmt_gguf_str *arch_name = ofmt_gguf_get_str(g, "general.architecture");
    if (!arch_name)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' has no string 'general.architecture'", g->path);
    const gguf_arch *a = find_arch(arch_name);
    if (!a && !ofmt_gguf_str_utf8(arch_name))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': 'general.architecture' is not valid UTF-8", g->path);
    if (!a)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "GGUF file '%s': architecture '%.*s' is not supported (llama, mistral, qwen2, qwen3, phi3, "
                          "gemma, gemma2 are)",
                          g->path, ofmt_gguf_str_quote_len(arch_name, 64), arch_name->ptr);
    uint64_t n_head = gguf_heads(g, a, "attention.head_count");
    uint64_t n_head_kv = gguf_heads(g, a, "attention.head_count_kv");
    if (!n_head_kv)
        n_head_kv = n_head;
    OLIVE_TRY(ofmt_checkpoint_keep_blob(c, g->blob));
    OLIVE_TRY(add_tensors(c, g, a, n_head, n_head_kv));
    OLIVE_TRY(add_splits(c, g, a, n_head, n_head_kv));
    const ofmt_tensor *embd = ofmt_checkpoint_find(c, "model.embed_tokens.weight");
    OLIVE_TRY(build_config(&c->config, g, a, ofmt_checkpoint_find(c, "lm_head.weight") != NULL,
                           embd && embd->rank == 2 ? (uint64_t)embd->dims[0] : 0));
    return ofmt_gguf_tokenizer_files(c, g);
}

int ofmt_gguf_open(ofmt_checkpoint **out, const char *file)
{
    ofmt_gguf *g;
    if (!out || !file)
        return olive_fail(OLIVE_EINVALID, "ofmt_gguf_open: out and file must not be NULL");
    OLIVE_TRY(ofmt_gguf_read(&g, file));
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_GGUF_FILE, file);
    int rc = c ? open_checkpoint(c, g) : OLIVE_ENOMEM;
    ofmt_gguf_free(g);
    /* jansson reports no reason for a failed allocation: name the file at least */
    if (rc == OLIVE_ENOMEM)
        olive_fail(OLIVE_ENOMEM, "GGUF file '%s': out of memory building the checkpoint", file);
    if (rc) {
        ofmt_checkpoint_free(c);
        return rc;
    }
    *out = c;
    return OLIVE_OK;
}
