/* The tokenizer models: BPE, WordPiece, WordLevel and Unigram, each cutting one pre-tokenized
 * word into ids exactly as Hugging Face tokenizers' model of the same name. */
#ifndef OLIVE_TOKENIZER_TOK_MODEL_H
#define OLIVE_TOKENIZER_TOK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tokenizer/tok_text.h"
#include "tokenizer/tok_vocab.h"

typedef enum otok_model_kind {
    OTOK_MODEL_BPE,
    OTOK_MODEL_WORDPIECE,
    OTOK_MODEL_WORDLEVEL,
    OTOK_MODEL_UNIGRAM,
} otok_model_kind;

typedef struct otok_model {
    otok_model_kind kind;
    otok_vocab vocab; /* token -> id (Unigram: the last of repeated pieces) */
    char *unk_token;  /* BPE, WordPiece, WordLevel; NULL when none */
    int32_t unk_id;   /* its id, or -1 (Unigram: unk_id) */
    /* BPE */
    char *prefix, *suffix; /* continuing_subword_prefix (WordPiece too), end_of_word_suffix */
    size_t prefix_len, suffix_len;
    int fuse_unk, byte_fallback, ignore_merges;
    otok_pairmap merges;   /* (left id << 32 | right id) -> (rank, merged id) */
    int32_t byte_ids[256]; /* ids of the <0xXX> tokens, -1 when missing */
    /* WordPiece */
    uint64_t max_input_chars_per_word;
    /* Unigram */
    char **pieces; /* by id */
    uint32_t *piece_len;
    double *scores;
    size_t n_pieces;
    double min_score;
    otok_trie trie; /* piece -> id */
} otok_model;

/* Reads tokenizer.json's "model". Errors: OLIVE_EFORMAT naming the field, OLIVE_EUNSUPPORTED
 * (BPE dropout, unknown model types), OLIVE_ENOMEM. */
int otok_model_parse(otok_model **out, json_t *j);
void otok_model_free(otok_model *m);
/* Reads the model's "vocab", an object of token: id, into m->vocab and indexes it (two tokens
 * with one id are refused). Errors: OLIVE_EFORMAT naming the field or token, OLIVE_ENOMEM. */
int otok_model_read_vocab(otok_model *m, json_t *j);

/* Words already tokenized during one encode call (Hugging Face keeps a similar cache). */
typedef struct otok_cache {
    otok_vocab words; /* word -> index into spans */
    struct {
        size_t off, n;
    } * spans;
    size_t n_spans, cap_spans;
    otok_ids ids;
} otok_cache;

void otok_cache_free(otok_cache *c);

/* Appends the ids of word s[0..len) (valid UTF-8) to out. cache may be NULL.
 * Errors: OLIVE_EINVALID (an unknown piece and no unk token, as Hugging Face errors),
 * OLIVE_ENOMEM. */
int otok_model_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out, otok_cache *cache);

/* The id of a token, or -1. */
int32_t otok_model_token_to_id(const otok_model *m, const char *s, size_t len);
/* The token of an id (borrowed), or NULL. */
const char *otok_model_id_to_token(const otok_model *m, int64_t id, size_t *len);
/* Hugging Face's Model::get_vocab_size. */
size_t otok_model_vocab_size(const otok_model *m);

/* BPE's merge loop on one word, exposed for tests: ids[0..n) become the merged ids (count
 * returned in *n). Errors: OLIVE_ENOMEM. */
int otok_bpe_merge(const otok_model *m, int32_t *ids, size_t *n);

#endif
