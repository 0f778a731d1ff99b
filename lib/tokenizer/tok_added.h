/* Added tokens: the tokens tokenizer.json lists under "added_tokens", cut out of the text
 * before the model runs (first those matched on the raw text, then, after normalization,
 * those marked "normalized"), with Hugging Face's AddedVocabulary rules for ids, single_word,
 * lstrip and rstrip. */
#ifndef OLIVE_TOKENIZER_TOK_ADDED_H
#define OLIVE_TOKENIZER_TOK_ADDED_H

#include <jansson.h>

#include "tokenizer/tok_model.h"
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_split.h"

typedef struct otok_added_token {
    char *content;
    size_t len;
    int32_t id;
    uint8_t special, single_word, lstrip, rstrip, normalized;
} otok_added_token;

typedef struct otok_added {
    otok_added_token *by_content; /* one per distinct content: its id and the last flags given */
    size_t n;
    otok_vocab ids;           /* content -> id */
    otok_vocab specials;      /* contents of the special tokens (id unused) */
    otok_pairmap token_of_id; /* id -> index in by_content */
    otok_trie raw, norm;      /* patterns -> index in by_content */
    otok_regex *word;         /* one \w character (single_word) */
} otok_added;

/* Reads "added_tokens" (may be NULL or null) against the model and the normalizer that
 * normalized tokens are matched through. Errors: OLIVE_EFORMAT, OLIVE_ENOMEM. */
int otok_added_parse(otok_added *a, json_t *list, const otok_model *model, const otok_normalizer *norm);
void otok_added_free(otok_added *a);

/* Cuts the added tokens out of every model piece; normalized selects the trie of normalized
 * tokens. */
int otok_added_split(const otok_added *a, int normalized, otok_pieces *pieces);

/* The added token with this id, or NULL. */
const otok_added_token *otok_added_by_id(const otok_added *a, int64_t id);

#endif
