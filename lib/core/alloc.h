/* Allocation helpers with overflow checks, and a growable array. All functions set the
 * thread's error (OLIVE_ENOMEM) when they return NULL / fail. */
#ifndef OLIVE_CORE_ALLOC_H
#define OLIVE_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *olive_malloc(size_t size);
void *olive_calloc(size_t count, size_t size);
/* realloc to count*size bytes, refusing overflow. On failure `ptr` is unchanged. */
void *olive_reallocarray(void *ptr, size_t count, size_t size);
char *olive_strdup(const char *s); /* NULL in gives NULL out, not an error */
char *olive_strndup(const char *s, size_t n);
void *olive_memdup(const void *p, size_t n);
char *olive_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* a*b without overflow into *out; returns 0 on overflow. */
static inline int olive_mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Grows an array of `*cap` elements of `elem` bytes so that it holds at least `need`.
 * Returns 0 on success, OLIVE_ENOMEM on failure (array unchanged). */
int olive_grow(void **items, size_t *cap, size_t need, size_t elem);

#define OLIVE_PUSH(arr, n, cap, value)                                                                                 \
    (olive_grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr)) ? OLIVE_ENOMEM : ((arr)[(n)++] = (value), 0))

/* A growable byte buffer for building strings and small files. */
typedef struct olive_strbuf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed: contents are incomplete */
} olive_strbuf;

void olive_strbuf_append(olive_strbuf *b, const char *s);
void olive_strbuf_appendn(olive_strbuf *b, const char *s, size_t n);
void olive_strbuf_printf(olive_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the contents (NUL-terminated, owned by the caller) and resets the buffer; NULL if an
 * allocation failed (error set). */
char *olive_strbuf_take(olive_strbuf *b);
void olive_strbuf_free(olive_strbuf *b);

#endif
