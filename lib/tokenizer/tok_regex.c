/* Oniguruma patterns rewritten for PCRE2, and find_iter with Oniguruma's rules for empty
 * matches. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_regex.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_unicode.h"

struct otok_regex {
    pcre2_code *code;
};

/* White_Space: the same in every engine and Unicode version involved. */
#define SPACE_ITEMS "\\p{White_Space}"
#define HEX_ITEMS "0-9A-Fa-f"

/* Appends the PCRE2 class items for general category `name` (one letter for a whole class, two
 * for one category): the property, plus the characters assigned after PCRE2's Unicode tables
 * that tokenizers' engine puts in it. 0 when name is not a general category. */
static int category_items(olive_strbuf *b, const char *name, size_t len)
{
    if (len < 1 || len > 2)
        return 0;
    int known = 0;
    for (size_t c = 0; c < otok_category_count; c++)
        if (!strncmp(otok_category_names[c], name, len))
            known = 1;
    if (!known)
        return 0;
    olive_strbuf_printf(b, "\\p{%.*s}", (int)len, name);
    for (size_t i = 0; i < otok_newer_categories_count; i++) {
        const otok_cp_category *r = &otok_newer_categories[i];
        if (!strncmp(otok_category_names[r->category], name, len))
            olive_strbuf_printf(b, "\\x{%X}-\\x{%X}", (unsigned)r->lo, (unsigned)r->hi);
    }
    return 1;
}

/* Oniguruma's \w, as probed: Alphabetic, marks, decimal digits and connector punctuation
 * (neither Join_Control nor other numbers), with the characters it knows beyond PCRE2's
 * tables; outside a class also the Latin-1 superscript digits and fractions, which its
 * Latin-1 table calls word characters. */
static void onig_word_items(olive_strbuf *b, int in_class)
{
    olive_strbuf_append(b, "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}");
    if (!in_class)
        olive_strbuf_append(b, "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}");
    for (size_t i = 0; i < otok_newer_onig_word_count; i++)
        olive_strbuf_printf(b, "\\x{%X}-\\x{%X}", (unsigned)otok_newer_onig_word[i].lo,
                            (unsigned)otok_newer_onig_word[i].hi);
}

/* Rust's regex \w (Unicode's word class, UTS #18), with the characters it knows beyond
 * PCRE2's tables. */
static void rust_word_items(olive_strbuf *b)
{
    olive_strbuf_append(b, "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}");
    for (size_t i = 0; i < otok_newer_word_count; i++)
        olive_strbuf_printf(b, "\\x{%X}-\\x{%X}", (unsigned)otok_newer_word[i].lo, (unsigned)otok_newer_word[i].hi);
}

/* Emits a set of class items: as they are inside a class, else wrapped in [...] or [^...]. */
static void emit_set(olive_strbuf *b, const char *items, int in_class, int negate)
{
    if (in_class) {
        olive_strbuf_append(b, items);
        return;
    }
    olive_strbuf_append(b, negate ? "[^" : "[");
    olive_strbuf_append(b, items);
    olive_strbuf_append(b, "]");
}

static int translate(olive_strbuf *b, const char *p, size_t len, const char *field, int rust)
{
    int in_class = 0;
    olive_strbuf items = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < len && !rc; i++) {
        char c = p[i];
        if (c == '[') {
            /* a class opens; "[]" and "[^]" begin with a literal ']' */
            olive_strbuf_appendn(b, "[", 1);
            if (in_class) {
                if (i + 1 < len && p[i + 1] == ':') { /* POSIX class: copy to ":]" */
                    const char *end = memmem(p + i, len - i, ":]", 2);
                    if (end) {
                        olive_strbuf_appendn(b, p + i + 1, (size_t)(end - p) + 2 - (i + 1));
                        i = (size_t)(end - p) + 1;
                        continue;
                    }
                }
                rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: nested character classes are not supported", field);
                break;
            }
            in_class = 1;
            if (i + 1 < len && p[i + 1] == '^')
                olive_strbuf_appendn(b, p + ++i, 1);
            if (i + 1 < len && p[i + 1] == ']')
                olive_strbuf_appendn(b, "\\]", 2), i++;
            continue;
        }
        if (c == ']' && in_class) {
            in_class = 0;
            olive_strbuf_appendn(b, "]", 1);
            continue;
        }
        if (c != '\\' || i + 1 >= len) {
            olive_strbuf_appendn(b, &c, 1);
            continue;
        }
        char e = p[++i];
        int negate = e == 'S' || e == 'W' || e == 'D' || e == 'H' || e == 'P';
        const char *name = NULL;
        size_t nlen = 0;
        items.len = 0;
        switch (e) {
        case 's':
        case 'S': olive_strbuf_append(&items, SPACE_ITEMS); break;
        case 'w':
        case 'W':
            if (rust)
                rust_word_items(&items);
            else
                onig_word_items(&items, in_class);
            break;
        case 'd':
        case 'D': category_items(&items, "Nd", 2); break;
        case 'h':
        case 'H': olive_strbuf_append(&items, HEX_ITEMS); break;
        case 'p':
        case 'P': {
            /* \pL, \p{L}, \p{^L}: general categories get the newer characters too */
            size_t skip = 0;
            name = p + i + 1;
            if (i + 1 < len && p[i + 1] == '{') {
                const char *close = memchr(p + i + 2, '}', len - i - 2);
                if (!close) {
                    rc = olive_fail(OLIVE_EFORMAT, "%s: unterminated \\%c{", field, e);
                    break;
                }
                name = p + i + 2;
                nlen = (size_t)(close - name);
                skip = nlen + 2;
            } else if (i + 1 < len) {
                nlen = 1;
                skip = 1;
            }
            if (nlen && name[0] == '^') {
                negate = !negate;
                name++;
                nlen--;
            }
            if (!nlen || !category_items(&items, name, nlen)) {
                olive_strbuf_appendn(b, p + i - 1, 2 + skip); /* a script or binary property */
                i += skip;
                continue;
            }
            i += skip;
            break;
        }
        case 'u':
            if (i + 4 < len) {
                /* \uHHHH */
                char hex[5] = {0};
                memcpy(hex, p + i + 1, 4);
                if (strspn(hex, "0123456789abcdefABCDEF") == 4) {
                    olive_strbuf_printf(b, "\\x{%s}", hex);
                    i += 4;
                    continue;
                }
            }
            rc = olive_fail(OLIVE_EFORMAT, "%s: invalid \\u escape", field);
            continue;
        default: olive_strbuf_appendn(b, p + i - 1, 2); continue;
        }
        if (rc)
            break;
        if (items.failed) {
            rc = olive_fail(OLIVE_ENOMEM, "out of memory translating %s", field);
            break;
        }
        if (!negate || !in_class) {
            emit_set(b, items.data ? items.data : "", in_class, negate);
        } else if (e == 'S') {
            olive_strbuf_append(b, "\\P{White_Space}");
        } else if (e == 'D') {
            olive_strbuf_append(b, "\\P{Nd}");
        } else if (e == 'P' || e == 'p') {
            /* a negated category inside a class: PCRE2's own table (newer characters aside) */
            olive_strbuf_printf(b, "\\P{%.*s}", (int)nlen, name);
        } else {
            rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: \\%c inside a character class is not supported", field, e);
        }
    }
    olive_strbuf_free(&items);
    return rc;
}

static int compile(otok_regex **out, const char *pat, size_t len, const char *field)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return olive_fail(OLIVE_EFORMAT, "%s: invalid regular expression at offset %zu: %s", field, (size_t)off,
                          (const char *)msg);
    }
    /* JIT is an optimisation: without it (no executable memory) matching still works. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    otok_regex *re = olive_calloc(1, sizeof *re);
    if (!re) {
        pcre2_code_free(code);
        return OLIVE_ENOMEM;
    }
    re->code = code;
    *out = re;
    return OLIVE_OK;
}

static int compile_translated(otok_regex **out, const char *pattern, size_t len, const char *field, int rust)
{
    olive_strbuf b = {0};
    int rc = translate(&b, pattern, len, field, rust);
    if (rc) {
        olive_strbuf_free(&b);
        return rc;
    }
    size_t n = b.len;
    char *pat = olive_strbuf_take(&b);
    if (!pat)
        return OLIVE_ENOMEM;
    rc = compile(out, pat, n, field);
    free(pat);
    return rc;
}

int otok_regex_compile(otok_regex **out, const char *pattern, size_t len, const char *field)
{
    return compile_translated(out, pattern, len, field, 0);
}

int otok_regex_compile_rust(otok_regex **out, const char *pattern, size_t len, const char *field)
{
    return compile_translated(out, pattern, len, field, 1);
}

int otok_regex_compile_literal(otok_regex **out, const char *s, size_t len, const char *field)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "\\Q");
    /* \E cannot appear inside \Q...\E: close, emit it escaped, reopen */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == 'E') {
            olive_strbuf_append(&b, "\\\\E\\E\\QE");
            i++;
            continue;
        }
        olive_strbuf_appendn(&b, s + i, 1);
    }
    olive_strbuf_append(&b, "\\E");
    size_t n = b.len;
    char *pat = olive_strbuf_take(&b);
    if (!pat)
        return OLIVE_ENOMEM;
    int rc = compile(out, pat, n, field);
    free(pat);
    return rc;
}

void otok_regex_free(otok_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

int otok_regex_ranges(const otok_regex *re, const char *s, size_t len, otok_ranges *out)
{
    if (len == 0)
        return otok_ranges_push(out, 0, 0, 0);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md)
        return olive_fail(OLIVE_ENOMEM, "out of memory matching a regular expression");
    int rc = OLIVE_OK;
    size_t prev = 0, last_end = 0;
    int have_last = 0;
    size_t last_match_end = 0;
    while (last_end <= len) {
        int m = pcre2_match(re->code, (PCRE2_SPTR)s, len, last_end, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = olive_fail(OLIVE_EINVALID, "regular expression failed: %s", (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me < ms) /* \K can do this; take the match as empty at its end */
            ms = me;
        if (ms == me && have_last && last_match_end == me) {
            /* Oniguruma's iterator refuses an empty match right after the previous one */
            if (last_end >= len)
                break;
            uint32_t cp;
            last_end += otok_utf8_next(s, last_end, &cp);
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = 1;
        if (prev != ms && (rc = otok_ranges_push(out, prev, ms, 0)))
            break;
        if ((rc = otok_ranges_push(out, ms, me, 1)))
            break;
        prev = me;
    }
    if (!rc && prev != len)
        rc = otok_ranges_push(out, prev, len, 0);
    pcre2_match_data_free(md);
    return rc;
}

int otok_regex_match_at(const otok_regex *re, const char *s, size_t len, size_t at)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md)
        return 0;
    int m = pcre2_match(re->code, (PCRE2_SPTR)s, len, at, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, md, NULL);
    pcre2_match_data_free(md);
    return m >= 0;
}
