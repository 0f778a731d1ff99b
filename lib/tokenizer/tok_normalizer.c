/* Normalizers, each a string-to-string step as Hugging Face's NormalizedString applies it
 * (alignments are not kept: ids do not depend on them). */
#include "tokenizer/tok_normalizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tok_bytelevel.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_precompiled.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/tok_unicode.h"

typedef enum kind {
    N_BERT,
    N_LOWERCASE,
    N_NFC,
    N_NFD,
    N_NFKC,
    N_NFKD,
    N_STRIP,
    N_STRIP_ACCENTS,
    N_REPLACE,
    N_PREPEND,
    N_APPEND,
    N_NMT,
    N_BYTELEVEL,
    N_SEQUENCE,
    N_PRECOMPILED,
} kind;

struct otok_normalizer {
    kind kind;
    int clean_text, chinese, strip_accents, lowercase; /* BertNormalizer */
    int left, right;                                   /* Strip */
    otok_regex *re;                                    /* Replace */
    char *text;                                        /* Replace's content, Prepend, Append */
    size_t text_len;
    otok_precompiled charsmap; /* Precompiled */
    otok_normalizer **items;   /* Sequence */
    size_t n_items;
};

void otok_normalizer_free(otok_normalizer *n)
{
    if (!n)
        return;
    otok_regex_free(n->re);
    free(n->text);
    otok_precompiled_free(&n->charsmap);
    for (size_t i = 0; i < n->n_items; i++)
        otok_normalizer_free(n->items[i]);
    free(n->items);
    free(n);
}

static int copy_text(otok_normalizer *n, json_t *j, const char *path, const char *key)
{
    const char *s;
    size_t len;
    OLIVE_TRY(otok_json_string(j, path, key, 1, &s, &len));
    if (!(n->text = olive_malloc(len + 1)))
        return OLIVE_ENOMEM;
    memcpy(n->text, s, len);
    n->text[len] = 0;
    n->text_len = len;
    return OLIVE_OK;
}

/* Replace and Split take {"String": s} or {"Regex": r}. */
int otok_parse_pattern(otok_regex **out, json_t *j, const char *path);
int otok_parse_pattern(otok_regex **out, json_t *j, const char *path)
{
    json_t *p = json_object_get(j, "pattern");
    if (!json_is_object(p))
        return otok_json_fail(path, "pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    char *where = otok_json_path(path, "pattern", 0);
    if (!where)
        return OLIVE_ENOMEM;
    int rc;
    if (json_is_string(s))
        rc = otok_regex_compile_literal(out, json_string_value(s), json_string_length(s), where);
    else if (json_is_string(r))
        rc = otok_regex_compile(out, json_string_value(r), json_string_length(r), where);
    else
        rc = otok_json_fail(where, NULL, "expected {\"String\": ...} or {\"Regex\": ...}");
    free(where);
    return rc;
}

static int parse_body(otok_normalizer *n, json_t *j, const char *path, const char *type, int depth)
{
    if (!strcmp(type, "BertNormalizer")) {
        n->kind = N_BERT;
        n->clean_text = n->chinese = n->lowercase = 1;
        n->strip_accents = -1;
        OLIVE_TRY(otok_json_bool(j, path, "clean_text", &n->clean_text));
        OLIVE_TRY(otok_json_bool(j, path, "handle_chinese_chars", &n->chinese));
        OLIVE_TRY(otok_json_bool(j, path, "strip_accents", &n->strip_accents));
        OLIVE_TRY(otok_json_bool(j, path, "lowercase", &n->lowercase));
        if (n->strip_accents < 0) /* null: follows lowercase */
            n->strip_accents = n->lowercase;
    } else if (!strcmp(type, "Lowercase")) {
        n->kind = N_LOWERCASE;
    } else if (!strcmp(type, "NFC")) {
        n->kind = N_NFC;
    } else if (!strcmp(type, "NFD")) {
        n->kind = N_NFD;
    } else if (!strcmp(type, "NFKC")) {
        n->kind = N_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        n->kind = N_NFKD;
    } else if (!strcmp(type, "Strip")) {
        n->kind = N_STRIP;
        n->left = n->right = 1;
        OLIVE_TRY(otok_json_bool(j, path, "strip_left", &n->left));
        OLIVE_TRY(otok_json_bool(j, path, "strip_right", &n->right));
    } else if (!strcmp(type, "StripAccents")) {
        n->kind = N_STRIP_ACCENTS;
    } else if (!strcmp(type, "Replace")) {
        n->kind = N_REPLACE;
        OLIVE_TRY(otok_parse_pattern(&n->re, j, path));
        OLIVE_TRY(copy_text(n, j, path, "content"));
    } else if (!strcmp(type, "Prepend")) {
        n->kind = N_PREPEND;
        OLIVE_TRY(copy_text(n, j, path, "prepend"));
    } else if (!strcmp(type, "Append")) {
        n->kind = N_APPEND;
        OLIVE_TRY(copy_text(n, j, path, "append"));
    } else if (!strcmp(type, "Nmt")) {
        n->kind = N_NMT;
    } else if (!strcmp(type, "ByteLevel")) {
        n->kind = N_BYTELEVEL;
    } else if (!strcmp(type, "Sequence")) {
        n->kind = N_SEQUENCE;
        if (depth >= OTOK_MAX_DEPTH)
            return otok_json_fail(path, NULL, "Sequence nested deeper than %d", OTOK_MAX_DEPTH);
        json_t *items = json_object_get(j, "normalizers");
        if (!json_is_array(items))
            return otok_json_fail(path, "normalizers", "expected an array");
        size_t count = json_array_size(items);
        if (!(n->items = olive_calloc(count ? count : 1, sizeof *n->items)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < count; i++) {
            char *sub = olive_asprintf("%s.normalizers[%zu]", path, i);
            if (!sub)
                return OLIVE_ENOMEM;
            int rc = otok_normalizer_parse(&n->items[i], json_array_get(items, i), sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
            n->n_items = i + 1;
        }
    } else if (!strcmp(type, "Precompiled")) {
        n->kind = N_PRECOMPILED;
        const char *b64;
        size_t len;
        OLIVE_TRY(otok_json_string(j, path, "precompiled_charsmap", 1, &b64, &len));
        OLIVE_TRY(otok_precompiled_parse(&n->charsmap, b64, len, path));
    } else {
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: normalizer type '%s' is not supported", path, type);
    }
    return OLIVE_OK;
}

int otok_normalizer_parse(otok_normalizer **out, json_t *j, const char *path, int depth)
{
    const char *type;
    OLIVE_TRY(otok_json_type(j, path, &type));
    otok_normalizer *n = olive_calloc(1, sizeof *n);
    if (!n)
        return OLIVE_ENOMEM;
    int rc = parse_body(n, j, path, type, depth);
    if (rc) {
        otok_normalizer_free(n);
        return rc;
    }
    *out = n;
    return OLIVE_OK;
}

static void put_cp(olive_strbuf *b, uint32_t cp)
{
    char u[4];
    olive_strbuf_appendn(b, u, otok_utf8_put(cp, u));
}

static int nfx(olive_strbuf *out, const char *s, size_t len, char form)
{
    size_t n;
    char *r = otok_unicode_normalize(s, len, form, &n);
    if (!r)
        return olive_error_code();
    olive_strbuf_appendn(out, r, n);
    free(r);
    return OLIVE_OK;
}

static void lowercase(olive_strbuf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp, m[3];
        i += otok_utf8_next(s, i, &cp);
        size_t k = otok_lowercase(cp, m);
        for (size_t t = 0; t < k; t++)
            put_cp(out, m[t]);
    }
}

/* BertNormalizer: clean_text, handle_chinese_chars, strip_accents (NFD, then nonspacing marks
 * dropped), lowercase, in that order. */
static int bert(const otok_normalizer *n, const char *s, size_t len, olive_strbuf *out, int *moved)
{
    olive_strbuf a = {0}, b = {0};
    const char *cur = s;
    size_t cur_len = len;
    int rc = OLIVE_OK;
    if (n->clean_text || n->chinese) {
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t k = otok_utf8_next(s, i, &cp);
            if (n->clean_text) {
                if (cp == 0 || cp == 0xFFFD || otok_in_ranges(otok_bert_control, otok_bert_control_count, cp)) {
                    if (i == 0)
                        *moved = 1;
                    i += k;
                    continue;
                }
                if (otok_is_whitespace(cp)) {
                    olive_strbuf_appendn(&a, " ", 1);
                    i += k;
                    continue;
                }
            }
            if (n->chinese && otok_is_cjk(cp)) {
                olive_strbuf_appendn(&a, " ", 1);
                olive_strbuf_appendn(&a, s + i, k);
                olive_strbuf_appendn(&a, " ", 1);
            } else {
                olive_strbuf_appendn(&a, s + i, k);
            }
            i += k;
        }
        cur = a.data ? a.data : "";
        cur_len = a.len;
    }
    if (n->strip_accents && !a.failed) {
        size_t dn;
        char *d = otok_unicode_normalize(cur, cur_len, 'D', &dn);
        if (!d) {
            rc = olive_error_code();
        } else {
            for (size_t i = 0; i < dn;) {
                uint32_t cp;
                size_t k = otok_utf8_next(d, i, &cp);
                if (!otok_in_ranges(otok_bert_nonspacing, otok_bert_nonspacing_count, cp))
                    olive_strbuf_appendn(&b, d + i, k);
                else if (i == 0)
                    *moved = 1;
                i += k;
            }
            free(d);
            cur = b.data ? b.data : "";
            cur_len = b.len;
        }
    }
    if (!rc) {
        if (n->lowercase)
            lowercase(out, cur, cur_len);
        else
            olive_strbuf_appendn(out, cur, cur_len);
    }
    if (!rc && (a.failed || b.failed))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory normalizing text");
    olive_strbuf_free(&a);
    olive_strbuf_free(&b);
    return rc;
}

static int apply(const otok_normalizer *n, const char *s, size_t len, olive_strbuf *out, int *moved)
{
    switch (n->kind) {
    case N_BERT: return bert(n, s, len, out, moved);
    case N_LOWERCASE: lowercase(out, s, len); return OLIVE_OK;
    case N_NFC: return nfx(out, s, len, 'C');
    case N_NFD: return nfx(out, s, len, 'D');
    case N_NFKC: return nfx(out, s, len, 'c');
    case N_NFKD: return nfx(out, s, len, 'd');
    case N_STRIP: {
        size_t a = 0, b = len;
        uint32_t cp;
        while (n->left && a < b && (otok_utf8_next(s, a, &cp), otok_is_whitespace(cp)))
            a += otok_utf8_next(s, a, &cp);
        if (a > 0 && a < b)
            *moved = 1;
        while (n->right && b > a) {
            size_t p = otok_utf8_prev(s, b);
            otok_utf8_next(s, p, &cp);
            if (!otok_is_whitespace(cp))
                break;
            b = p;
        }
        olive_strbuf_appendn(out, s + a, b - a);
        return OLIVE_OK;
    }
    case N_STRIP_ACCENTS:
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t k = otok_utf8_next(s, i, &cp);
            if (!otok_in_ranges(otok_combining_marks, otok_combining_marks_count, cp))
                olive_strbuf_appendn(out, s + i, k);
            else if (i == 0)
                *moved = 1;
            i += k;
        }
        return OLIVE_OK;
    case N_REPLACE: {
        otok_ranges r = {0};
        int rc = otok_regex_ranges(n->re, s, len, &r);
        /* a leading match of one character replaced by some text keeps the start; removed,
         * or longer, the text's start moves (tokenizers' transform_range) */
        if (!rc && r.n && r.v[0].is_match && r.v[0].start == 0 && r.v[0].end > 0 &&
            (!n->text_len || otok_utf8_count(s, r.v[0].end) > 1))
            *moved = 1;
        for (size_t i = 0; !rc && i < r.n; i++) {
            if (r.v[i].is_match)
                olive_strbuf_appendn(out, n->text, n->text_len);
            else
                olive_strbuf_appendn(out, s + r.v[i].start, r.v[i].end - r.v[i].start);
        }
        otok_ranges_free(&r);
        return rc;
    }
    case N_PREPEND:
        if (len)
            olive_strbuf_appendn(out, n->text, n->text_len);
        olive_strbuf_appendn(out, s, len);
        return OLIVE_OK;
    case N_APPEND:
        olive_strbuf_appendn(out, s, len);
        if (len)
            olive_strbuf_appendn(out, n->text, n->text_len);
        return OLIVE_OK;
    case N_NMT:
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t k = otok_utf8_next(s, i, &cp);
            i += k;
            if ((cp >= 1 && cp <= 8) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F || cp == 0x8F ||
                cp == 0x9F) {
                if (i == k)
                    *moved = 1;
                continue;
            }
            if (cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
                (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 || cp == 0xFEFF ||
                cp == 0xFFFD)
                olive_strbuf_appendn(out, " ", 1);
            else
                olive_strbuf_appendn(out, s + i - k, k);
        }
        return OLIVE_OK;
    case N_BYTELEVEL:
        for (size_t i = 0; i < len; i++)
            put_cp(out, otok_byte_to_char((unsigned char)s[i]));
        return OLIVE_OK;
    case N_PRECOMPILED: otok_precompiled_apply(&n->charsmap, s, len, out); return OLIVE_OK;
    case N_SEQUENCE: {
        olive_strbuf cur = {0};
        olive_strbuf_appendn(&cur, s, len);
        for (size_t i = 0; i < n->n_items; i++) {
            olive_strbuf next = {0};
            int rc = cur.failed ? OLIVE_ENOMEM : apply(n->items[i], cur.data ? cur.data : "", cur.len, &next, moved);
            olive_strbuf_free(&cur);
            cur = next;
            if (rc) {
                olive_strbuf_free(&cur);
                return rc;
            }
        }
        olive_strbuf_appendn(out, cur.data ? cur.data : "", cur.len);
        olive_strbuf_free(&cur);
        return OLIVE_OK;
    }
    }
    return olive_fail(OLIVE_EINTERNAL, "unknown normalizer");
}

int otok_normalize(const otok_normalizer *n, const char *s, size_t len, olive_strbuf *out, int *moved_start)
{
    int moved = 0;
    out->len = 0;
    int rc = apply(n, s, len, out, &moved);
    if (moved_start)
        *moved_start = moved;
    if (!rc && out->failed)
        rc = olive_fail(OLIVE_ENOMEM, "out of memory normalizing text");
    return rc;
}
