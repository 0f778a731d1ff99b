/* BPE merges: their tokenizer.json form, and their derivation from a SentencePiece vocabulary
 * the way transformers derives them (generate_merges): every split of a token into two tokens
 * of the vocabulary, ranked by the merged token's score, then by the pieces' lengths, ties kept
 * in vocabulary order. */
#include "formats/bpe_merges.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/gguf.h"

/* A merge as "left right", or as a [left, right] pair when a side holds a space. */
json_t *ofmt_bpe_merge_json(const char *l, size_t ll, const char *r, size_t rl)
{
    if (memchr(l, ' ', ll) || memchr(r, ' ', rl))
        return json_pack("[s#, s#]", l, ll, r, rl);
    char *s = olive_malloc(ll + rl + 2);
    if (!s)
        return NULL;
    memcpy(s, l, ll);
    s[ll] = ' ';
    memcpy(s + ll + 1, r, rl);
    s[ll + 1 + rl] = 0;
    json_t *j = json_string(s);
    free(s);
    return j;
}

typedef struct spm_merge {
    uint64_t l, r;       /* token ids of the two pieces */
    double score;        /* score of the merged token */
    uint64_t llen, rlen; /* lengths in code points */
    uint64_t order;      /* position before sorting (keeps the sort stable) */
} spm_merge;

static int by_piece_ids(const void *a, const void *b)
{
    const spm_merge *x = a, *y = b;
    if (x->l != y->l)
        return x->l < y->l ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}

/* Best first: higher score, then longer left piece, then longer right piece. */
static int by_priority(const void *a, const void *b)
{
    const spm_merge *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->llen != y->llen)
        return x->llen > y->llen ? -1 : 1;
    if (x->rlen != y->rlen)
        return x->rlen > y->rlen ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static uint64_t lookup(const olive_strmap *ids, const char *s)
{
    return (uint64_t)(uintptr_t)olive_strmap_get(ids, s);
}

int ofmt_bpe_derive_merges(json_t **out, char *const *text, uint64_t n, const olive_strmap *ids, const double *scores)
{
    spm_merge *all = NULL;
    size_t n_all = 0, cap = 0;
    char *scratch = NULL;
    int rc = OLIVE_OK;

    for (uint64_t t = 0; t < n && !rc; t++) {
        const char *s = text[t];
        size_t len = strlen(s);
        double score = scores[t];
        if (lookup(ids, s) != t + 1)
            continue; /* a repeated token: its last copy counts */
        size_t first = n_all;
        uint64_t pos = 0, cps = 0;
        uint32_t cp;
        free(scratch);
        if (!(scratch = olive_malloc(len + 1))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        while (pos < len && ofmt_gguf_utf8_next((const unsigned char *)s, len, &pos, &cp)) {
            cps++;
            if (pos >= len)
                break;
            memcpy(scratch, s, (size_t)pos);
            scratch[pos] = 0;
            uint64_t l = lookup(ids, scratch), r = lookup(ids, s + pos);
            if (!l || !r)
                continue;
            spm_merge mg = {l - 1, r - 1, score, cps, 0, 0};
            /* count the right piece's code points */
            for (uint64_t q = pos; q < len; mg.rlen++)
                if (!ofmt_gguf_utf8_next((const unsigned char *)s, len, &q, &cp))
                    break;
            if (OLIVE_PUSH(all, n_all, cap, mg)) {
                rc = OLIVE_ENOMEM;
                break;
            }
        }
        if (!rc && n_all - first > 1)
            qsort(all + first, n_all - first, sizeof *all, by_piece_ids);
    }
    free(scratch);
    json_t *arr = rc ? NULL : json_array();
    if (!rc && !arr)
        rc = OLIVE_ENOMEM;
    if (!rc) {
        for (size_t i = 0; i < n_all; i++)
            all[i].order = i;
        if (n_all > 1)
            qsort(all, n_all, sizeof *all, by_priority);
        for (size_t i = 0; i < n_all && !rc; i++) {
            const char *l = text[all[i].l], *r = text[all[i].r];
            json_t *j = ofmt_bpe_merge_json(l, strlen(l), r, strlen(r));
            if (!j || json_array_append_new(arr, j))
                rc = olive_fail(OLIVE_ENOMEM, "out of memory deriving BPE merges");
        }
    }
    free(all);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return OLIVE_OK;
}
