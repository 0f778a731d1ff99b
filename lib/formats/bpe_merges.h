/* BPE merges for tokenizer.json (see bpe_merges.c). */
#ifndef OLIVE_FORMATS_BPE_MERGES_H
#define OLIVE_FORMATS_BPE_MERGES_H

#include <stdint.h>

#include <jansson.h>

#include "core/strmap.h"

/* A merge as tokenizer.json spells it: "left right", or ["left", "right"] when a piece holds a
 * space. NULL when memory runs out or a piece is not UTF-8. */
json_t *ofmt_bpe_merge_json(const char *left, size_t left_len, const char *right, size_t right_len);

/* The merges a SentencePiece vocabulary implies: text[0..n) are the tokens (UTF-8), ids maps
 * each to its index + 1 (the last index of a repeated token), scores[i] ranks token i (higher
 * merges first). *out receives a JSON array of merges, best first. Errors: OLIVE_ENOMEM. */
int ofmt_bpe_derive_merges(json_t **out, char *const *text, uint64_t n, const olive_strmap *ids, const double *scores);

#endif
