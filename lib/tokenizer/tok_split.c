/* Split behaviours, following NormalizedString::split. */
#include "tokenizer/tok_split.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

int otok_pieces_push(otok_pieces *p, otok_piece piece)
{
    if (OLIVE_PUSH(p->v, p->n, p->cap, piece))
        return olive_fail(OLIVE_ENOMEM, "out of memory splitting text");
    return OLIVE_OK;
}

void otok_pieces_free(otok_pieces *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

int otok_behavior_parse(const char *name)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int otok_split(otok_pieces *out, const otok_piece *p, otok_ranges *r, otok_behavior behavior, int invert)
{
    otok_range *v = r->v;
    size_t n = r->n, k = 0;
    if (invert)
        for (size_t i = 0; i < n; i++)
            v[i].is_match = !v[i].is_match;
    /* Rewrite the ranges in place into the pieces to keep (is_match 0) or drop (1). */
    switch (behavior) {
    case OTOK_ISOLATED:
        for (size_t i = 0; i < n; i++)
            v[i].is_match = 0;
        k = n;
        break;
    case OTOK_REMOVED: k = n; break;
    case OTOK_CONTIGUOUS: {
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int m = v[i].is_match;
            if (m == prev && k > 0)
                v[k - 1].end = v[i].end;
            else
                v[k++] = (otok_range){v[i].start, v[i].end, 0};
            prev = m;
        }
        break;
    }
    case OTOK_MERGED_WITH_PREVIOUS: {
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int m = v[i].is_match;
            if (m && !prev && k > 0)
                v[k - 1].end = v[i].end;
            else
                v[k++] = (otok_range){v[i].start, v[i].end, 0};
            prev = m;
        }
        break;
    }
    case OTOK_MERGED_WITH_NEXT: {
        /* built from the back, then reversed */
        int prev = 0;
        for (size_t i = n; i-- > 0;) {
            int m = v[i].is_match;
            otok_range cur = v[i];
            if (m && !prev && k > 0)
                v[n - k].start = cur.start; /* extend the last kept (stored at the back) */
            else {
                k++;
                v[n - k] = (otok_range){cur.start, cur.end, 0};
            }
            prev = m;
        }
        memmove(v, v + (n - k), k * sizeof *v);
        break;
    }
    }
    for (size_t i = 0; i < k; i++) {
        if (v[i].is_match || v[i].end == v[i].start)
            continue;
        otok_piece q = {p->s + v[i].start, v[i].end - v[i].start, -1, (uint8_t)(p->at_start && v[i].start == 0)};
        OLIVE_TRY(otok_pieces_push(out, q));
    }
    return OLIVE_OK;
}

int otok_char_ranges(otok_ranges *out, const char *s, size_t len, int (*pred)(uint32_t, const void *), const void *ctx)
{
    if (len == 0)
        return otok_ranges_push(out, 0, 0, 0);
    size_t last = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = otok_utf8_next(s, i, &cp);
        if (pred(cp, ctx)) {
            if (last < i)
                OLIVE_TRY(otok_ranges_push(out, last, i, 0));
            OLIVE_TRY(otok_ranges_push(out, i, i + n, 1));
            last = i + n;
        }
        i += n;
    }
    if (len > last)
        OLIVE_TRY(otok_ranges_push(out, last, len, 0));
    return OLIVE_OK;
}
