/* After the model: truncation, the post-processors that add special tokens
 * (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence) and padding,
 * in Hugging Face's order and with its length rules. */
#ifndef OLIVE_TOKENIZER_TOK_POST_H
#define OLIVE_TOKENIZER_TOK_POST_H

#include <jansson.h>

#include "tokenizer/tok_text.h"

/* One encoded sequence: ids with their type ids and attention mask. */
typedef struct otok_encoding {
    otok_ids ids, type_ids, mask;
} otok_encoding;

void otok_encoding_free(otok_encoding *e);

typedef struct otok_post otok_post;

int otok_post_parse(otok_post **out, json_t *j, const char *path, int depth);
void otok_post_free(otok_post *p);

/* Special tokens the processor adds for one sequence (pair 0) or two. */
size_t otok_post_added(const otok_post *p, int pair);

/* Merges a (and b when not NULL) into out with the processor's special tokens (only when
 * add_special). p may be NULL: the sequences are concatenated. */
int otok_post_process(const otok_post *p, const otok_encoding *a, const otok_encoding *b, int add_special,
                      otok_encoding *out);

typedef enum otok_trunc_strategy { OTOK_LONGEST_FIRST, OTOK_ONLY_FIRST, OTOK_ONLY_SECOND } otok_trunc_strategy;

typedef struct otok_truncation {
    int enabled;
    size_t max_length, stride;
    otok_trunc_strategy strategy;
    int left; /* direction Left: drop from the start */
} otok_truncation;

typedef struct otok_padding {
    int enabled;
    size_t fixed;    /* 0: the longest of the batch */
    size_t multiple; /* pad_to_multiple_of, 0 for none */
    int left;
    int32_t pad_id, pad_type_id;
} otok_padding;

int otok_truncation_parse(otok_truncation *t, json_t *j);
int otok_padding_parse(otok_padding *p, json_t *j);

/* Truncates a (and b) to t->max_length minus `reserved` (the special tokens to come).
 * Errors: OLIVE_EINVALID (as Hugging Face: a sequence too short for OnlyFirst/OnlySecond,
 * OnlySecond without a pair, max_length below the special tokens). */
int otok_truncate(const otok_truncation *t, size_t reserved, otok_encoding *a, otok_encoding *b);

/* Pads each of enc[0..n) to the length the padding asks for. */
int otok_pad(const otok_padding *p, otok_encoding *enc, size_t n);

#endif
