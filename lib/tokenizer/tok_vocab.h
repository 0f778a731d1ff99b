/* Lookup tables of the tokenizer models: a vocabulary (token text <-> id), a map from id pairs
 * to merges, and a byte trie for prefix searches (Unigram, added tokens). */
#ifndef OLIVE_TOKENIZER_TOK_VOCAB_H
#define OLIVE_TOKENIZER_TOK_VOCAB_H

#include <stddef.h>
#include <stdint.h>

/* Largest number of entries and largest id accepted in any table (tokenizers in use have at
 * most a few hundred thousand). */
#define OTOK_MAX_ENTRIES (1u << 24)
#define OTOK_MAX_ID ((1u << 27) - 1)

typedef struct otok_vocab_entry {
    char *s; /* owned, NUL-terminated */
    uint32_t len;
    int32_t id;
} otok_vocab_entry;

typedef struct otok_vocab {
    otok_vocab_entry *e;
    size_t n, cap;
    uint32_t *slots; /* open addressing: entry index + 1, 0 when empty */
    size_t nslots;
    int32_t *by_id; /* id -> entry index, -1 for ids no token has */
    size_t n_ids;   /* largest id + 1 */
} otok_vocab;

/* Adds a token or, when the text is already there, gives it the new id (the last JSON entry
 * wins, as with Hugging Face's HashMap). Errors: OLIVE_ENOMEM, OLIVE_EFORMAT (too many). */
int otok_vocab_put(otok_vocab *v, const char *s, size_t len, int32_t id);
/* The id of s[0..len), or -1. */
int32_t otok_vocab_get(const otok_vocab *v, const char *s, size_t len);
/* Builds the id index; two tokens with one id are refused (path names the table).
 * Errors: OLIVE_EFORMAT, OLIVE_ENOMEM. */
int otok_vocab_index(otok_vocab *v, const char *path, int allow_shared_ids);
/* The token of id, or NULL. */
const char *otok_vocab_token(const otok_vocab *v, int64_t id, size_t *len);
void otok_vocab_free(otok_vocab *v);

/* uint64 key -> two int32 values (BPE merges: (left, right) -> (rank, new id)). */
typedef struct otok_pairmap {
    uint64_t *keys; /* key + 1; 0 marks an empty slot */
    int32_t *a, *b;
    size_t cap, n;
} otok_pairmap;

int otok_pairmap_put(otok_pairmap *m, uint64_t key, int32_t a, int32_t b);
/* 1 and the values when found, else 0. */
int otok_pairmap_get(const otok_pairmap *m, uint64_t key, int32_t *a, int32_t *b);
void otok_pairmap_free(otok_pairmap *m);

/* A byte trie: each node may end a key (value >= 0). */
typedef struct otok_trie {
    int32_t *value; /* per node: the key's value, or -1 */
    size_t nodes, cap;
    otok_pairmap edges; /* (node << 8 | byte) -> (child, unused) */
} otok_trie;

int otok_trie_init(otok_trie *t);
/* Inserts key; a repeated key takes the new value. */
int otok_trie_put(otok_trie *t, const char *s, size_t len, int32_t value);
/* Walks one byte from node; returns the child, or -1. The root is node 0. */
static inline int32_t otok_trie_step(const otok_trie *t, int32_t node, unsigned char byte)
{
    int32_t child, unused;
    if (!otok_pairmap_get(&t->edges, ((uint64_t)(uint32_t)node << 8) | byte, &child, &unused))
        return -1;
    return child;
}
void otok_trie_free(otok_trie *t);

#endif
