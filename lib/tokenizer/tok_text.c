/* UTF-8 helpers, the arena and small arrays for the tokenizer. */
#include "tokenizer/tok_text.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

size_t otok_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* How many bytes of an ill-formed sequence at s[i] form one maximal subpart: the lead byte
 * and the continuation bytes that could still have begun a valid sequence. */
static size_t maximal_subpart(const unsigned char *s, size_t len, size_t i)
{
    unsigned char b = s[i];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0)
            lo = 0xA0;
        if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F;
    } else
        return 1;
    size_t k = 1;
    for (; k <= need && i + k < len; k++) {
        unsigned char c = s[i + k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
            break;
    }
    return k;
}

size_t otok_utf8_valid_at(const char *str, size_t len, size_t i)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char b = s[i];
    if (b < 0x80)
        return 1;
    size_t need = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : 0;
    if (!need)
        return 0;
    size_t k = maximal_subpart(s, len, i);
    return k == need + 1 ? k : 0;
}

char *otok_utf8_repair(const char *str, size_t len, size_t *out_len)
{
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t n = otok_utf8_valid_at(str, len, i);
        if (n) {
            i += n;
        } else {
            bad++;
            i += maximal_subpart((const unsigned char *)str, len, i);
        }
    }
    uint64_t cap;
    if (!olive_mul_ok(bad, 3, &cap) || cap > SIZE_MAX - len - 1) {
        olive_fail(OLIVE_ENOMEM, "text too long");
        return NULL;
    }
    char *out = olive_malloc(len + (size_t)cap + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = otok_utf8_valid_at(str, len, i);
        if (n) {
            memcpy(out + o, str + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += maximal_subpart((const unsigned char *)str, len, i);
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

size_t otok_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

struct otok_arena_chunk {
    otok_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *otok_arena_alloc(otok_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) {
        olive_fail(OLIVE_ENOMEM, "arena allocation too large");
        return NULL;
    }
    otok_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > 65536 ? need : 65536;
        if (cap > SIZE_MAX - sizeof *c) {
            olive_fail(OLIVE_ENOMEM, "arena allocation too large");
            return NULL;
        }
        c = olive_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    return p;
}

char *otok_arena_dup(otok_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        olive_fail(OLIVE_ENOMEM, "arena allocation too large");
        return NULL;
    }
    char *p = otok_arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void otok_arena_free(otok_arena *a)
{
    otok_arena_chunk *c = a->head;
    while (c) {
        otok_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

int otok_ids_push(otok_ids *ids, int32_t id)
{
    if (OLIVE_PUSH(ids->v, ids->n, ids->cap, id))
        return olive_fail(OLIVE_ENOMEM, "out of memory storing token ids");
    return OLIVE_OK;
}

void otok_ids_free(otok_ids *ids)
{
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

int otok_ranges_push(otok_ranges *r, size_t start, size_t end, int is_match)
{
    otok_range x = {start, end, is_match};
    if (OLIVE_PUSH(r->v, r->n, r->cap, x))
        return olive_fail(OLIVE_ENOMEM, "out of memory splitting text");
    return OLIVE_OK;
}

void otok_ranges_free(otok_ranges *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}
