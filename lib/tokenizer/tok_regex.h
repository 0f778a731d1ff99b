/* Regular expressions of tokenizer.json, run on PCRE2. Hugging Face tokenizers compiles them
 * with Oniguruma (Ruby syntax): the few escapes whose meaning differs in PCRE2 (\s, \w, \d,
 * \h and their negations, \uHHHH) are rewritten to the Unicode classes Oniguruma uses, general
 * categories (\p{L}, \p{N}, ...) get the characters assigned after PCRE2's Unicode tables that
 * tokenizers' newer tables put in them, and the pattern is compiled in UTF + UCP mode with ^
 * and $ matching at line breaks, as in Ruby. */
#ifndef OLIVE_TOKENIZER_TOK_REGEX_H
#define OLIVE_TOKENIZER_TOK_REGEX_H

#include <stddef.h>

#include "tokenizer/tok_text.h"

typedef struct otok_regex otok_regex;

/* Compiles an Oniguruma pattern. `field` names where it came from for the error message.
 * Errors: OLIVE_EFORMAT (bad pattern), OLIVE_EUNSUPPORTED (a construct PCRE2 cannot
 * express), OLIVE_ENOMEM. */
int otok_regex_compile(otok_regex **out, const char *pattern, size_t len, const char *field);
/* Compiles a pattern of Rust's regex crate (which tokenizers uses for Whitespace and for
 * added tokens' word boundaries): \w is Unicode's word class there. */
int otok_regex_compile_rust(otok_regex **out, const char *pattern, size_t len, const char *field);
/* Compiles a pattern matching the literal string s. */
int otok_regex_compile_literal(otok_regex **out, const char *s, size_t len, const char *field);
void otok_regex_free(otok_regex *re);

/* Appends to *out the ranges of s[0..len) (valid UTF-8): each match (is_match 1) and each gap
 * between matches (0), in order, as Hugging Face's Pattern::find_matches gives them (an empty
 * text gives one empty gap). Errors: OLIVE_ENOMEM, OLIVE_EINVALID (the match limit hit). */
int otok_regex_ranges(const otok_regex *re, const char *s, size_t len, otok_ranges *out);

/* 1 when the pattern matches s[0..len) starting exactly at byte `at` (anchored), else 0. */
int otok_regex_match_at(const otok_regex *re, const char *s, size_t len, size_t at);

#endif
