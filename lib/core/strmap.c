#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* Open addressing with linear probing; removed slots hold the TOMBSTONE key. */
static const char TOMBSTONE[] = "";

uint64_t olive_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static size_t slot_of(const olive_strmap *m, const char *key, int for_insert)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)olive_hash_bytes(key, strlen(key), 0) & mask;
    size_t first_free = (size_t)-1;
    for (;;) {
        const char *k = m->keys[i];
        if (!k)
            return (for_insert && first_free != (size_t)-1) ? first_free : i;
        if (k == TOMBSTONE) {
            if (first_free == (size_t)-1)
                first_free = i;
        } else if (!strcmp(k, key)) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int rehash(olive_strmap *m, size_t ncap)
{
    olive_strmap n = {0};
    n.keys = olive_calloc(ncap, sizeof *n.keys);
    n.values = olive_calloc(ncap, sizeof *n.values);
    if (!n.keys || !n.values) {
        free(n.keys);
        free(n.values);
        return OLIVE_ENOMEM;
    }
    n.cap = ncap;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] && m->keys[i] != TOMBSTONE) {
            size_t s = slot_of(&n, m->keys[i], 1);
            n.keys[s] = m->keys[i];
            n.values[s] = m->values[i];
            n.count++;
        }
    }
    free(m->keys);
    free(m->values);
    *m = n;
    return OLIVE_OK;
}

int olive_strmap_put(olive_strmap *m, const char *key, void *value)
{
    size_t s;
    if (m->cap == 0 || (m->count + m->tombs + 1) * 4 > m->cap * 3) {
        if (rehash(m, m->cap ? (m->count * 2 + 2 > m->cap ? m->cap * 2 : m->cap) : 16))
            return OLIVE_ENOMEM;
    }
    s = slot_of(m, key, 1);
    if (m->keys[s] == TOMBSTONE)
        m->tombs--;
    if (!m->keys[s] || m->keys[s] == TOMBSTONE)
        m->count++;
    m->keys[s] = key;
    m->values[s] = value;
    return OLIVE_OK;
}

void *olive_strmap_get(const olive_strmap *m, const char *key)
{
    size_t s;
    if (!m->cap)
        return NULL;
    s = slot_of(m, key, 0);
    return m->keys[s] ? m->values[s] : NULL;
}

int olive_strmap_has(const olive_strmap *m, const char *key)
{
    return m->cap && m->keys[slot_of(m, key, 0)] != NULL;
}

void olive_strmap_remove(olive_strmap *m, const char *key)
{
    size_t s;
    if (!m->cap)
        return;
    s = slot_of(m, key, 0);
    if (m->keys[s]) {
        m->keys[s] = TOMBSTONE;
        m->values[s] = NULL;
        m->count--;
        m->tombs++;
    }
}

void olive_strmap_free(olive_strmap *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}
