/* The pieces a text is cut into on its way to the model (Hugging Face's PreTokenizedString
 * splits), and the split behaviours that cut them. */
#ifndef OLIVE_TOKENIZER_TOK_SPLIT_H
#define OLIVE_TOKENIZER_TOK_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_text.h"

typedef struct otok_piece {
    const char *s; /* the piece's (normalized) text: in the encode arena or the input */
    size_t len;
    int32_t id;       /* >= 0: an added token, already tokenized; -1: text for the model */
    uint8_t at_start; /* begins at offset 0 of the original text (Metaspace prepend "first") */
} otok_piece;

typedef struct otok_pieces {
    otok_piece *v;
    size_t n, cap;
} otok_pieces;

int otok_pieces_push(otok_pieces *p, otok_piece piece);
void otok_pieces_free(otok_pieces *p);

/* Hugging Face's SplitDelimiterBehavior. */
typedef enum otok_behavior {
    OTOK_REMOVED,
    OTOK_ISOLATED,
    OTOK_MERGED_WITH_PREVIOUS,
    OTOK_MERGED_WITH_NEXT,
    OTOK_CONTIGUOUS,
} otok_behavior;

/* Parses a behaviour name ("Removed", "Isolated", ...); -1 when unknown. */
int otok_behavior_parse(const char *name);

/* Cuts piece p along the ranges r (which cover it, from otok_regex_ranges or
 * otok_char_ranges; is_match flipped when invert) as NormalizedString::split does with
 * `behavior`, appending the non-empty results to out. */
int otok_split(otok_pieces *out, const otok_piece *p, otok_ranges *r, otok_behavior behavior, int invert);

/* Ranges where every code point for which pred() holds is a match of its own (Hugging Face's
 * Pattern for Fn(char) -> bool). */
int otok_char_ranges(otok_ranges *out, const char *s, size_t len, int (*pred)(uint32_t cp, const void *ctx),
                     const void *ctx);

#endif
