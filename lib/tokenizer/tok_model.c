/* Model dispatch, lookups and the per-call word cache. */
#include "tokenizer/tok_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"

int otok_bpe_parse(otok_model *m, json_t *j);
int otok_bpe_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);
int otok_wordpiece_parse(otok_model *m, json_t *j);
int otok_wordpiece_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);
int otok_wordlevel_parse(otok_model *m, json_t *j);
int otok_wordlevel_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);
int otok_unigram_parse(otok_model *m, json_t *j);
int otok_unigram_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);

/* Words longer than this are not cached; past this many words the cache stops growing. */
#define CACHE_MAX_WORD 256
#define CACHE_MAX_WORDS 100000

int otok_model_parse(otok_model **out, json_t *j)
{
    if (!json_is_object(j))
        return otok_json_fail("model", NULL, "expected an object");
    const char *type = NULL;
    OLIVE_TRY(otok_json_string(j, "model", "type", 0, &type, NULL));
    otok_model *m = olive_calloc(1, sizeof *m);
    if (!m)
        return OLIVE_ENOMEM;
    m->unk_id = -1;
    int rc;
    if (!type) {
        /* older files leave the type out: tell the models apart by their fields */
        json_t *v = json_object_get(j, "vocab");
        if (json_is_array(v))
            type = "Unigram";
        else if (json_object_get(j, "merges"))
            type = "BPE";
        else if (json_object_get(j, "max_input_chars_per_word"))
            type = "WordPiece";
        else
            type = "WordLevel";
    }
    if (!strcmp(type, "BPE")) {
        m->kind = OTOK_MODEL_BPE;
        rc = otok_bpe_parse(m, j);
    } else if (!strcmp(type, "WordPiece")) {
        m->kind = OTOK_MODEL_WORDPIECE;
        rc = otok_wordpiece_parse(m, j);
    } else if (!strcmp(type, "WordLevel")) {
        m->kind = OTOK_MODEL_WORDLEVEL;
        rc = otok_wordlevel_parse(m, j);
    } else if (!strcmp(type, "Unigram")) {
        m->kind = OTOK_MODEL_UNIGRAM;
        rc = otok_unigram_parse(m, j);
    } else {
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "model.type: '%s' is not a supported model (BPE, WordPiece, "
                        "WordLevel, Unigram)",
                        type);
    }
    if (rc) {
        otok_model_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}

void otok_model_free(otok_model *m)
{
    if (!m)
        return;
    otok_vocab_free(&m->vocab);
    free(m->unk_token);
    free(m->prefix);
    free(m->suffix);
    otok_pairmap_free(&m->merges);
    for (size_t i = 0; i < m->n_pieces; i++)
        free(m->pieces[i]);
    free(m->pieces);
    free(m->piece_len);
    free(m->scores);
    otok_trie_free(&m->trie);
    free(m);
}

void otok_cache_free(otok_cache *c)
{
    otok_vocab_free(&c->words);
    free(c->spans);
    otok_ids_free(&c->ids);
    memset(c, 0, sizeof *c);
}

static int tokenize_uncached(const otok_model *m, const char *s, size_t len, otok_ids *out)
{
    switch (m->kind) {
    case OTOK_MODEL_BPE: return otok_bpe_tokenize(m, s, len, out);
    case OTOK_MODEL_WORDPIECE: return otok_wordpiece_tokenize(m, s, len, out);
    case OTOK_MODEL_WORDLEVEL: return otok_wordlevel_tokenize(m, s, len, out);
    case OTOK_MODEL_UNIGRAM: return otok_unigram_tokenize(m, s, len, out);
    }
    return olive_fail(OLIVE_EINTERNAL, "unknown model kind");
}

int otok_model_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out, otok_cache *cache)
{
    if (!cache || len > CACHE_MAX_WORD || m->kind == OTOK_MODEL_WORDLEVEL)
        return tokenize_uncached(m, s, len, out);
    int32_t hit = otok_vocab_get(&cache->words, s, len);
    if (hit >= 0) {
        size_t off = cache->spans[hit].off, n = cache->spans[hit].n;
        for (size_t i = 0; i < n; i++)
            OLIVE_TRY(otok_ids_push(out, cache->ids.v[off + i]));
        return OLIVE_OK;
    }
    size_t first = out->n;
    OLIVE_TRY(tokenize_uncached(m, s, len, out));
    if (cache->n_spans >= CACHE_MAX_WORDS)
        return OLIVE_OK;
    size_t off = cache->ids.n;
    for (size_t i = first; i < out->n; i++)
        OLIVE_TRY(otok_ids_push(&cache->ids, out->v[i]));
    if (olive_grow((void **)&cache->spans, &cache->cap_spans, cache->n_spans + 1, sizeof *cache->spans))
        return OLIVE_ENOMEM;
    cache->spans[cache->n_spans].off = off;
    cache->spans[cache->n_spans].n = out->n - first;
    OLIVE_TRY(otok_vocab_put(&cache->words, s, len, (int32_t)cache->n_spans));
    cache->n_spans++;
    return OLIVE_OK;
}

int32_t otok_model_token_to_id(const otok_model *m, const char *s, size_t len)
{
    return otok_vocab_get(&m->vocab, s, len);
}

const char *otok_model_id_to_token(const otok_model *m, int64_t id, size_t *len)
{
    if (m->kind == OTOK_MODEL_UNIGRAM) {
        if (id < 0 || (uint64_t)id >= m->n_pieces)
            return NULL;
        if (len)
            *len = m->piece_len[id];
        return m->pieces[id];
    }
    return otok_vocab_token(&m->vocab, id, len);
}

size_t otok_model_vocab_size(const otok_model *m)
{
    return m->kind == OTOK_MODEL_UNIGRAM ? m->n_pieces : m->vocab.n;
}

int otok_model_read_vocab(otok_model *m, json_t *j)
{
    json_t *vocab = json_object_get(j, "vocab");
    const char *key;
    json_t *val;
    if (!json_is_object(vocab))
        return otok_json_fail("model", "vocab", "expected an object of token: id");
    json_object_foreach(vocab, key, val)
    {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > OTOK_MAX_ID)
            return otok_json_fail("model.vocab", NULL, "token '%s': the id must be an integer in 0..%u", key,
                                  OTOK_MAX_ID);
        OLIVE_TRY(otok_vocab_put(&m->vocab, key, strlen(key), (int32_t)json_integer_value(val)));
    }
    return otok_vocab_index(&m->vocab, "model.vocab", 0);
}
