/* Decoders, as Hugging Face's decode_chain implementations. */
#include "tokenizer/tok_decoder.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tok_bytelevel.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"

int otok_parse_pattern(otok_regex **out, json_t *j, const char *path);

typedef enum kind {
    D_BYTELEVEL,
    D_METASPACE,
    D_WORDPIECE,
    D_BYTEFALLBACK,
    D_FUSE,
    D_STRIP,
    D_REPLACE,
    D_BPE,
    D_CTC,
    D_SEQUENCE,
} kind;

struct otok_decoder {
    kind kind;
    uint32_t ch; /* Metaspace replacement, Strip content */
    int prepend; /* Metaspace: 1 unless prepend_scheme is never */
    char *a, *b; /* WordPiece prefix; BPE suffix; Replace content; CTC pad and delimiter */
    size_t a_len, b_len;
    int cleanup;
    uint64_t start, stop; /* Strip */
    otok_regex *re;       /* Replace */
    otok_decoder **items;
    size_t n_items;
};

int otok_strs_push(otok_strs *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **ns = olive_reallocarray(l->s, cap, sizeof *ns);
        if (!ns)
            return OLIVE_ENOMEM;
        l->s = ns;
        size_t *nl = olive_reallocarray(l->len, cap, sizeof *nl);
        if (!nl)
            return OLIVE_ENOMEM;
        l->len = nl;
        l->cap = cap;
    }
    char *c = olive_malloc(len + 1);
    if (!c)
        return OLIVE_ENOMEM;
    if (len)
        memcpy(c, s, len);
    c[len] = 0;
    l->s[l->n] = c;
    l->len[l->n++] = len;
    return OLIVE_OK;
}

void otok_strs_free(otok_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->len);
    memset(l, 0, sizeof *l);
}

void otok_decoder_free(otok_decoder *d)
{
    if (!d)
        return;
    free(d->a);
    free(d->b);
    otok_regex_free(d->re);
    for (size_t i = 0; i < d->n_items; i++)
        otok_decoder_free(d->items[i]);
    free(d->items);
    free(d);
}

static int dup_field(json_t *j, const char *path, const char *key, const char *dflt, char **out, size_t *len)
{
    const char *s = dflt;
    size_t n = dflt ? strlen(dflt) : 0;
    OLIVE_TRY(otok_json_string(j, path, key, dflt == NULL, &s, &n));
    if (!(*out = olive_malloc(n + 1)))
        return OLIVE_ENOMEM;
    memcpy(*out, s, n);
    (*out)[n] = 0;
    *len = n;
    return OLIVE_OK;
}

static int parse_body(otok_decoder *d, json_t *j, const char *path, const char *type, int depth)
{
    if (!strcmp(type, "ByteLevel")) {
        d->kind = D_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        d->kind = D_METASPACE;
        OLIVE_TRY(otok_json_char(j, path, "replacement", &d->ch));
        const char *scheme = NULL;
        OLIVE_TRY(otok_json_string(j, path, "prepend_scheme", 0, &scheme, NULL));
        int aps = -1;
        OLIVE_TRY(otok_json_bool(j, path, "add_prefix_space", &aps));
        d->prepend = scheme ? strcmp(scheme, "never") != 0 : aps != 0;
        if (aps == 0)
            d->prepend = 0;
    } else if (!strcmp(type, "WordPiece")) {
        d->kind = D_WORDPIECE;
        d->cleanup = 1;
        OLIVE_TRY(dup_field(j, path, "prefix", "##", &d->a, &d->a_len));
        OLIVE_TRY(otok_json_bool(j, path, "cleanup", &d->cleanup));
    } else if (!strcmp(type, "ByteFallback")) {
        d->kind = D_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->kind = D_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->kind = D_STRIP;
        OLIVE_TRY(otok_json_char(j, path, "content", &d->ch));
        OLIVE_TRY(otok_json_uint(j, path, "start", UINT32_MAX, &d->start));
        OLIVE_TRY(otok_json_uint(j, path, "stop", UINT32_MAX, &d->stop));
    } else if (!strcmp(type, "Replace")) {
        d->kind = D_REPLACE;
        OLIVE_TRY(otok_parse_pattern(&d->re, j, path));
        OLIVE_TRY(dup_field(j, path, "content", NULL, &d->a, &d->a_len));
    } else if (!strcmp(type, "BPEDecoder")) {
        d->kind = D_BPE;
        OLIVE_TRY(dup_field(j, path, "suffix", "</w>", &d->a, &d->a_len));
    } else if (!strcmp(type, "CTC")) {
        d->kind = D_CTC;
        d->cleanup = 1;
        OLIVE_TRY(dup_field(j, path, "pad_token", "<pad>", &d->a, &d->a_len));
        OLIVE_TRY(dup_field(j, path, "word_delimiter_token", "|", &d->b, &d->b_len));
        OLIVE_TRY(otok_json_bool(j, path, "cleanup", &d->cleanup));
    } else if (!strcmp(type, "Sequence")) {
        d->kind = D_SEQUENCE;
        if (depth >= OTOK_MAX_DEPTH)
            return otok_json_fail(path, NULL, "Sequence nested deeper than %d", OTOK_MAX_DEPTH);
        json_t *items = json_object_get(j, "decoders");
        if (!json_is_array(items))
            return otok_json_fail(path, "decoders", "expected an array");
        size_t count = json_array_size(items);
        if (!(d->items = olive_calloc(count ? count : 1, sizeof *d->items)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < count; i++) {
            char *sub = olive_asprintf("%s.decoders[%zu]", path, i);
            if (!sub)
                return OLIVE_ENOMEM;
            int rc = otok_decoder_parse(&d->items[i], json_array_get(items, i), sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
            d->n_items = i + 1;
        }
    } else {
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: decoder type '%s' is not supported", path, type);
    }
    return OLIVE_OK;
}

int otok_decoder_parse(otok_decoder **out, json_t *j, const char *path, int depth)
{
    const char *type;
    OLIVE_TRY(otok_json_type(j, path, &type));
    otok_decoder *d = olive_calloc(1, sizeof *d);
    if (!d)
        return OLIVE_ENOMEM;
    int rc = parse_body(d, j, path, type, depth);
    if (rc) {
        otok_decoder_free(d);
        return rc;
    }
    *out = d;
    return OLIVE_OK;
}

/* Appends s with every occurrence of `from` replaced by `to` (str::replace). */
static void replace_all(olive_strbuf *b, const char *s, size_t n, const char *from, size_t fl, const char *to,
                        size_t tl)
{
    if (!fl) { /* Rust's replace with an empty pattern inserts `to` around every character */
        olive_strbuf_appendn(b, to, tl);
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = otok_utf8_next(s, i, &cp);
            olive_strbuf_appendn(b, s + i, k);
            olive_strbuf_appendn(b, to, tl);
            i += k;
        }
        return;
    }
    size_t i = 0;
    while (i < n) {
        const char *hit = n - i >= fl ? memmem(s + i, n - i, from, fl) : NULL;
        if (!hit) {
            olive_strbuf_appendn(b, s + i, n - i);
            return;
        }
        olive_strbuf_appendn(b, s + i, (size_t)(hit - (s + i)));
        olive_strbuf_appendn(b, to, tl);
        i = (size_t)(hit - s) + fl;
    }
}

/* Replaces token i with the contents of b (b is emptied). */
static int replace_token(otok_strs *l, size_t i, olive_strbuf *b)
{
    size_t n = b->len;
    char *s = olive_strbuf_take(b);
    if (!s)
        return OLIVE_ENOMEM;
    free(l->s[i]);
    l->s[i] = s;
    l->len[i] = n;
    return OLIVE_OK;
}

static const char *const CLEANUP[][2] = {
    {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},    {" n't", "n't"},
    {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

/* WordPiece's cleanup of tokenization spaces, applied to a string in place in the list. */
static int cleanup(otok_strs *l, size_t i)
{
    for (size_t r = 0; r < sizeof CLEANUP / sizeof *CLEANUP; r++) {
        const char *from = CLEANUP[r][0], *to = CLEANUP[r][1];
        if (!memmem(l->s[i], l->len[i], from, strlen(from)))
            continue;
        olive_strbuf b = {0};
        replace_all(&b, l->s[i], l->len[i], from, strlen(from), to, strlen(to));
        OLIVE_TRY(replace_token(l, i, &b));
    }
    return OLIVE_OK;
}

/* A <0xXX> token's byte: Rust's u8::from_str_radix on the two characters after "<0x". */
static int fallback_byte(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    int v = 0;
    size_t i = 3;
    if (s[3] == '+')
        i = 4; /* from_str_radix accepts a leading '+' */
    if (i == 5)
        return -1;
    for (; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int chain(const otok_decoder *d, otok_strs *l);

static int flush_bytes(otok_strs *out, olive_strbuf *bytes)
{
    if (!bytes->len)
        return OLIVE_OK;
    int rc = OLIVE_OK;
    size_t n = bytes->len;
    int valid = 1;
    for (size_t i = 0; i < n;) {
        size_t k = otok_utf8_valid_at(bytes->data, n, i);
        if (!k) {
            valid = 0;
            break;
        }
        i += k;
    }
    if (valid)
        rc = otok_strs_push(out, bytes->data, n);
    else
        for (size_t i = 0; i < n && !rc; i++)
            rc = otok_strs_push(out, "\xEF\xBF\xBD", 3);
    bytes->len = 0;
    return rc;
}

static int chain(const otok_decoder *d, otok_strs *l)
{
    int rc = OLIVE_OK;
    switch (d->kind) {
    case D_SEQUENCE:
        for (size_t i = 0; i < d->n_items; i++)
            OLIVE_TRY(chain(d->items[i], l));
        return OLIVE_OK;
    case D_BYTELEVEL: {
        olive_strbuf raw = {0};
        for (size_t t = 0; t < l->n; t++) {
            const char *s = l->s[t];
            size_t n = l->len[t], start = raw.len;
            int all = 1;
            for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t k = otok_utf8_next(s, i, &cp);
                int b = otok_char_to_byte(cp);
                if (b < 0) {
                    all = 0;
                    break;
                }
                char c = (char)b;
                olive_strbuf_appendn(&raw, &c, 1);
                i += k;
            }
            if (!all) { /* a token outside the alphabet passes through as its own bytes */
                raw.len = start;
                olive_strbuf_appendn(&raw, s, n);
            }
        }
        size_t fixed_len = 0;
        char *fixed = raw.failed ? NULL : otok_utf8_repair(raw.data ? raw.data : "", raw.len, &fixed_len);
        olive_strbuf_free(&raw);
        if (!fixed)
            return olive_fail(OLIVE_ENOMEM, "out of memory decoding");
        otok_strs_free(l);
        rc = otok_strs_push(l, fixed, fixed_len);
        free(fixed);
        return rc;
    }
    case D_METASPACE:
        for (size_t t = 0; t < l->n && !rc; t++) {
            char rep[4];
            size_t rl = otok_utf8_put(d->ch, rep);
            olive_strbuf b = {0};
            /* in the first token every replacement character goes, not only a leading one */
            if (t == 0 && d->prepend)
                replace_all(&b, l->s[t], l->len[t], rep, rl, "", 0);
            else
                replace_all(&b, l->s[t], l->len[t], rep, rl, " ", 1);
            rc = replace_token(l, t, &b);
        }
        return rc;
    case D_WORDPIECE:
        for (size_t t = 0; t < l->n && !rc; t++) {
            if (t != 0) {
                olive_strbuf b = {0};
                if (l->len[t] >= d->a_len && !memcmp(l->s[t], d->a, d->a_len)) {
                    /* replacen(prefix, "", 1): the first occurrence, which is at the start */
                    olive_strbuf_appendn(&b, l->s[t] + d->a_len, l->len[t] - d->a_len);
                } else {
                    olive_strbuf_appendn(&b, " ", 1);
                    olive_strbuf_appendn(&b, l->s[t], l->len[t]);
                }
                rc = replace_token(l, t, &b);
            }
            if (!rc && d->cleanup)
                rc = cleanup(l, t);
        }
        return rc;
    case D_BYTEFALLBACK: {
        otok_strs out = {0};
        olive_strbuf bytes = {0};
        for (size_t t = 0; t < l->n && !rc; t++) {
            int b = fallback_byte(l->s[t], l->len[t]);
            if (b >= 0) {
                char c = (char)b;
                olive_strbuf_appendn(&bytes, &c, 1);
                continue;
            }
            rc = flush_bytes(&out, &bytes);
            if (!rc)
                rc = otok_strs_push(&out, l->s[t], l->len[t]);
        }
        if (!rc)
            rc = flush_bytes(&out, &bytes);
        if (!rc && bytes.failed)
            rc = olive_fail(OLIVE_ENOMEM, "out of memory decoding");
        olive_strbuf_free(&bytes);
        otok_strs_free(l);
        *l = out;
        return rc;
    }
    case D_FUSE: {
        olive_strbuf b = {0};
        for (size_t t = 0; t < l->n; t++)
            olive_strbuf_appendn(&b, l->s[t], l->len[t]);
        otok_strs_free(l);
        if (b.failed) {
            olive_strbuf_free(&b);
            return olive_fail(OLIVE_ENOMEM, "out of memory decoding");
        }
        rc = otok_strs_push(l, b.data ? b.data : "", b.len);
        olive_strbuf_free(&b);
        return rc;
    }
    case D_STRIP:
        for (size_t t = 0; t < l->n && !rc; t++) {
            const char *s = l->s[t];
            size_t n = l->len[t], a = 0, z = n;
            uint32_t cp;
            for (uint64_t k = 0; k < d->start && a < n; k++) {
                size_t w = otok_utf8_next(s, a, &cp);
                if (cp != d->ch)
                    break;
                a += w;
            }
            for (uint64_t k = 0; k < d->stop && z > a; k++) {
                size_t p = otok_utf8_prev(s, z);
                otok_utf8_next(s, p, &cp);
                if (cp != d->ch)
                    break;
                z = p;
            }
            olive_strbuf b = {0};
            olive_strbuf_appendn(&b, s + a, z - a);
            rc = replace_token(l, t, &b);
        }
        return rc;
    case D_REPLACE:
        for (size_t t = 0; t < l->n && !rc; t++) {
            otok_ranges r = {0};
            rc = otok_regex_ranges(d->re, l->s[t], l->len[t], &r);
            olive_strbuf b = {0};
            for (size_t i = 0; !rc && i < r.n; i++) {
                if (r.v[i].is_match)
                    olive_strbuf_appendn(&b, d->a, d->a_len);
                else
                    olive_strbuf_appendn(&b, l->s[t] + r.v[i].start, r.v[i].end - r.v[i].start);
            }
            otok_ranges_free(&r);
            if (!rc)
                rc = replace_token(l, t, &b);
            else
                olive_strbuf_free(&b);
        }
        return rc;
    case D_BPE:
        for (size_t t = 0; t < l->n && !rc; t++) {
            olive_strbuf b = {0};
            const char *to = t + 1 == l->n ? "" : " ";
            replace_all(&b, l->s[t], l->len[t], d->a, d->a_len, to, strlen(to));
            rc = replace_token(l, t, &b);
        }
        return rc;
    case D_CTC: {
        otok_strs out = {0};
        for (size_t t = 0; t < l->n && !rc; t++) {
            if (t > 0 && l->len[t] == l->len[t - 1] && !memcmp(l->s[t], l->s[t - 1], l->len[t]))
                continue; /* consecutive duplicates collapse */
            olive_strbuf b = {0};
            replace_all(&b, l->s[t], l->len[t], d->a, d->a_len, "", 0);
            if (b.failed) {
                olive_strbuf_free(&b);
                rc = OLIVE_ENOMEM;
                break;
            }
            if ((rc = otok_strs_push(&out, b.data ? b.data : "", b.len))) {
                olive_strbuf_free(&b);
                break;
            }
            olive_strbuf_free(&b);
            size_t k = out.n - 1;
            if (d->cleanup) {
                if ((rc = cleanup(&out, k)))
                    break;
                olive_strbuf c = {0};
                replace_all(&c, out.s[k], out.len[k], d->b, d->b_len, " ", 1);
                if ((rc = replace_token(&out, k, &c)))
                    break;
            }
            if (!out.len[k]) {
                free(out.s[k]);
                out.n--;
            }
        }
        otok_strs_free(l);
        *l = out;
        return rc;
    }
    }
    return olive_fail(OLIVE_EINTERNAL, "unknown decoder");
}

int otok_decode(const otok_decoder *d, otok_strs *tokens, olive_strbuf *out)
{
    if (!d) {
        for (size_t i = 0; i < tokens->n; i++) {
            if (i)
                olive_strbuf_appendn(out, " ", 1);
            olive_strbuf_appendn(out, tokens->s[i], tokens->len[i]);
        }
    } else {
        OLIVE_TRY(chain(d, tokens));
        for (size_t i = 0; i < tokens->n; i++)
            olive_strbuf_appendn(out, tokens->s[i], tokens->len[i]);
    }
    if (out->failed)
        return olive_fail(OLIVE_ENOMEM, "out of memory decoding");
    return OLIVE_OK;
}
