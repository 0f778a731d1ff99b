/* Internals shared by the encoder builder's files: the model description read from
 * config.json (encoder_config.c) and the weight loading helpers (encoder_weights.c). */
#ifndef OLIVE_PASSES_CONVERT_ENCODER_H
#define OLIVE_PASSES_CONVERT_ENCODER_H

#include <stdint.h>

#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* Layout families: BERT and RoBERTa share tensor names; DistilBERT has its own. */
typedef enum enc_family { ENC_BERT = 1, ENC_ROBERTA = 2, ENC_DISTILBERT = 3 } enc_family;

/* What sits on top of the encoder. */
typedef enum enc_head { ENC_HEAD_NONE = 0, ENC_HEAD_POOLER = 1, ENC_HEAD_SEQCLS = 2 } enc_head;

typedef enum enc_act { ENC_ACT_GELU = 1, ENC_ACT_GELU_TANH = 2, ENC_ACT_RELU = 3, ENC_ACT_QUICK_GELU = 4 } enc_act;

typedef struct enc_config {
    const char *architecture; /* borrowed from the config */
    enc_family family;
    enc_head head; /* NONE or POOLER is settled once the tensors are known */
    int64_t hidden, heads, layers, intermediate, vocab, max_positions, type_vocab;
    int64_t pad_id;     /* RoBERTa's padding_idx */
    int64_t num_labels; /* from id2label when present, else 0 (taken from the tensor) */
    double eps;
    enc_act act;
    int sinusoidal; /* DistilBERT: positions may be computed when not stored */
} enc_config;

/* The family of an architecture name or model_type; 0 if none. Sets *head for names that
 * say which head they carry. */
enc_family enc_family_of(const char *architecture, enc_head *head);

/* Reads config.json. Errors: OLIVE_EFORMAT naming the key and file, OLIVE_EUNSUPPORTED. */
int enc_config_read(enc_config *c, const ofmt_checkpoint *ck);

/* config.json values of object `obj` (ck->config or a section of it named `section`, "" for
 * the top level; messages name the key as "<section>.<key>"). */

/* Integer `key`: required unless `fallback` >= 0 (used when absent); within [lo, hi]. */
int enc_json_int(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int64_t fallback,
                 int64_t lo, int64_t hi, int64_t *out);

/* A square size `key` (image_size, patch_size): one integer in [1, 16384], or [n, n];
 * OLIVE_EUNSUPPORTED naming the key for different sides. */
int enc_json_side(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int64_t fallback,
                  int64_t *out);

/* String `key`, or `fallback` when absent. */
int enc_json_string(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key,
                    const char *fallback, const char **out);

/* Number `key` in (0, 1), or `fallback` when absent (layer norm epsilons). */
int enc_json_eps(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, double fallback,
                 double *out);

/* Activation `key` (`fallback` when absent): gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu
 * and, when `quick` is set, quick_gelu; OLIVE_EUNSUPPORTED naming the key and value otherwise. */
int enc_json_act(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key,
                 const char *fallback, int quick, enc_act *out);

/* Refuses (OLIVE_EUNSUPPORTED naming the key) boolean `key` when present with a value other
 * than `want`. */
int enc_json_require_bool(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int want);

/* Where tensors come from and where initializers go. */
typedef struct enc_weights {
    const ofmt_checkpoint *ck;
    oir_graph *g;
    const char *prefix; /* "", "bert.", "roberta." or "distilbert." */
    int32_t dtype;      /* OIR_FLOAT or OIR_FLOAT16 for the encoder's weights */
} enc_weights;

/* The checkpoint tensor `name` (prefix + name when prefixed), checked to have shape `dims`.
 * Reads it as float32 into a new buffer (*out, freed by the caller). Errors: OLIVE_EFORMAT
 * naming the tensor and file when missing or of another shape. */
int enc_read(const enc_weights *w, int prefixed, const char *name, size_t rank, const int64_t *dims, float **out);

/* Checks that tensor `name` (prefixed) exists with shape `dims`, reading nothing. */
int enc_check(const enc_weights *w, const char *name, size_t rank, const int64_t *dims);

/* 1 if the checkpoint holds `name` (prefixed). */
int enc_has(const enc_weights *w, const char *name);

/* Adds initializer `onnx_name` [rank, dims] from float32 `data` (taken over and freed),
 * converted to `dtype`. */
int enc_add_init(const enc_weights *w, const char *onnx_name, int32_t dtype, size_t rank, const int64_t *dims,
                 float *data);

/* Copies checkpoint tensor `name` (prefixed), shape `dims`, into initializer `onnx_name`. */
int enc_copy(const enc_weights *w, const char *name, const char *onnx_name, int32_t dtype, size_t rank,
             const int64_t *dims);

/* A Linear layer `name` (weight [out, in], bias [out]) as MatMul operands: "<onnx>.weight"
 * [in, out] (transposed) and "<onnx>.bias" [out]. */
int enc_linear(const enc_weights *w, const char *name, const char *onnx_name, int32_t dtype, int64_t in, int64_t out);

/* The query, key and value Linear layers packed for com.microsoft Attention: weight
 * [hidden, 3 * hidden] (Q, K, V columns) and bias [3 * hidden]. */
int enc_packed_qkv(const enc_weights *w, const char *q, const char *k, const char *v, const char *onnx_name,
                   int64_t hidden);

/* Graph building shared by the encoders. Nodes are named "/<output>". */

/* Adds a node writing outputs `out` (n_out names; "" for an unused optional one); *node (may
 * be NULL) gets it for attributes. */
int enc_node(oir_graph *g, oir_node **node, const char *op, const char *domain, size_t n_in, const char *const *in,
             size_t n_out, const char *const *out);

/* A graph input (output = 0) or output (1) of `dtype` and shape `dims` (-1: the symbolic
 * dimension params[i]). */
int enc_io(oir_graph *g, int output, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
           const char *const *params);

/* An int64 initializer. */
int enc_int64(oir_graph *g, const char *name, size_t rank, const int64_t *dims, const int64_t *values, size_t count);

/* The convert pass's precision as the encoders' float type and the bits of MatMul weights
 * quantized afterwards (0: none); `family` names the models in the refusal of bf16. */
int enc_precision(const olive_pass_args *args, const char *family, int32_t *dtype, int *bits);

/* Gemm(in, W, bias, transB=1) over the checkpoint Linear `name` (weight kept [out, in] in
 * float32, initializers named as in the checkpoint without the base model's prefix; no bias
 * when has_bias is 0). */
int enc_gemm(const enc_weights *w, const char *name, int prefixed, int has_bias, const char *in, int64_t in_dim,
             int64_t out_dim, const char *out);

/* The number of labels of a classifier: the rows of its weight, checked against `expected`
 * (config.json's id2label; 0: not given). */
int enc_label_count(const enc_weights *w, const char *weight, int prefixed, int64_t expected, int64_t *out);

/* The checkpoint's tokenizer and processor files and config.json, to go next to model.onnx. */
int enc_companions(oir_model *m, const ofmt_checkpoint *ck);

/* A stack of pre-norm transformer layers (ViT, CLIP): per layer i, with h the residual stream,
 *   a = Attention(LN1_i(h)); h += Wo a + bo; h += W2 act(W1 LN2_i(h) + b1) + b2
 * built as onnxruntime's fused graph: LayerNormalization before the first layer, then
 * SkipLayerNormalization nodes that add the residual and normalize for the next step (their
 * fourth output carries the sum on), com.microsoft Attention with packed QKV weights. */
typedef struct enc_stack {
    const enc_weights *w;                              /* graph, prefix and float type */
    const char *layer;                                 /* checkpoint stem of the layers: "encoder.layer." */
    const char *q, *k, *v, *o, *ln1, *ln2, *fc1, *fc2; /* Linear and norm names under a layer */
    const char *final_norm; /* checkpoint norm after the last layer, folded into its last skip
                               norm; NULL: the output is the residual sum, unnormalized */
    const char *onnx;       /* prefix of the ONNX names: "" or "text." / "vision." */
    int64_t hidden, heads, intermediate, layers;
    double eps;
    enc_act act;
    const char *mask; /* int32 [batch, sequence] mask_index of Attention, or NULL */
    int causal;       /* Attention's unidirectional */
} enc_stack;

/* Builds the stack from `input` to `output`; reports progress from `from` to `to`. */
int enc_prenorm_stack(const enc_stack *s, const char *input, const char *output, olive_pass_ctx *ctx, double from,
                      double to);

/* A LayerNormalization of `in` with the checkpoint norm `norm` (prefixed; "<norm>.weight" and
 * "<norm>.bias" of size s->hidden) copied to "<onnx_norm>.weight" / ".bias". */
int enc_layer_norm(const enc_weights *w, const char *norm, const char *onnx_norm, int64_t hidden, double eps,
                   const char *in, const char *out);

/* Patch embeddings of a vision transformer: Conv(pixel_values) with kernel and stride `patch`
 * over the checkpoint weight `conv` ([hidden, channels, patch, patch], bias `conv_bias` or
 * NULL), flattened to [batch, patches, hidden], with the class token `cls` [hidden] in front
 * and the position table `pos` [patches + 1, hidden] added (both taken over and freed).
 * `pixels` is the image input in the encoder's float type. */
int enc_patch_embeddings(const enc_weights *w, const char *onnx, const char *pixels, const char *conv,
                         const char *conv_bias, int64_t hidden, int64_t channels, int64_t patch, int64_t patches,
                         float *cls, float *pos, const char *out);

/* Quantizes the built float32 graph's MatMul weights to `bits` (4 or 8) with the quantize
 * pass, taking block_size (int4_block_size when set), is_symmetric and accuracy_level from the
 * convert pass's `args` when it declares them (block_size 32 otherwise; accuracy_level 0: 4 on
 * the cpu and webgpu providers). Progress is reported in [from, 1]. */
int enc_quantize(oir_model *m, const olive_pass_args *args, int bits, olive_pass_ctx *ctx, double from);

#endif
