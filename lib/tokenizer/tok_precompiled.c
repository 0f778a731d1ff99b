/* SentencePiece's precompiled charsmap: decoding, bounded double-array lookups, and the
 * grapheme-wise replacement of tokenizers' Precompiled normalizer. */
#include "tokenizer/tok_precompiled.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/status.h"
#include "tokenizer/tok_text.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int otok_precompiled_parse(otok_precompiled *p, const char *b64, size_t len, const char *path)
{
    memset(p, 0, sizeof *p);
    unsigned char *raw = olive_malloc(len / 4 * 3 + 3);
    if (!raw)
        return OLIVE_ENOMEM;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (b64[i] == '=')
            break;
        int v = b64_value((unsigned char)b64[i]);
        if (v < 0) {
            free(raw);
            return olive_fail(OLIVE_EFORMAT, "%s.precompiled_charsmap: not base64", path);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    uint32_t trie_size = n >= 4 ? (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 |
                                      (uint32_t)raw[3] << 24
                                : 0;
    if (n < 4 || trie_size % 4 || trie_size > n - 4 || trie_size == 0) {
        free(raw);
        return olive_fail(OLIVE_EFORMAT, "%s.precompiled_charsmap: truncated or inconsistent (%zu bytes)", path, n);
    }
    p->n_units = trie_size / 4;
    p->normalized_len = n - 4 - trie_size;
    p->units = olive_malloc(trie_size);
    p->normalized = olive_malloc(p->normalized_len + 1);
    if (!p->units || !p->normalized) {
        free(raw);
        otok_precompiled_free(p);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < p->n_units; i++) {
        const unsigned char *u = raw + 4 + 4 * i;
        p->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(p->normalized, raw + 4 + trie_size, p->normalized_len);
    p->normalized[p->normalized_len] = 0;
    free(raw);
    return OLIVE_OK;
}

void otok_precompiled_free(otok_precompiled *p)
{
    free(p->units);
    free(p->normalized);
    memset(p, 0, sizeof *p);
}

/* darts-clone's unit fields */
static inline uint32_t unit_offset(uint32_t u)
{
    return (u >> 10) << ((u & (1u << 9)) >> 6);
}

/* The replacement for the shortest key that prefixes s[0..len), or NULL. */
static const char *lookup(const otok_precompiled *p, const char *s, size_t len, size_t *out_len)
{
    size_t pos = 0;
    pos ^= unit_offset(p->units[0]);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            break;
        pos ^= c;
        if (pos >= p->n_units)
            return NULL;
        uint32_t u = p->units[pos];
        if ((u & ((1u << 31) | 0xFF)) != c)
            return NULL;
        pos ^= unit_offset(u);
        if (pos >= p->n_units)
            return NULL;
        if ((u >> 8) & 1) {
            size_t at = p->units[pos] & ((1u << 31) - 1);
            if (at >= p->normalized_len)
                return NULL;
            const char *r = p->normalized + at;
            size_t rl = strlen(r);
            /* the charsmap is untrusted bytes: an offset into the middle of a character, or a
             * replacement that is not UTF-8, would hand the models text they cannot walk */
            for (size_t k = 0; k < rl;) {
                size_t w = otok_utf8_valid_at(r, rl, k);
                if (!w)
                    return NULL;
                k += w;
            }
            *out_len = rl;
            return r;
        }
    }
    return NULL;
}

static void put_chunk(const otok_precompiled *p, const char *s, size_t len, olive_strbuf *out)
{
    size_t rl;
    const char *r = lookup(p, s, len, &rl);
    if (r)
        olive_strbuf_appendn(out, r, rl);
    else
        olive_strbuf_appendn(out, s, len);
}

void otok_precompiled_apply(const otok_precompiled *p, const char *s, size_t len, olive_strbuf *out)
{
    size_t start = 0;
    utf8proc_int32_t state = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i <= len;) {
        uint32_t cp = 0;
        size_t k = i < len ? otok_utf8_next(s, i, &cp) : 0;
        int boundary = i == len || (i > 0 && utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev,
                                                                              (utf8proc_int32_t)cp, &state));
        if (boundary && i > start) {
            /* one grapheme: s[start..i) */
            size_t rl;
            const char *r = i - start < 6 ? lookup(p, s + start, i - start, &rl) : NULL;
            if (r) {
                olive_strbuf_appendn(out, r, rl);
            } else {
                for (size_t j = start; j < i;) {
                    uint32_t c;
                    size_t w = otok_utf8_next(s, j, &c);
                    put_chunk(p, s + j, w, out);
                    j += w;
                }
            }
            start = i;
        }
        if (i == len)
            break;
        prev = cp;
        i += k;
    }
}
