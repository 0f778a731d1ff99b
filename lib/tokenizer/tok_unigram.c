/* Unigram: the best-scoring segmentation (Viterbi over every vocabulary piece that starts at
 * each character), unknown characters scored min_score - 10 and runs of them fused, pieces
 * missing from the vocabulary sent through byte fallback when it is on; sentencepiece's
 * optimized encoder as tokenizers ports it, ties kept by the first (shortest) candidate. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_model.h"

int otok_unigram_parse(otok_model *m, json_t *j);
int otok_unigram_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);

#define UNK_PENALTY 10.0

int otok_unigram_parse(otok_model *m, json_t *j)
{
    json_t *vocab = json_object_get(j, "vocab");
    if (!json_is_array(vocab))
        return otok_json_fail("model", "vocab", "expected an array of [piece, score]");
    size_t n = json_array_size(vocab);
    if (n > OTOK_MAX_ENTRIES)
        return otok_json_fail("model", "vocab", "%zu pieces is more than %u", n, OTOK_MAX_ENTRIES);
    uint64_t unk = UINT64_MAX;
    OLIVE_TRY(otok_json_uint(j, "model", "unk_id", UINT64_MAX - 1, &unk));
    OLIVE_TRY(otok_json_bool(j, "model", "byte_fallback", &m->byte_fallback));
    if (unk != UINT64_MAX && unk >= n)
        return otok_json_fail("model", "unk_id", "%llu is not the index of a piece of model.vocab (%zu pieces)",
                              (unsigned long long)unk, n);
    m->unk_id = unk == UINT64_MAX ? -1 : (int32_t)unk;
    m->pieces = olive_calloc(n ? n : 1, sizeof *m->pieces);
    m->piece_len = olive_calloc(n ? n : 1, sizeof *m->piece_len);
    m->scores = olive_calloc(n ? n : 1, sizeof *m->scores);
    if (!m->pieces || !m->piece_len || !m->scores)
        return OLIVE_ENOMEM;
    OLIVE_TRY(otok_trie_init(&m->trie));
    m->min_score = 1.0 / 0.0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(vocab, i);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1)))
            return otok_json_fail("model.vocab", NULL, "entry %zu is not [piece, score]", i);
        const char *p = json_string_value(json_array_get(e, 0));
        size_t pl = json_string_length(json_array_get(e, 0));
        if (!(m->pieces[i] = olive_malloc(pl + 1)))
            return OLIVE_ENOMEM;
        memcpy(m->pieces[i], p, pl);
        m->pieces[i][pl] = 0;
        m->piece_len[i] = (uint32_t)pl;
        m->n_pieces = i + 1;
        m->scores[i] = json_number_value(json_array_get(e, 1));
        if (m->scores[i] < m->min_score)
            m->min_score = m->scores[i];
        OLIVE_TRY(otok_vocab_put(&m->vocab, p, pl, (int32_t)i));
        OLIVE_TRY(otok_trie_put(&m->trie, p, pl, (int32_t)i));
    }
    OLIVE_TRY(otok_vocab_index(&m->vocab, "model.vocab", 1));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = otok_vocab_get(&m->vocab, name, 6);
    }
    return OLIVE_OK;
}

typedef struct node {
    double score;
    size_t start; /* SIZE_MAX: not reached yet */
    int32_t id;
} node;

static int emit(const otok_model *m, const char *s, size_t a, size_t b, otok_ids *out)
{
    int32_t id = otok_vocab_get(&m->vocab, s + a, b - a);
    if (id >= 0)
        return otok_ids_push(out, id);
    if (m->byte_fallback) {
        int all = 1;
        for (size_t k = a; k < b; k++)
            all &= m->byte_ids[(unsigned char)s[k]] >= 0;
        if (all) {
            for (size_t k = a; k < b; k++)
                OLIVE_TRY(otok_ids_push(out, m->byte_ids[(unsigned char)s[k]]));
            return OLIVE_OK;
        }
    }
    if (m->unk_id < 0)
        return olive_fail(OLIVE_EINVALID, "Unigram: an unknown piece and the model has no unk_id");
    return otok_ids_push(out, m->unk_id);
}

int otok_unigram_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out)
{
    if (len == 0)
        return OLIVE_OK;
    if (len == SIZE_MAX)
        return OLIVE_ENOMEM;
    node *best = olive_malloc((len + 1) * sizeof *best);
    if (!best)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i <= len; i++)
        best[i] = (node){0.0, SIZE_MAX, 0};
    double unk_score = m->min_score - UNK_PENALTY;
    int rc = OLIVE_OK;
    for (size_t at = 0; at < len;) {
        double here = best[at].score;
        uint32_t cp;
        size_t mblen = otok_utf8_next(s, at, &cp);
        if (mblen > len - at) /* a truncated character at the end: never index past best[len] */
            mblen = len - at;
        int single = 0;
        int32_t nd = 0;
        for (size_t k = at; k < len; k++) {
            nd = otok_trie_step(&m->trie, nd, (unsigned char)s[k]);
            if (nd < 0)
                break;
            int32_t id = m->trie.value[nd];
            if (id < 0)
                continue;
            size_t end = k + 1;
            double cand = m->scores[id] + here;
            if (best[end].start == SIZE_MAX || cand > best[end].score)
                best[end] = (node){cand, at, id};
            if (end - at == mblen)
                single = 1;
        }
        if (!single) {
            if (m->unk_id < 0) {
                rc = olive_fail(OLIVE_EINVALID, "Unigram: an unknown character and the model has no unk_id");
                break;
            }
            double cand = unk_score + here;
            if (best[at + mblen].start == SIZE_MAX || cand > best[at + mblen].score)
                best[at + mblen] = (node){cand, at, m->unk_id};
        }
        at += mblen;
    }
    if (rc) {
        free(best);
        return rc;
    }
    /* walk back, collecting [start, end) pieces; consecutive unk pieces fuse into one */
    size_t cap = 16, n = 0;
    size_t *cuts = olive_malloc(cap * 2 * sizeof *cuts);
    if (!cuts) {
        free(best);
        return OLIVE_ENOMEM;
    }
    int prev_unk = 0;
    for (size_t end = len; end > 0 && !rc;) {
        size_t start = best[end].start;
        int is_unk = m->unk_id >= 0 && best[end].id == m->unk_id;
        if (is_unk && prev_unk) {
            cuts[2 * (n - 1)] = start; /* extend the fused unk run leftwards */
        } else {
            if (n == cap) {
                size_t *c = olive_reallocarray(cuts, cap * 4, sizeof *cuts);
                if (!c) {
                    rc = OLIVE_ENOMEM;
                    break;
                }
                cuts = c;
                cap *= 2;
            }
            cuts[2 * n] = start;
            cuts[2 * n + 1] = end;
            n++;
        }
        prev_unk = is_unk;
        end = start;
    }
    for (size_t i = n; i-- > 0 && !rc;)
        rc = emit(m, s, cuts[2 * i], cuts[2 * i + 1], out);
    free(cuts);
    free(best);
    return rc;
}
