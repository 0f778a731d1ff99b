/* Hash tables and the trie of the tokenizer models. */
#include "tokenizer/tok_vocab.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/strmap.h"

static uint32_t *find_slot(const otok_vocab *v, const char *s, size_t len)
{
    size_t mask = v->nslots - 1;
    size_t i = (size_t)olive_hash_bytes(s, len, 0) & mask;
    for (;;) {
        uint32_t k = v->slots[i];
        if (!k)
            return &v->slots[i];
        const otok_vocab_entry *e = &v->e[k - 1];
        if (e->len == len && !memcmp(e->s, s, len))
            return &v->slots[i];
        i = (i + 1) & mask;
    }
}

static int grow_slots(otok_vocab *v)
{
    size_t ncap = v->nslots ? v->nslots * 2 : 1024;
    uint32_t *slots = olive_calloc(ncap, sizeof *slots);
    if (!slots)
        return OLIVE_ENOMEM;
    free(v->slots);
    v->slots = slots;
    v->nslots = ncap;
    for (size_t i = 0; i < v->n; i++)
        *find_slot(v, v->e[i].s, v->e[i].len) = (uint32_t)(i + 1);
    return OLIVE_OK;
}

int otok_vocab_put(otok_vocab *v, const char *s, size_t len, int32_t id)
{
    if ((v->n + 1) * 2 > v->nslots)
        OLIVE_TRY(grow_slots(v));
    uint32_t *slot = find_slot(v, s, len);
    if (*slot) {
        v->e[*slot - 1].id = id;
        return OLIVE_OK;
    }
    if (v->n >= OTOK_MAX_ENTRIES || len > UINT32_MAX)
        return olive_fail(OLIVE_EFORMAT, "more than %u tokens", OTOK_MAX_ENTRIES);
    char *copy = olive_malloc(len + 1);
    if (!copy)
        return OLIVE_ENOMEM;
    if (len)
        memcpy(copy, s, len);
    copy[len] = 0;
    otok_vocab_entry e = {copy, (uint32_t)len, id};
    if (OLIVE_PUSH(v->e, v->n, v->cap, e)) {
        free(copy);
        return olive_fail(OLIVE_ENOMEM, "out of memory reading a vocabulary");
    }
    *slot = (uint32_t)v->n;
    return OLIVE_OK;
}

int32_t otok_vocab_get(const otok_vocab *v, const char *s, size_t len)
{
    if (!v->nslots)
        return -1;
    uint32_t k = *find_slot(v, s, len);
    return k ? v->e[k - 1].id : -1;
}

int otok_vocab_index(otok_vocab *v, const char *path, int allow_shared_ids)
{
    size_t n_ids = 0;
    for (size_t i = 0; i < v->n; i++)
        if ((size_t)v->e[i].id + 1 > n_ids)
            n_ids = (size_t)v->e[i].id + 1;
    /* ids may have holes, but not so many that the table is mostly empty */
    if (n_ids > 4 * v->n + 65536)
        return olive_fail(OLIVE_EFORMAT, "%s: ids out of range: the largest is %zu for %zu tokens", path, n_ids - 1,
                          v->n);
    int32_t *by_id = olive_malloc((n_ids ? n_ids : 1) * sizeof *by_id);
    if (!by_id)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n_ids; i++)
        by_id[i] = -1;
    for (size_t i = 0; i < v->n; i++) {
        int32_t id = v->e[i].id;
        if (by_id[id] >= 0 && !allow_shared_ids) {
            int rc = olive_fail(OLIVE_EFORMAT, "%s: tokens '%s' and '%s' have the same id %d", path, v->e[by_id[id]].s,
                                v->e[i].s, id);
            free(by_id);
            return rc;
        }
        if (by_id[id] < 0)
            by_id[id] = (int32_t)i;
    }
    free(v->by_id);
    v->by_id = by_id;
    v->n_ids = n_ids;
    return OLIVE_OK;
}

const char *otok_vocab_token(const otok_vocab *v, int64_t id, size_t *len)
{
    if (id < 0 || (uint64_t)id >= v->n_ids || v->by_id[id] < 0)
        return NULL;
    const otok_vocab_entry *e = &v->e[v->by_id[id]];
    if (len)
        *len = e->len;
    return e->s;
}

void otok_vocab_free(otok_vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->e[i].s);
    free(v->e);
    free(v->slots);
    free(v->by_id);
    memset(v, 0, sizeof *v);
}

static inline size_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

static int pairmap_grow(otok_pairmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = olive_calloc(ncap, sizeof *keys);
    int32_t *a = olive_malloc(ncap * sizeof *a), *b = olive_malloc(ncap * sizeof *b);
    if (!keys || !a || !b) {
        free(keys);
        free(a);
        free(b);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = pair_hash(m->keys[i] - 1) & (ncap - 1);
        while (keys[j])
            j = (j + 1) & (ncap - 1);
        keys[j] = m->keys[i];
        a[j] = m->a[i];
        b[j] = m->b[i];
    }
    free(m->keys);
    free(m->a);
    free(m->b);
    m->keys = keys;
    m->a = a;
    m->b = b;
    m->cap = ncap;
    return OLIVE_OK;
}

int otok_pairmap_put(otok_pairmap *m, uint64_t key, int32_t a, int32_t b)
{
    if ((m->n + 1) * 2 > m->cap)
        OLIVE_TRY(pairmap_grow(m));
    size_t j = pair_hash(key) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key + 1)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
        m->n++;
    m->keys[j] = key + 1;
    m->a[j] = a;
    m->b[j] = b;
    return OLIVE_OK;
}

int otok_pairmap_get(const otok_pairmap *m, uint64_t key, int32_t *a, int32_t *b)
{
    if (!m->cap)
        return 0;
    size_t j = pair_hash(key) & (m->cap - 1);
    for (;;) {
        uint64_t k = m->keys[j];
        if (!k)
            return 0;
        if (k == key + 1) {
            *a = m->a[j];
            *b = m->b[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
}

void otok_pairmap_free(otok_pairmap *m)
{
    free(m->keys);
    free(m->a);
    free(m->b);
    memset(m, 0, sizeof *m);
}

static int trie_new_node(otok_trie *t, int32_t *out)
{
    if (t->nodes >= (size_t)INT32_MAX)
        return olive_fail(OLIVE_ENOMEM, "trie too large");
    if (olive_grow((void **)&t->value, &t->cap, t->nodes + 1, sizeof *t->value))
        return olive_fail(OLIVE_ENOMEM, "out of memory building a trie");
    t->value[t->nodes] = -1;
    *out = (int32_t)t->nodes++;
    return OLIVE_OK;
}

int otok_trie_init(otok_trie *t)
{
    memset(t, 0, sizeof *t);
    int32_t root;
    return trie_new_node(t, &root);
}

int otok_trie_put(otok_trie *t, const char *s, size_t len, int32_t value)
{
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t child = otok_trie_step(t, node, (unsigned char)s[i]);
        if (child < 0) {
            OLIVE_TRY(trie_new_node(t, &child));
            OLIVE_TRY(otok_pairmap_put(&t->edges, ((uint64_t)(uint32_t)node << 8) | (unsigned char)s[i], child, 0));
        }
        node = child;
    }
    t->value[node] = value;
    return OLIVE_OK;
}

void otok_trie_free(otok_trie *t)
{
    free(t->value);
    otok_pairmap_free(&t->edges);
    memset(t, 0, sizeof *t);
}
