/* Normalizers of tokenizer.json: BertNormalizer, Lowercase, NFC/NFD/NFKC/NFKD, Strip,
 * StripAccents, Replace, Prepend, Append, Nmt, ByteLevel, Precompiled and Sequence of them. */
#ifndef OLIVE_TOKENIZER_TOK_NORMALIZER_H
#define OLIVE_TOKENIZER_TOK_NORMALIZER_H

#include <stddef.h>

#include <jansson.h>

#include "core/alloc.h"

typedef struct otok_normalizer otok_normalizer;

/* Reads a normalizer object found at `path`. depth counts Sequence nesting.
 * Errors: OLIVE_EFORMAT, OLIVE_EUNSUPPORTED (unknown types), OLIVE_ENOMEM. */
int otok_normalizer_parse(otok_normalizer **out, json_t *j, const char *path, int depth);
void otok_normalizer_free(otok_normalizer *n);

/* Normalizes s[0..len) (valid UTF-8) into out (cleared first). When moved_start is not NULL it
 * receives 1 if the first character of the result no longer comes from the first character of
 * s (leading characters were removed, or a run of them replaced), which is what moves the
 * text's start in Hugging Face's alignments (Metaspace's prepend_scheme "first" looks at it).
 * Errors: OLIVE_ENOMEM. */
int otok_normalize(const otok_normalizer *n, const char *s, size_t len, olive_strbuf *out, int *moved_start);

#endif
