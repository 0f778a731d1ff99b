/* Character classes and case mapping, as Hugging Face tokenizers defines them. Most come from
 * utf8proc; the classes for which tokenizers relies on older Unicode tables come from
 * tok_unicode_tables.c, probed from tokenizers itself (scripts/gen_tokenizer_tables.py). */
#ifndef OLIVE_TOKENIZER_TOK_UNICODE_H
#define OLIVE_TOKENIZER_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct otok_cp_range {
    uint32_t lo, hi;
} otok_cp_range;

typedef struct otok_cp_category {
    uint32_t lo, hi;
    int category; /* index into otok_category_names */
} otok_cp_category;

typedef struct otok_cp_pair {
    uint32_t from, to;
} otok_cp_pair;

extern const otok_cp_range otok_bert_control[];
extern const size_t otok_bert_control_count;
extern const otok_cp_range otok_bert_punct[];
extern const size_t otok_bert_punct_count;
extern const otok_cp_range otok_bert_nonspacing[];
extern const size_t otok_bert_nonspacing_count;
extern const otok_cp_range otok_combining_marks[];
extern const size_t otok_combining_marks_count;

/* Characters assigned after Unicode 14 (PCRE2's tables), as tokenizers' regular expressions,
 * Rust's regex \w and Rust's lowercase see them. */
extern const char *const otok_category_names[];
extern const size_t otok_category_count;
extern const otok_cp_category otok_newer_categories[];
extern const size_t otok_newer_categories_count;
extern const otok_cp_range otok_newer_word[];
extern const size_t otok_newer_word_count;
extern const otok_cp_range otok_newer_onig_word[];
extern const size_t otok_newer_onig_word_count;
extern const otok_cp_pair otok_newer_lowercase[];
extern const size_t otok_newer_lowercase_count;

int otok_in_ranges(const otok_cp_range *r, size_t n, uint32_t cp);

/* Rust's char::is_whitespace: the White_Space property. */
int otok_is_whitespace(uint32_t cp);
/* Rust's char::is_numeric: general categories Nd, Nl, No. */
int otok_is_numeric(uint32_t cp);
/* The BERT normalizer's "chinese character": the CJK ideograph blocks. */
int otok_is_cjk(uint32_t cp);
/* BertPreTokenizer's and Punctuation's punctuation. */
static inline int otok_is_bert_punct(uint32_t cp)
{
    return otok_in_ranges(otok_bert_punct, otok_bert_punct_count, cp);
}

/* Appends the full lowercase mapping of cp (Rust's char::to_lowercase) to out; returns the
 * number of code points written (1 or 2). */
size_t otok_lowercase(uint32_t cp, uint32_t out[3]);
/* The simple uppercase mapping (for the Uppercase normalizer). */
size_t otok_uppercase(uint32_t cp, uint32_t out[3]);

/* Unicode normalization of valid UTF-8 (form: 'C', 'D', 'c' for NFKC, 'd' for NFKD). Returns
 * a malloc'd NUL-terminated string and its length, NULL (error set) on failure. */
char *otok_unicode_normalize(const char *s, size_t len, char form, size_t *out_len);

#endif
