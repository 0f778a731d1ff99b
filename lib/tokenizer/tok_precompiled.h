/* The Precompiled normalizer: a SentencePiece normalization charsmap (a darts-clone double
 * array of UTF-8 keys and a blob of NUL-terminated replacements), applied as Hugging Face
 * tokenizers applies it: per extended grapheme cluster, the cluster's shortest key prefix when
 * it is shorter than 6 bytes and has one, else character by character. */
#ifndef OLIVE_TOKENIZER_TOK_PRECOMPILED_H
#define OLIVE_TOKENIZER_TOK_PRECOMPILED_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"

typedef struct otok_precompiled {
    uint32_t *units; /* the double array */
    size_t n_units;
    char *normalized; /* replacements, NUL-separated */
    size_t normalized_len;
} otok_precompiled;

/* Reads a charsmap from its base64 text (tokenizer.json's "precompiled_charsmap").
 * Errors: OLIVE_EFORMAT naming `path`, OLIVE_ENOMEM. */
int otok_precompiled_parse(otok_precompiled *p, const char *b64, size_t len, const char *path);
void otok_precompiled_free(otok_precompiled *p);

/* Appends the normalized form of s[0..len) (valid UTF-8) to out. */
void otok_precompiled_apply(const otok_precompiled *p, const char *s, size_t len, olive_strbuf *out);

#endif
