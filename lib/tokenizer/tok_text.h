/* Text plumbing shared by the tokenizer: UTF-8 decoding and repair, an arena for the pieces a
 * text is cut into, and growable arrays of ids and match ranges. */
#ifndef OLIVE_TOKENIZER_TOK_TEXT_H
#define OLIVE_TOKENIZER_TOK_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[i] of text already known to be valid UTF-8; returns its length. */
static inline size_t otok_utf8_next(const char *s, size_t i, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s + i;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] < 0xE0) {
        *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (p[0] < 0xF0) {
        *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
          (p[3] & 0x3F);
    return 4;
}

/* The start of the code point that ends at s[end] (end > 0) in valid UTF-8. */
static inline size_t otok_utf8_prev(const char *s, size_t end)
{
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t otok_utf8_put(uint32_t cp, char *out);

/* Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when the bytes there are not one. */
size_t otok_utf8_valid_at(const char *s, size_t len, size_t i);

/* A copy of s[0..len) where every ill-formed sequence is replaced by U+FFFD, one per maximal
 * ill-formed subpart (the Unicode recommendation that Python's errors="replace" follows).
 * NUL-terminated, owned by the caller; *out_len receives its length. NULL on ENOMEM. */
char *otok_utf8_repair(const char *s, size_t len, size_t *out_len);

/* Number of code points in valid UTF-8. */
size_t otok_utf8_count(const char *s, size_t len);

/* A bump allocator: every allocation lives until otok_arena_free. */
typedef struct otok_arena_chunk otok_arena_chunk;
typedef struct otok_arena {
    otok_arena_chunk *head;
} otok_arena;

void *otok_arena_alloc(otok_arena *a, size_t n);              /* NULL (error set) on ENOMEM */
char *otok_arena_dup(otok_arena *a, const char *s, size_t n); /* NUL-terminated copy */
void otok_arena_free(otok_arena *a);

/* Growable int32 array. */
typedef struct otok_ids {
    int32_t *v;
    size_t n, cap;
} otok_ids;

int otok_ids_push(otok_ids *ids, int32_t id); /* OLIVE_OK or OLIVE_ENOMEM */
void otok_ids_free(otok_ids *ids);

/* Ranges of a string that a pattern matched (is_match 1) or left between matches (0), in
 * order and covering the whole string: the shape of Hugging Face's Pattern::find_matches. */
typedef struct otok_range {
    size_t start, end;
    int is_match;
} otok_range;

typedef struct otok_ranges {
    otok_range *v;
    size_t n, cap;
} otok_ranges;

int otok_ranges_push(otok_ranges *r, size_t start, size_t end, int is_match);
void otok_ranges_free(otok_ranges *r);

#endif
