/* A tokenizer.json in memory and the whole encode / decode pipeline, in Hugging Face
 * tokenizers' order: added tokens cut out of the raw text, normalization, added tokens cut out
 * of the normalized text, pre-tokenization, the model, truncation, post-processing, padding.
 *
 * Input text that is not valid UTF-8 is repaired first: each maximal ill-formed subpart
 * becomes U+FFFD, as Python's bytes.decode("utf-8", "replace"), so that the ids equal those of
 * Hugging Face for the repaired text. A tokenizer is read-only once loaded (except the
 * truncation and padding setters): any number of threads may encode with it at once. */
#ifndef OLIVE_TOKENIZER_TOKENIZER_H
#define OLIVE_TOKENIZER_TOKENIZER_H

#include <jansson.h>

#include "tokenizer/tok_added.h"
#include "tokenizer/tok_decoder.h"
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_post.h"
#include "tokenizer/tok_pretok.h"

/* tokenizer.json files larger than this are refused. */
#define OTOK_MAX_FILE ((size_t)1 << 30)

typedef struct otok_tokenizer {
    otok_model *model;
    otok_normalizer *normalizer; /* NULL when none */
    otok_pretok *pretok;
    otok_post *post;
    otok_decoder *decoder;
    otok_added added;
    otok_truncation trunc;
    otok_padding pad;
} otok_tokenizer;

/* Builds a tokenizer from a parsed tokenizer.json. Errors: OLIVE_EFORMAT naming the field,
 * OLIVE_EUNSUPPORTED, OLIVE_ENOMEM. */
int otok_tokenizer_from_json(otok_tokenizer **out, json_t *root);
/* Reads `path`: a tokenizer.json file, or a folder holding one. Errors: as above plus
 * OLIVE_ENOTFOUND, OLIVE_EIO; messages name the file. */
int otok_tokenizer_load(otok_tokenizer **out, const char *path);
void otok_tokenizer_free(otok_tokenizer *t);

/* Encodes text (and pair when not NULL) into out (empty on entry). cache may be NULL. */
int otok_encode(const otok_tokenizer *t, const char *text, size_t len, const char *pair, size_t pair_len,
                int add_special, otok_encoding *out, otok_cache *cache);

/* Decodes ids into a NUL-terminated malloc'd string. Unknown ids are skipped, as in Hugging
 * Face. */
int otok_decode_ids(const otok_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **out,
                    size_t *out_len);

int32_t otok_token_to_id(const otok_tokenizer *t, const char *s, size_t len);
const char *otok_id_to_token(const otok_tokenizer *t, int64_t id, size_t *len);
size_t otok_vocab_size(const otok_tokenizer *t, int with_added);

#endif
