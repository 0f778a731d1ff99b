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

typedef enum enc_act { ENC_ACT_GELU = 1, ENC_ACT_GELU_TANH = 2, ENC_ACT_RELU = 3 } enc_act;

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

/* Quantizes the built float32 graph's MatMul weights to `bits` (4 or 8) with the quantize
 * pass, taking block_size (int4_block_size when set), is_symmetric and accuracy_level from the
 * convert pass's `args` when it declares them (block_size 32 otherwise; accuracy_level 0: 4 on
 * the cpu and webgpu providers). Progress is reported in [from, 1]. */
int enc_quantize(oir_model *m, const olive_pass_args *args, int bits, olive_pass_ctx *ctx, double from);

#endif
