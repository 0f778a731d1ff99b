/* Decoder-only language models (Llama, Mistral, Qwen2/3, Phi3, Gemma, ...) from a checkpoint
 * to the graph ONNX Runtime GenAI runs: input_ids + attention_mask + past_key_values.N.key/value
 * (BNSH) in, logits + present.N.key/value out, com.microsoft GroupQueryAttention with rotary
 * caches, (Skip)SimplifiedLayerNormalization, MatMul or MatMulNBits.
 *
 * One builder serves every architecture. An architecture is a cvt_decoder_arch: its
 * config.json name, the genai_config "type", and optional hooks that replace one step of the
 * default build (configure, rotary caches, embeddings, layer, attention, MLP, head). A hook
 * builds with the cvt_* helpers below, which stream each weight from the checkpoint into the
 * spill file and name nodes and initializers the way onnxruntime-genai's builder does
 * ("/model/layers.0/attn/qkv_proj/MatMul", "model.layers.0.attn.qkv_proj.MatMul.weight").
 *
 * Value and node names returned by helpers are owned by the builder (valid until it is
 * freed). Every helper returns OLIVE_OK or an error code with the message set. */
#ifndef OLIVE_PASSES_CONVERT_DECODER_H
#define OLIVE_PASSES_CONVERT_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "core/spill.h"
#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

typedef enum cvt_precision { CVT_FP32 = 0, CVT_FP16, CVT_BF16, CVT_INT4, CVT_INT8 } cvt_precision;

typedef enum cvt_activation { CVT_ACT_SILU = 0, CVT_ACT_GELU_TANH, CVT_ACT_GELU } cvt_activation;

/* Where q and k are RMS-normed: not at all, per head over head_dim (Qwen3, Gemma 3), or over
 * the whole projection, all heads at once (OLMo 2). */
typedef enum cvt_qk_norm { CVT_QK_NORM_NONE = 0, CVT_QK_NORM_HEAD, CVT_QK_NORM_FULL } cvt_qk_norm;

/* The model as config.json describes it, after the architecture's configure hook. */
typedef struct cvt_decoder_config {
    int64_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab;
    int64_t context_length;    /* max_position_embeddings: rows of the rotary caches */
    double norm_eps;           /* rms_norm_eps */
    cvt_activation activation; /* hidden_act */
    /* Rotary embedding (rope_theta / rope_scaling or transformers 5's rope_parameters). */
    double rope_theta;
    double rope_local_theta; /* base of the sliding-window layers' own caches (Gemma 3) */
    int64_t rotary_dim;      /* head_dim * partial_rotary_factor */
    char rope_type[24];      /* "default", "llama3", "linear", "dynamic", or an arch's own */
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int64_t rope_original_context; /* original_max_position_embeddings, 0 when absent */
    int rotary_interleaved;
    /* Layout. */
    int tied_embeddings;            /* lm_head reuses embed_tokens (no lm_head.weight or tie_word_embeddings) */
    int qkv_bias, o_bias, mlp_bias; /* Linear layers with a bias */
    cvt_qk_norm qk_norm;            /* RMSNorm of q and k before rotary (Qwen3, OLMo 2) */
    /* Architecture tweaks (hooks set them; the default build applies them). */
    float norm_weight_offset;  /* added to every RMSNorm weight (Gemma: 1) */
    double embed_scale;        /* embeddings multiplied by this when non-zero (Gemma: sqrt(hidden)) */
    float attn_scale;          /* GroupQueryAttention scale; 0: 1/sqrt(head_dim) */
    float attn_softcap;        /* GroupQueryAttention softcap; 0: none */
    float final_logit_softcap; /* logits = c * tanh(logits / c) when non-zero */
    double residual_scale;  /* attention and MLP outputs multiplied by this before the residual add (Granite); 0: 1 */
    double logit_scale;     /* logits multiplied by this when non-zero (Granite: 1 / logits_scaling) */
    int64_t sliding_window; /* local_window_size for layers cvt_layer_is_sliding says; 0: none */
    /* Token ids for genai_config.json (-1 when absent). */
    int64_t bos_id, pad_id;
} cvt_decoder_config;

/* Options from the pass parameters. */
/* What int4/int8 does with quantized GGUF weights: round their float values again, carry
 * their blocks with fitted integer zero points (KEEP8: blocks with a minimum in 8 bits, their
 * codes spread over the byte), or with float ones (exact). */
enum { CVT_GGUF_REQUANTIZE = 0, CVT_GGUF_KEEP = 1, CVT_GGUF_EXACT = 2, CVT_GGUF_KEEP8 = 3 };

typedef struct cvt_decoder_options {
    cvt_precision precision;
    const char *execution_provider; /* "cpu", "cuda", "dml", "webgpu" */
    int block_size;                 /* int4/int8 block along K */
    int accuracy_level;             /* MatMulNBits accuracy_level written (resolved, 0: omitted) */
    int symmetric;
    int algorithm;             /* OLIVE_BLOCKQ_DEFAULT, _RTN or _KQUANT: the builder's algo_config base */
    const char *placement;     /* the algo_config's mixed precision: "last_matmul", "mixed_layers" or NULL */
    int keep_gguf_blocks;      /* int4/int8 from quantized GGUF weights: CVT_GGUF_* */
    int exclude_embeds;        /* graph takes inputs_embeds instead of input_ids */
    int exclude_lm_head;       /* graph outputs hidden_states instead of logits */
    int include_hidden_states; /* hidden_states output besides logits */
    int disable_qkv_fusion;    /* separate q/k/v MatMuls */
    int cuda_graph, dml_graph, webgpu_graph; /* graph capture in genai_config's provider options */
    int64_t num_hidden_layers;               /* 0: all */
    const char *quant_plan;                  /* per-module int4/int8 settings as JSON (decoder_plan.h); "" for none */
    const char *rotate_mode;                 /* QuaRot: "hadamard", "random", or "" for none (decoder_rotate.h) */
    int64_t rotate_seed;
    const char *selection_data; /* kld_gradient: folder of calibration .npy files; "" for none */
} cvt_decoder_options;

typedef struct cvt_decoder cvt_decoder;

/* The residual stream between layers: `residual` is the running sum; `pending`, when not
 * NULL, is a branch output still to be added (by the next SkipSimplifiedLayerNormalization). */
typedef struct cvt_residual {
    const char *residual;
    const char *pending;
} cvt_residual;

/* A projection whose rows an architecture may store elsewhere (weight_rows hook). */
typedef enum cvt_proj { CVT_PROJ_Q = 0, CVT_PROJ_K, CVT_PROJ_V, CVT_PROJ_GATE, CVT_PROJ_UP } cvt_proj;

/* Rows [first, first + count) of a checkpoint tensor viewed as [rows, row_length] (a Linear
 * weight [out, in]); count 0: every row. For a bias (1-D), an element range. */
typedef struct cvt_rows {
    const char *tensor;
    int64_t first, count;
} cvt_rows;

typedef struct cvt_decoder_arch {
    const char *architecture; /* config.json "architectures" entry, e.g. "LlamaForCausalLM" */
    const char *genai_type;   /* genai_config.json model.type, e.g. "llama" */
    /* After the common config is read: read the architecture's own keys, set tweaks.
     * OLIVE_EUNSUPPORTED for a variant it cannot build. NULL: nothing to do. */
    int (*configure)(cvt_decoder *d);
    /* Creates the rotary caches and sets d->cos_cache / d->sin_cache to their values
     * (initializers or computed). NULL: cvt_rotary_caches. */
    int (*rotary_caches)(cvt_decoder *d);
    /* Token embeddings into *hidden (a value of io dtype [batch, seq, hidden]). NULL: cvt_embed. */
    int (*embed)(cvt_decoder *d, const char **hidden);
    /* One transformer layer on the residual stream. NULL: cvt_layer. */
    int (*layer)(cvt_decoder *d, int64_t layer, cvt_residual *r);
    /* Attention of layer `layer` on normed input x into *out. NULL: cvt_attention. */
    int (*attention)(cvt_decoder *d, int64_t layer, const char *x, const char **out);
    /* MLP of layer `layer` on normed input x into *out. NULL: cvt_mlp. */
    int (*mlp)(cvt_decoder *d, int64_t layer, const char *x, const char **out);
    /* Where layer `layer`'s projection `which` is: *out gets a checkpoint tensor (name owned
     * by the builder, e.g. from cvt_str) and a row range, the hook having checked the
     * tensor's shape. NULL: model.layers.N.self_attn.{q,k,v}_proj.weight and
     * model.layers.N.mlp.{gate,up}_proj.weight, all rows (shapes checked by the default). */
    int (*weight_rows)(cvt_decoder *d, int64_t layer, cvt_proj which, cvt_rows *out);
    /* Final norm and lm_head: writes the graph outputs "logits" (and "hidden_states"). NULL:
     * cvt_head. */
    int (*head)(cvt_decoder *d, cvt_residual *r);
    /* 1 if layer `layer` uses the sliding window (when cfg.sliding_window > 0). NULL: all. */
    int (*layer_is_sliding)(const cvt_decoder *d, int64_t layer);
    /* 1 if layer `layer` rotates q and k (0: a no-position layer, SmolLM3's NoPE). NULL: all. */
    int (*layer_has_rotary)(const cvt_decoder *d, int64_t layer);
} cvt_decoder_arch;

struct cvt_decoder {
    const cvt_decoder_arch *arch;
    const ofmt_checkpoint *ck;
    oir_model *m;
    oir_graph *g;
    cvt_decoder_config cfg;
    cvt_decoder_options opt;
    struct cvt_quant_plan *plan;     /* parsed opt.quant_plan, or NULL */
    struct cvt_rotation *rot;        /* from opt.rotate_mode, or NULL */
    struct cvt_float_log *float_log; /* records the float Linear weights written, or NULL */
    int32_t io_dtype;                /* activations, KV cache, logits: float, float16 or bfloat16 */
    int64_t n_layers;                /* layers built (num_hidden_layers option or all) */
    /* GPTQ's results on the float32 CPU twin, for a float16 build (decoder_gptq_twin.h), or NULL */
    struct cvt_gptq_result *gptq;
    /* Graph values every layer reads (set before the layers are built). */
    const char *input_ids;     /* "input_ids" (or NULL with exclude_embeds) */
    const char *seqlens_k;     /* int32 [batch]: attention_mask sum - 1 */
    const char *total_seq_len; /* int32 scalar: attention_mask's second dim */
    const char *cos_cache, *sin_cache;
    /* Rotary inside GroupQueryAttention (do_rotary=1), except on dml where the builder applies
     * com.microsoft RotaryEmbedding to q and k with a position_ids input, q/k/v unpacked. */
    int rotary_in_attention;
    const char *position_ids; /* "position_ids" when !rotary_in_attention, else NULL */
    /* LoRA layers taken as graph inputs (adapter_path), and which of them the build used. */
    struct ofmt_lora *lora;
    unsigned char *lora_used;
    /* Internal state of the helpers. */
    olive_spill *spill;
    olive_pass_ctx *ctx;
    size_t weights_done, weights_total;
    int carry_noted; /* the note that GGUF blocks win over block_size / precision is logged */
    /* The lm_head's weight when its GGUF blocks were carried (bits 0: they were not), which
     * tied embeddings gather from. */
    struct {
        int bits, block_size, float_zps;
        const char *zero_points; /* NULL: none */
    } lm_head_carried;
    size_t n_strings, cap_strings;
    char **strings;
    size_t n_pending, cap_pending;
    struct cvt_pending *pending;
};

/* ---- registered architectures ----
 * arch_llama.c: Llama, Mistral, Qwen2, Qwen3; arch_phi3.c: Phi3; arch_gemma.c: Gemma, Gemma 2, Gemma 3;
 * arch_granite.c: Granite; arch_olmo2.c: OLMo 2; arch_smollm3.c: SmolLM3. decoder_build.c lists
 * them. */

extern const cvt_decoder_arch cvt_arch_llama, cvt_arch_mistral, cvt_arch_qwen2, cvt_arch_qwen3;
extern const cvt_decoder_arch cvt_arch_phi3, cvt_arch_gemma, cvt_arch_gemma2, cvt_arch_gemma3;
extern const cvt_decoder_arch cvt_arch_granite, cvt_arch_olmo2, cvt_arch_smollm3;

/* ---- the default steps (hooks may call them and add to them) ---- */

int cvt_rotary_caches(cvt_decoder *d);
/* The cos/sin initializers for cfg's rotary settings under the given names (the default
 * step's "cos_cache" / "sin_cache"; an architecture with several sets names each). */
int cvt_rotary_cache_pair(cvt_decoder *d, const char *cos_name, const char *sin_name);
int cvt_embed(cvt_decoder *d, const char **hidden);
int cvt_layer(cvt_decoder *d, int64_t layer, cvt_residual *r);
int cvt_attention(cvt_decoder *d, int64_t layer, const char *x, const char **out);
int cvt_mlp(cvt_decoder *d, int64_t layer, const char *x, const char **out);
int cvt_head(cvt_decoder *d, cvt_residual *r);
int cvt_layer_is_sliding(const cvt_decoder *d, int64_t layer);
int cvt_layer_has_rotary(const cvt_decoder *d, int64_t layer);

/* Fills cos/sin [rows, rotary_dim / 2] (row-major, float) for positions 0..rows-1 with
 * inverse frequencies inv_freq[rotary_dim / 2]. */
void cvt_rotary_fill(const double *inv_freq, int64_t half, int64_t rows, float *cos_out, float *sin_out);
/* The inverse frequencies for cfg's rope_type (default, linear, dynamic, llama3) into
 * inv_freq[rotary_dim / 2]. OLIVE_EUNSUPPORTED naming an unknown rope_type. */
int cvt_rotary_inv_freq(const cvt_decoder *d, double *inv_freq);

/* ---- building blocks ---- */

/* A string owned by the builder (printf-style); NULL on ENOMEM (error set). */
const char *cvt_str(cvt_decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds node `op_type` (domain "" or "com.microsoft") named `name` with the given inputs
 * ("" for an omitted one) and n_outputs outputs named "<name>/output_<i>"; *node (optional)
 * receives the node to set attributes on, outs (optional, n_outputs entries) the names. */
/* When the adapter has a LoRA layer for `module` (a checkpoint Linear, "model.layers.0.mlp.up_proj"):
 * adds inputs <module>.lora_A.weight [in, <module>.lora_rank] and .lora_B.weight [<module>.lora_rank, out]
 * (empty initializers as their defaults) and
 * *y = y + (x A) B. Otherwise leaves *y. decoder_lora.c. */
int cvt_lora_branch(cvt_decoder *d, const char *module, const char *path, const char *x, int64_t in, int64_t out,
                    const char **y);
/* After the build: every LoRA layer of the adapter was used (else names the first unused). */
int cvt_lora_check_used(cvt_decoder *d);

int cvt_node(cvt_decoder *d, const char *op_type, const char *domain, const char *name, size_t n_inputs,
             const char *const *inputs, size_t n_outputs, oir_node **node, const char **outs);

/* An int64 constant initializer (1-D of n values, or a scalar when n == 0 with *values)
 * named after its values as the builder does ("/model/constants/INT64/[0, -1, 16]"). */
int cvt_const_i64(cvt_decoder *d, const int64_t *values, size_t n, int scalar, const char **name);

/* A scalar constant of the io dtype holding v, named as the builder names its constants
 * ("/model/constants/FLOAT/0.25"); made once per value. */
int cvt_const_scalar(cvt_decoder *d, double v, const char **name);

/* An initializer of `dtype` (float, float16 or bfloat16) from float data (copied). */
int cvt_init_from_f32(cvt_decoder *d, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                      const float *data);

/* The checkpoint tensor `name`, checked to have `rank` dims equal to `dims`. OLIVE_EFORMAT
 * naming the tensor, file and config.json when it is missing or of another shape. */
int cvt_tensor(const cvt_decoder *d, const char *name, size_t rank, const int64_t *dims, const ofmt_tensor **out);

/* y = x W for the Linear weights `parts` stacked along out (packed QKV: q, k, v), each
 * [rows, in]. `path` names the layer ("/model/layers.0/attn/qkv_proj"): node
 * "<path>/MatMul", weight "<path without the leading / and with . for />.MatMul.weight"
 * stored transposed [in, out] in the io dtype, or, for int4/int8 when `quantize` is set, a
 * com.microsoft MatMulNBits "<path>/MatMul_Q4" with "..._Q4" / "..._scales" (/ "..._zero_points")
 * bit-identical to the quantize pass on the float graph. Output: "<path>/MatMul/output_0".
 * With x NULL only the weight initializers are made; a later call for the same path reuses
 * them (tied embeddings share the lm_head's weight this way). */
int cvt_linear(cvt_decoder *d, const char *path, const char *x, const cvt_rows *parts, size_t n_parts, int64_t in,
               int quantize, const char **out);
/* y = x + b with the biases `parts` concatenated ("<path>/Add", "<...>.Add.bias"). */
int cvt_bias(cvt_decoder *d, const char *path, const char *x, const cvt_rows *parts, size_t n_parts, const char **out);
/* An RMSNorm weight [dim] from the checkpoint, plus cfg.norm_weight_offset (but for GGUF
 * files: llama.cpp stores those weights with the offset added), in the io dtype,
 * as initializer `onnx_name`. */
int cvt_norm_weight(cvt_decoder *d, const char *tensor, int64_t dim, const char *onnx_name);
/* SimplifiedLayerNormalization "<path>/LayerNorm" of x with RMSNorm weight `tensor`
 * (initializer "<path as dots>.weight"); output "<path>/output_0". */
int cvt_norm(cvt_decoder *d, const char *path, const char *x, const char *tensor, int64_t dim, const char **out);
/* Norm of the residual stream: SimplifiedLayerNormalization when nothing is pending, else
 * SkipSimplifiedLayerNormalization "<path>/SkipLayerNorm" adding r->pending into r->residual
 * (new residual: output 3). *out: the normed value. */
int cvt_norm_residual(cvt_decoder *d, const char *path, cvt_residual *r, const char *tensor, const char **out);
/* The activation of cfg on x ("<path>/Sigmoid" + "<path>/Mul" for SiLU, ...). */
int cvt_activation_node(cvt_decoder *d, const char *path, const char *x, const char **out);

/* Weight progress: the builder counts weights before building (to report a fraction) and each
 * helper that streams one calls this; OLIVE_ECANCELLED when the caller asked to stop. */
int cvt_weight_done(cvt_decoder *d);

/* ---- the whole build (decoder_build.c) ---- */

/* The architecture registered for config.json "architectures", or NULL. */
const cvt_decoder_arch *cvt_decoder_find(const char *architecture);
/* Comma-separated list of supported decoder architectures (static text). */
const char *cvt_decoder_supported(void);

/* Builds the decoder into m (empty graph on entry) and adds genai_config.json and the
 * checkpoint's companion files. Errors as encoder_bert.h's cvt_bert_build. */
int cvt_decoder_build(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                      const olive_pass_args *args, olive_pass_ctx *ctx);

/* Reads the common config.json keys into d->cfg (decoder_config.c). */
int cvt_decoder_config_read(cvt_decoder *d);
/* Number `key` of config.json into *out, checked to lie in [lo, hi]; absent or null leaves *out
 * unchanged (and *found, when given, 0). OLIVE_EFORMAT naming the key otherwise. */
int cvt_config_number(const cvt_decoder *d, const char *key, double lo, double hi, double *out, int *found);
/* Checks each entry of config.json's layer_types array: "sliding_attention" or
 * "full_attention". OLIVE_EUNSUPPORTED naming the first other entry. */
int cvt_config_layer_types(const cvt_decoder *d, const json_t *types);

/* Checks the search settings (generation_config.json, else config.json) that genai_config.json
 * copies: numbers of the right kind and range. Errors: OLIVE_EFORMAT naming the key and value. */
int cvt_genai_check_search(const cvt_decoder *d);

/* genai_config.json for the built model (genai_config.c); owned by the caller. */
int cvt_genai_config(const cvt_decoder *d, char **out);

#endif
