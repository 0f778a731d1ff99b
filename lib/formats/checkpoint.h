/* Source checkpoints: a Hugging Face folder or a GGUF file, seen as a list of named tensors
 * plus the model's configuration, so converters never care which format the weights came in.
 *
 * Tensors keep their bytes in the mapped input files (olive_blob); nothing is read until a
 * converter asks for rows with ofmt_tensor_read_f32, which converts fp16/bf16 and dequantizes
 * GGUF block types on the fly. Names and shapes follow Hugging Face (PyTorch) conventions
 * whatever the source: a GGUF tensor "blk.0.attn_q.weight" is listed as
 * "model.layers.0.self_attn.q_proj.weight" with shape [out_features, in_features], and rows
 * that llama.cpp permuted are returned in Hugging Face order. */
#ifndef OLIVE_FORMATS_CHECKPOINT_H
#define OLIVE_FORMATS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/blob.h"
#include "core/strmap.h"

#define OFMT_MAX_RANK 8

/* How a tensor's bytes are stored. */
typedef enum ofmt_storage {
    OFMT_PLAIN = 0, /* little-endian elements of `dtype` (OIR_FLOAT, OIR_FLOAT16, OIR_BFLOAT16, ...) */
    OFMT_GGML = 1   /* GGUF block type `ggml_type` (Q4_K, Q8_0, ...), rows along the last dim */
} ofmt_storage;

typedef struct ofmt_tensor {
    char *name;       /* Hugging Face name */
    const char *file; /* the file holding it, for messages (owned by the checkpoint) */
    ofmt_storage storage;
    int32_t dtype;      /* OFMT_PLAIN: ONNX dtype (ir.h OIR_*); OFMT_GGML: OIR_UNDEFINED */
    uint32_t ggml_type; /* OFMT_GGML: the GGUF type id */
    size_t rank;
    int64_t dims[OFMT_MAX_RANK]; /* row-major, outermost first (PyTorch order) */
    olive_blob *blob;            /* mapped file (one reference held by the tensor) */
    uint64_t offset, nbytes;     /* where the stored bytes are in blob */
    /* llama.cpp stores q_proj/k_proj rows permuted per head; when > 0 the reader undoes it
     * with this head count (rows = dims[0]; for a vector, e.g. a bias, its elements). */
    int64_t unpermute_heads;
} ofmt_tensor;

typedef enum ofmt_kind { OFMT_HF_FOLDER = 1, OFMT_GGUF_FILE = 2 } ofmt_kind;

/* A generated file to write next to the converted model (e.g. tokenizer.json rebuilt from
 * GGUF metadata). */
typedef struct ofmt_generated_file {
    char *name; /* plain file name, no directories */
    char *text; /* contents */
} ofmt_generated_file;

typedef struct ofmt_checkpoint {
    ofmt_kind kind;
    char *path;                /* folder or .gguf file as given */
    json_t *config;            /* config.json (for GGUF: rebuilt from metadata); owned */
    json_t *generation_config; /* generation_config.json or NULL; owned */
    size_t n_tensors;
    ofmt_tensor *tensors;
    olive_strmap by_name; /* name -> ofmt_tensor* */
    /* Tokenizer and other companion files to copy unchanged (absolute or folder-relative
     * paths of regular files that stay inside the folder), e.g. tokenizer.json, tokenizer_config.json, special_tokens_map.json,
     * vocab.txt, merges.txt, vocab.json, tokenizer.model. */
    size_t n_copy_files;
    char **copy_files;
    /* Files built from the source (GGUF: tokenizer.json, tokenizer_config.json). */
    size_t n_generated;
    ofmt_generated_file *generated;
    /* Everything the tensors map (kept alive for the checkpoint's life). */
    size_t n_blobs;
    olive_blob **blobs;
} ofmt_checkpoint;

/* 1 if `name` is a tokenizer file or chat template that travels unchanged with a model
 * (tokenizer.json, tokenizer_config.json, vocab.txt, merges.txt, tokenizer.model, ...). */
int ofmt_is_tokenizer_file(const char *name);
/* 1 if `name` is a runtime or preprocessing config that travels with a model (config.json,
 * generation_config.json, genai_config.json, preprocessor_config.json, processor_config.json). */
int ofmt_is_runtime_config(const char *name);

/* Opens a checkpoint: a folder with config.json (HF) or a .gguf file (checked by its magic,
 * not its name). Errors: OLIVE_ENOTFOUND, OLIVE_EFORMAT (naming the file and the tensor or key
 * at fault), OLIVE_EUNSUPPORTED (e.g. an unknown GGUF tensor type), OLIVE_EIO, OLIVE_ENOMEM. */
int ofmt_checkpoint_open(ofmt_checkpoint **out, const char *path);
/* 1 if `path` looks like a checkpoint this module opens (folder with config.json and no
 * model.onnx, or a file starting with the GGUF magic), else 0. Never fails. */
int ofmt_checkpoint_probe(const char *path);
void ofmt_checkpoint_free(ofmt_checkpoint *c);

/* The tensor of that Hugging Face name, or NULL. */
const ofmt_tensor *ofmt_checkpoint_find(const ofmt_checkpoint *c, const char *name);

/* Elements in a tensor, and in one row (its last dim; 1 for a scalar). */
uint64_t ofmt_tensor_elements(const ofmt_tensor *t);
uint64_t ofmt_tensor_row_length(const ofmt_tensor *t);

/* Reads rows [first_row, first_row + rows) of the tensor viewed as [elements / row_length,
 * row_length] into dst as float32 (converting fp16/bf16, dequantizing GGUF blocks exactly as
 * llama.cpp does, undoing the head permutation). Errors: OLIVE_EINVALID for a range outside
 * the tensor, OLIVE_EUNSUPPORTED for a dtype that has no float value. Thread-safe. */
int ofmt_tensor_read_f32(const ofmt_tensor *t, uint64_t first_row, uint64_t rows, float *dst);

/* Reads rows [first_row, first_row + rows) of a GGML tensor whose type has codes
 * (ofmt_ggml_codes_of) as ofmt_ggml_read_codes does: codes per element, scales and offsets
 * per group (offsets may be NULL), rows in Hugging Face order as ofmt_tensor_read_f32 gives
 * them. Errors: OLIVE_EINVALID for a range outside the tensor, OLIVE_EUNSUPPORTED for a tensor
 * without codes. Thread-safe. */
int ofmt_tensor_read_codes(const ofmt_tensor *t, uint64_t first_row, uint64_t rows, int8_t *codes, float *scales,
                           float *offsets);

/* Format back ends, called by ofmt_checkpoint_open. */
int ofmt_hf_open(ofmt_checkpoint **out, const char *folder);
int ofmt_gguf_open(ofmt_checkpoint **out, const char *file);

/* Internal to formats: building a checkpoint. */
ofmt_checkpoint *ofmt_checkpoint_new(ofmt_kind kind, const char *path);
/* Appends a tensor (copies `t`, takes ownership of t->name and t's blob reference; on
 * failure those are released). Errors: OLIVE_EFORMAT for a duplicate name, OLIVE_ENOMEM. */
int ofmt_checkpoint_add_tensor(ofmt_checkpoint *c, ofmt_tensor *t);
/* Appends a plain tensor as ofmt_checkpoint_add_tensor does: `name` (copied), `dtype` and
 * `rank` dims, stored at [offset, offset + nbytes) of `blob` (the tensor takes a reference). */
int ofmt_checkpoint_add_plain(ofmt_checkpoint *c, const char *name, olive_blob *blob, int32_t dtype, size_t rank,
                              const int64_t dims[OFMT_MAX_RANK], uint64_t offset, uint64_t nbytes);
/* Keeps `blob` alive for the checkpoint's life (takes a reference). */
int ofmt_checkpoint_keep_blob(ofmt_checkpoint *c, olive_blob *blob);

#endif
