/* Character classes on utf8proc and the probed tables. */
#include "tokenizer/tok_unicode.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/status.h"

int otok_in_ranges(const otok_cp_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

int otok_is_whitespace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The category tokenizers' newer tables give cp, or NULL when they agree with Unicode 14. */
static const char *newer_category(uint32_t cp)
{
    size_t lo = 0, hi = otok_newer_categories_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const otok_cp_category *r = &otok_newer_categories[mid];
        if (cp < r->lo)
            hi = mid;
        else if (cp > r->hi)
            lo = mid + 1;
        else
            return otok_category_names[r->category];
    }
    return NULL;
}

int otok_is_numeric(uint32_t c)
{
    const char *newer = newer_category(c);
    if (newer)
        return newer[0] == 'N';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int otok_is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

size_t otok_lowercase(uint32_t c, uint32_t out[3])
{
    if (c == 0x130) { /* the one unconditional multi-character lowercase mapping */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    size_t lo = 0, hi = otok_newer_lowercase_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < otok_newer_lowercase[mid].from)
            hi = mid;
        else if (c > otok_newer_lowercase[mid].from)
            lo = mid + 1;
        else {
            out[0] = otok_newer_lowercase[mid].to;
            return 1;
        }
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

size_t otok_uppercase(uint32_t c, uint32_t out[3])
{
    out[0] = (uint32_t)utf8proc_toupper((utf8proc_int32_t)c);
    return 1;
}

char *otok_unicode_normalize(const char *s, size_t len, char form, size_t *out_len)
{
    int opts = UTF8PROC_STABLE;
    switch (form) {
    case 'C': opts |= UTF8PROC_COMPOSE; break;
    case 'D': opts |= UTF8PROC_DECOMPOSE; break;
    case 'c': opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    if (len == 0) {
        char *e = calloc(1, 1);
        if (!e)
            olive_fail(OLIVE_ENOMEM, "out of memory normalizing text");
        *out_len = 0;
        return e;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      (utf8proc_option_t)opts);
    if (n < 0) {
        olive_fail(n == UTF8PROC_ERROR_NOMEM ? OLIVE_ENOMEM : OLIVE_EINVALID, "Unicode normalization failed: %s",
                   utf8proc_errmsg(n));
        return NULL;
    }
    *out_len = (size_t)n;
    return (char *)dst;
}
