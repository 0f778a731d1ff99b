#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static void *oom(size_t size)
{
    olive_fail(OLIVE_ENOMEM, "out of memory allocating %zu bytes", size);
    return NULL;
}

void *olive_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    return p ? p : oom(size);
}

void *olive_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    return p ? p : oom(count * size);
}

void *olive_reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;
    void *p;
    if (__builtin_mul_overflow(count, size, &total))
        return oom(SIZE_MAX);
    p = realloc(ptr, total ? total : 1);
    return p ? p : oom(total);
}

char *olive_strdup(const char *s)
{
    return s ? olive_memdup(s, strlen(s) + 1) : NULL;
}

char *olive_strndup(const char *s, size_t n)
{
    char *p = olive_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *olive_memdup(const void *src, size_t n)
{
    void *p = olive_malloc(n);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

char *olive_asprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *p;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return oom(0);
    }
    p = olive_malloc((size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

int olive_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return olive_fail(OLIVE_ENOMEM, "array of %zu elements is too large", need);
        ncap *= 2;
    }
    p = olive_reallocarray(*items, ncap, elem);
    if (!p)
        return OLIVE_ENOMEM;
    *items = p;
    *cap = ncap;
    return 0;
}

void olive_strbuf_appendn(olive_strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (olive_grow((void **)&b->data, &b->cap, b->len + n + 1, 1)) {
        b->failed = 1;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void olive_strbuf_append(olive_strbuf *b, const char *s)
{
    olive_strbuf_appendn(b, s, strlen(s));
}

void olive_strbuf_printf(olive_strbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        olive_strbuf_appendn(b, small, (size_t)n);
        return;
    }
    if (b->failed || olive_grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1)) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *olive_strbuf_take(olive_strbuf *b)
{
    char *p;
    if (b->failed) {
        olive_strbuf_free(b);
        olive_fail(OLIVE_ENOMEM, "out of memory building a string");
        return NULL;
    }
    if (!b->data)
        return olive_strdup("");
    p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void olive_strbuf_free(olive_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
