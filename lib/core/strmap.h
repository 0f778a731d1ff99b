/* A hash map from NUL-terminated strings to pointers. Keys are borrowed: they must outlive
 * the map (they normally point into the objects stored). */
#ifndef OLIVE_CORE_STRMAP_H
#define OLIVE_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct olive_strmap {
    const char **keys;
    void **values;
    size_t cap, count, tombs;
} olive_strmap;

/* Inserts or replaces. Returns OLIVE_OK or OLIVE_ENOMEM. */
int olive_strmap_put(olive_strmap *m, const char *key, void *value);
/* The value for key, or NULL. */
void *olive_strmap_get(const olive_strmap *m, const char *key);
/* 1 if present (the value may be NULL). */
int olive_strmap_has(const olive_strmap *m, const char *key);
void olive_strmap_remove(olive_strmap *m, const char *key);
void olive_strmap_free(olive_strmap *m);

uint64_t olive_hash_bytes(const void *data, size_t n, uint64_t seed);

#endif
