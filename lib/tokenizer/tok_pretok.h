/* Pre-tokenizers of tokenizer.json: ByteLevel, Split, Whitespace, WhitespaceSplit,
 * BertPreTokenizer, Metaspace, Digits, Punctuation, CharDelimiterSplit, FixedLength and
 * Sequence. */
#ifndef OLIVE_TOKENIZER_TOK_PRETOK_H
#define OLIVE_TOKENIZER_TOK_PRETOK_H

#include <jansson.h>

#include "tokenizer/tok_split.h"
#include "tokenizer/tok_text.h"

typedef struct otok_pretok otok_pretok;

/* Reads a pre-tokenizer object found at `path`. Errors: OLIVE_EFORMAT, OLIVE_EUNSUPPORTED,
 * OLIVE_ENOMEM. */
int otok_pretok_parse(otok_pretok **out, json_t *j, const char *path, int depth);
void otok_pretok_free(otok_pretok *p);

/* Cuts every model piece of *pieces further (added-token pieces pass through); new texts are
 * allocated in arena. Errors: OLIVE_ENOMEM, OLIVE_EINVALID (regex limits). */
int otok_pretokenize(const otok_pretok *p, otok_pieces *pieces, otok_arena *arena);

/* GPT-2's pre-tokenization pattern, in Oniguruma syntax, which ByteLevel uses. */
#define OTOK_GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

#endif
