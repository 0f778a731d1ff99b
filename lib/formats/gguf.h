/* GGUF container parser (versions 2 and 3, little-endian): header, metadata key/values of every
 * value type including (nested) arrays, tensor infos and the aligned data section.
 *
 * The file is mapped, never copied: strings and array payloads point into the mapping and stay
 * valid while the ofmt_gguf lives. Every count, length, offset and dimension is checked against
 * the file size before it is used, so a hostile file gives OLIVE_EFORMAT naming the file and the
 * key or tensor at fault, never a read past the end or a huge allocation. */
#ifndef OLIVE_FORMATS_GGUF_H
#define OLIVE_FORMATS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/blob.h"
#include "core/strmap.h"

#define OFMT_GGUF_MAX_DIMS 4 /* as ggml: tensors have at most 4 dimensions */
#define OFMT_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types, as stored. */
typedef enum ofmt_gguf_vtype {
    OFMT_GGUF_UINT8 = 0,
    OFMT_GGUF_INT8 = 1,
    OFMT_GGUF_UINT16 = 2,
    OFMT_GGUF_INT16 = 3,
    OFMT_GGUF_UINT32 = 4,
    OFMT_GGUF_INT32 = 5,
    OFMT_GGUF_FLOAT32 = 6,
    OFMT_GGUF_BOOL = 7,
    OFMT_GGUF_STRING = 8,
    OFMT_GGUF_ARRAY = 9,
    OFMT_GGUF_UINT64 = 10,
    OFMT_GGUF_INT64 = 11,
    OFMT_GGUF_FLOAT64 = 12
} ofmt_gguf_vtype;

/* A string inside the mapped file: `len` bytes, not NUL-terminated, may hold any byte. */
typedef struct ofmt_gguf_str {
    const char *ptr;
    uint64_t len;
} ofmt_gguf_str;

typedef struct ofmt_gguf_value ofmt_gguf_value;

typedef struct ofmt_gguf_array {
    uint32_t type;          /* element type */
    uint64_t n;             /* element count */
    const uint8_t *data;    /* scalar elements: n packed little-endian values in the file */
    ofmt_gguf_str *strs;    /* string elements (owned index into the file), else NULL */
    ofmt_gguf_value *items; /* array elements (nested arrays; owned), else NULL */
} ofmt_gguf_array;

struct ofmt_gguf_value {
    uint32_t type;
    union {
        uint64_t u;          /* UINT8..UINT64 and BOOL (0 or 1) */
        int64_t i;           /* INT8..INT64 */
        double f;            /* FLOAT32, FLOAT64 */
        ofmt_gguf_str str;   /* STRING */
        ofmt_gguf_array arr; /* ARRAY */
    } v;
};

typedef struct ofmt_gguf_kv {
    char *key; /* NUL-terminated copy */
    ofmt_gguf_value value;
} ofmt_gguf_kv;

typedef struct ofmt_gguf_tensor {
    char *name; /* NUL-terminated copy of the GGUF name */
    uint32_t n_dims;
    uint64_t ne[OFMT_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the innermost (row) length; unused = 1 */
    uint32_t type;                   /* GGML type id */
    uint64_t offset;                 /* absolute byte offset of the data in the file */
    uint64_t nbytes;
} ofmt_gguf_tensor;

typedef struct ofmt_gguf {
    char *path;
    olive_blob *blob; /* the mapped file (one reference) */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset; /* start of the data section */
    size_t n_kv;
    ofmt_gguf_kv *kv;
    olive_strmap kv_by_key; /* key -> ofmt_gguf_kv* */
    size_t n_tensors;
    ofmt_gguf_tensor *tensors;
} ofmt_gguf;

/* Maps and parses `path`. Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_EFORMAT (not GGUF,
 * truncated, impossible counts or lengths, tensor data past the end or misaligned, duplicate
 * keys or tensor names), OLIVE_EUNSUPPORTED (GGUF v1, big-endian files, an unknown value
 * type or tensor type), OLIVE_ENOMEM. */
int ofmt_gguf_read(ofmt_gguf **out, const char *path);

/* Parses bytes already in `blob` (takes a reference on success); `path` names it in
 * messages. Same errors as ofmt_gguf_read. */
int ofmt_gguf_parse(ofmt_gguf **out, olive_blob *blob, const char *path);

void ofmt_gguf_free(ofmt_gguf *g);

/* 1 if the first bytes of `data` are the GGUF magic. */
int ofmt_gguf_has_magic(const uint8_t *data, size_t size);

/* The value of `key`, or NULL. */
const ofmt_gguf_value *ofmt_gguf_find(const ofmt_gguf *g, const char *key);

/* Typed look-ups: 1 and *out set when `key` exists with a value of a fitting type (any
 * integer type for u64/i64 when the value is in range; FLOAT32/FLOAT64 or an integer for f64;
 * BOOL for bool), else 0. */
int ofmt_gguf_get_u64(const ofmt_gguf *g, const char *key, uint64_t *out);
int ofmt_gguf_get_i64(const ofmt_gguf *g, const char *key, int64_t *out);
int ofmt_gguf_get_f64(const ofmt_gguf *g, const char *key, double *out);
int ofmt_gguf_get_bool(const ofmt_gguf *g, const char *key, int *out);
/* A STRING value, or NULL. */
const ofmt_gguf_str *ofmt_gguf_get_str(const ofmt_gguf *g, const char *key);
/* An ARRAY value whose elements have type `elem_type`, or NULL. */
const ofmt_gguf_array *ofmt_gguf_get_array(const ofmt_gguf *g, const char *key, uint32_t elem_type);

/* Element i of a scalar array as u64 / i64 / f64 (converting between integer types when in
 * range); 0 when it does not fit. The caller checks i < arr->n. */
int ofmt_gguf_array_u64(const ofmt_gguf_array *arr, uint64_t i, uint64_t *out);
int ofmt_gguf_array_i64(const ofmt_gguf_array *arr, uint64_t i, int64_t *out);
int ofmt_gguf_array_f64(const ofmt_gguf_array *arr, uint64_t i, double *out);

/* Decodes the code point at s[*i] (i < len) into *cp and moves *i past it; 0 for malformed
 * UTF-8 (overlong forms, surrogates, truncation). */
int ofmt_gguf_utf8_next(const unsigned char *s, uint64_t len, uint64_t *i, uint32_t *cp);

/* 1 if the string is well-formed UTF-8. */
int ofmt_gguf_str_utf8(const ofmt_gguf_str *s);

/* How many leading bytes of the string an error message may quote with "%.*s": at most `max`,
 * ending on a character boundary; 0 when the string is not UTF-8. */
int ofmt_gguf_str_quote_len(const ofmt_gguf_str *s, int max);

/* 1 if the string equals the NUL-terminated `s`. */
int ofmt_gguf_str_eq(const ofmt_gguf_str *a, const char *s);

/* Adds tokenizer.json and tokenizer_config.json, rebuilt from the tokenizer.ggml.* metadata, to
 * c->generated (gguf_tokenizer.c). A file without tokenizer metadata, or with a tokenizer model
 * other than "gpt2" (byte-level BPE) or "llama" (SentencePiece), adds nothing (logged).
 * Errors: OLIVE_EFORMAT naming the key at fault (lengths that disagree, ids out of range,
 * tokens that are not UTF-8), OLIVE_ENOMEM. */
struct ofmt_checkpoint;
int ofmt_gguf_tokenizer_files(struct ofmt_checkpoint *c, const ofmt_gguf *g);

/* Sets cfg's "rope_scaling" from the file (gguf_rope.c): {arch}.rope.scaling.* keys (linear,
 * yarn), Phi-3's rope_factors_long/short tensors (longrope, plus the top-level
 * original_max_position_embeddings), or Llama 3's rope_freqs tensor (llama3; parameters
 * recovered by recomputing the tensor). Nothing when none applies. Errors: OLIVE_EFORMAT,
 * OLIVE_ENOMEM. */
int ofmt_gguf_rope_scaling(json_t *cfg, const ofmt_gguf *g, const char *arch);

#endif
