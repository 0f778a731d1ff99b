/* BPE as Hugging Face tokenizers runs it: each character looked up (with the continuing
 * prefix / end-of-word suffix), unknown ones through byte fallback or the unk token, then
 * merges applied from a min-heap ordered by (rank, position), stale entries skipped. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_model.h"

int otok_bpe_parse(otok_model *m, json_t *j);

static int merge_sides(const char *s, size_t n, const char **a, size_t *alen, const char **b, size_t *blen)
{
    const char *sp = memchr(s, ' ', n);
    if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp - s) - 1))
        return 0;
    *a = s;
    *alen = (size_t)(sp - s);
    *b = sp + 1;
    *blen = n - *alen - 1;
    return 1;
}

int otok_bpe_parse(otok_model *m, json_t *j)
{
    const char *P = "model";
    double dropout = 0;
    OLIVE_TRY(otok_json_double(j, P, "dropout", &dropout));
    if (dropout != 0)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "model.dropout: BPE dropout (%g) makes encoding random; "
                          "only null or 0 is supported",
                          dropout);
    const char *s = NULL;
    size_t n = 0;
    OLIVE_TRY(otok_json_string(j, P, "unk_token", 0, &s, &n));
    if (s && !(m->unk_token = olive_strndup(s, n)))
        return OLIVE_ENOMEM;
    s = NULL;
    OLIVE_TRY(otok_json_string(j, P, "continuing_subword_prefix", 0, &s, &n));
    if (s && !(m->prefix = olive_strndup(s, m->prefix_len = n)))
        return OLIVE_ENOMEM;
    s = NULL;
    OLIVE_TRY(otok_json_string(j, P, "end_of_word_suffix", 0, &s, &n));
    if (s && !(m->suffix = olive_strndup(s, m->suffix_len = n)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(otok_json_bool(j, P, "fuse_unk", &m->fuse_unk));
    OLIVE_TRY(otok_json_bool(j, P, "byte_fallback", &m->byte_fallback));
    OLIVE_TRY(otok_json_bool(j, P, "ignore_merges", &m->ignore_merges));

    OLIVE_TRY(otok_model_read_vocab(m, j));
    m->unk_id = m->unk_token ? otok_vocab_get(&m->vocab, m->unk_token, strlen(m->unk_token)) : -1;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = otok_vocab_get(&m->vocab, name, 6);
    }

    json_t *merges = json_object_get(j, "merges");
    if (merges && !json_is_null(merges) && !json_is_array(merges))
        return otok_json_fail(P, "merges", "expected an array");
    size_t count = json_array_size(merges);
    if (count > OTOK_MAX_ENTRIES)
        return otok_json_fail(P, "merges", "%zu merges is more than %u", count, OTOK_MAX_ENTRIES);
    char *joined = NULL;
    int rc = OLIVE_OK;
    int32_t rank = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        json_t *e = json_array_get(merges, i);
        const char *a, *b;
        size_t alen, blen;
        if (json_is_string(e)) {
            const char *line = json_string_value(e);
            size_t ln = json_string_length(e);
            if (ln >= 8 && !memcmp(line, "#version", 8))
                continue; /* a header line of merges.txt, not a merge */
            if (!merge_sides(line, ln, &a, &alen, &b, &blen)) {
                rc = otok_json_fail("model.merges", NULL, "merge %zu ('%s') is not two tokens separated by one space",
                                    i, line);
                break;
            }
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            alen = json_string_length(json_array_get(e, 0));
            b = json_string_value(json_array_get(e, 1));
            blen = json_string_length(json_array_get(e, 1));
        } else {
            rc = otok_json_fail("model.merges", NULL, "merge %zu is neither \"a b\" nor [\"a\", \"b\"]", i);
            break;
        }
        int32_t ia = otok_vocab_get(&m->vocab, a, alen), ib = otok_vocab_get(&m->vocab, b, blen);
        if (ia < 0 || ib < 0) {
            rc = otok_json_fail("model.merges", NULL, "merge %zu names '%.*s', which is not in model.vocab", i,
                                (int)(ia < 0 ? alen : blen), ia < 0 ? a : b);
            break;
        }
        if (blen < m->prefix_len) {
            rc = otok_json_fail("model.merges", NULL, "merge %zu: '%.*s' is shorter than the continuing_subword_prefix",
                                i, (int)blen, b);
            break;
        }
        size_t jn = alen + blen - m->prefix_len;
        char *nj = realloc(joined, jn + 1);
        if (!nj) {
            rc = olive_fail(OLIVE_ENOMEM, "out of memory reading model.merges");
            break;
        }
        joined = nj;
        memcpy(joined, a, alen);
        memcpy(joined + alen, b + m->prefix_len, blen - m->prefix_len);
        int32_t merged = otok_vocab_get(&m->vocab, joined, jn);
        if (merged < 0) {
            rc = otok_json_fail("model.merges", NULL, "merge %zu makes '%.*s', which is not in model.vocab", i, (int)jn,
                                joined);
            break;
        }
        /* a repeated pair keeps its last rank, as Hugging Face's HashMap does */
        rc = otok_pairmap_put(&m->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, rank++, merged);
    }
    free(joined);
    return rc;
}

/* ---- the merge loop ------------------------------------------------------------------ */

typedef struct heap_item {
    int32_t rank, new_id;
    size_t pos;
} heap_item;

typedef struct heap {
    heap_item *v;
    size_t n, cap;
} heap;

static inline int before(const heap_item *x, const heap_item *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static int heap_push(heap *h, heap_item it)
{
    if (OLIVE_PUSH(h->v, h->n, h->cap, it))
        return olive_fail(OLIVE_ENOMEM, "out of memory merging BPE pieces");
    size_t i = h->n - 1;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&h->v[i], &h->v[p]))
            break;
        heap_item t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
    return OLIVE_OK;
}

static heap_item heap_pop(heap *h)
{
    heap_item top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(&h->v[l], &h->v[m]))
            m = l;
        if (r < h->n && before(&h->v[r], &h->v[m]))
            m = r;
        if (m == i)
            break;
        heap_item t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

static inline int lookup_merge(const otok_model *m, int32_t a, int32_t b, int32_t *rank, int32_t *id)
{
    return otok_pairmap_get(&m->merges, ((uint64_t)(uint32_t)a << 32) | (uint32_t)b, rank, id);
}

int otok_bpe_merge(const otok_model *m, int32_t *ids, size_t *count)
{
    size_t n = *count;
    if (n < 2)
        return OLIVE_OK;
    /* symbols as a linked list; a merged-away symbol is marked dead */
    ptrdiff_t *prev = olive_malloc(n * sizeof *prev), *next = olive_malloc(n * sizeof *next);
    unsigned char *dead = olive_calloc(n, 1);
    heap h = {0};
    int rc = OLIVE_OK;
    if (!prev || !next || !dead) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        prev[i] = (ptrdiff_t)i - 1;
        next[i] = i + 1 < n ? (ptrdiff_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n && !rc; i++) {
        int32_t rank, id;
        if (lookup_merge(m, ids[i], ids[i + 1], &rank, &id))
            rc = heap_push(&h, (heap_item){rank, id, i});
    }
    while (!rc && h.n) {
        heap_item top = heap_pop(&h);
        size_t pos = top.pos;
        if (dead[pos] || next[pos] < 0)
            continue;
        size_t right = (size_t)next[pos];
        int32_t rank, id;
        if (!lookup_merge(m, ids[pos], ids[right], &rank, &id) || id != top.new_id)
            continue; /* an expired entry */
        ids[pos] = top.new_id;
        dead[right] = 1;
        next[pos] = next[right];
        if (next[right] >= 0)
            prev[next[right]] = (ptrdiff_t)pos;
        if (prev[pos] >= 0 && lookup_merge(m, ids[prev[pos]], ids[pos], &rank, &id))
            rc = heap_push(&h, (heap_item){rank, id, (size_t)prev[pos]});
        if (!rc && next[pos] >= 0 && lookup_merge(m, ids[pos], ids[next[pos]], &rank, &id))
            rc = heap_push(&h, (heap_item){rank, id, pos});
    }
    if (!rc) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!dead[i])
                ids[k++] = ids[i];
        *count = k;
    }
done:
    free(prev);
    free(next);
    free(dead);
    free(h.v);
    return rc;
}

/* Looks up one character as a piece, with the prefix when not first and the suffix when last. */
static int32_t char_id(const otok_model *m, const char *c, size_t n, int first, int last, char **scratch,
                       size_t *scratch_cap)
{
    if ((first || !m->prefix) && (!last || !m->suffix))
        return otok_vocab_get(&m->vocab, c, n);
    size_t need = n + m->prefix_len + m->suffix_len;
    if (need > *scratch_cap) {
        char *s = realloc(*scratch, need);
        if (!s)
            return -2;
        *scratch = s;
        *scratch_cap = need;
    }
    size_t k = 0;
    if (!first && m->prefix) {
        memcpy(*scratch, m->prefix, m->prefix_len);
        k = m->prefix_len;
    }
    memcpy(*scratch + k, c, n);
    k += n;
    if (last && m->suffix) {
        memcpy(*scratch + k, m->suffix, m->suffix_len);
        k += m->suffix_len;
    }
    return otok_vocab_get(&m->vocab, *scratch, k);
}

int otok_bpe_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);

int otok_bpe_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out)
{
    if (len == 0)
        return OLIVE_OK;
    if (m->ignore_merges) {
        int32_t id = otok_vocab_get(&m->vocab, s, len);
        if (id >= 0)
            return otok_ids_push(out, id);
    }
    size_t start = out->n;
    char *scratch = NULL;
    size_t scratch_cap = 0;
    int have_unk = 0, rc = OLIVE_OK;
    for (size_t i = 0; i < len && !rc;) {
        uint32_t cp;
        size_t n = otok_utf8_next(s, i, &cp);
        int32_t id = char_id(m, s + i, n, i == 0, i + n == len, &scratch, &scratch_cap);
        if (id == -2) {
            rc = olive_fail(OLIVE_ENOMEM, "out of memory in BPE");
            break;
        }
        if (id >= 0) {
            if (have_unk && (rc = otok_ids_push(out, m->unk_id)))
                break;
            have_unk = 0;
            rc = otok_ids_push(out, id);
            i += n;
            continue;
        }
        if (m->byte_fallback) {
            /* the bytes of the looked-up piece (prefix and suffix included), each as <0xXX> */
            const char *piece = s + i;
            size_t plen = n;
            if ((i > 0 && m->prefix) || (i + n == len && m->suffix)) {
                piece = scratch;
                plen = n + (i > 0 && m->prefix ? m->prefix_len : 0) + (i + n == len && m->suffix ? m->suffix_len : 0);
            }
            int all = 1;
            for (size_t k = 0; k < plen; k++)
                all &= m->byte_ids[(unsigned char)piece[k]] >= 0;
            if (all) {
                for (size_t k = 0; k < plen && !rc; k++)
                    rc = otok_ids_push(out, m->byte_ids[(unsigned char)piece[k]]);
                i += n;
                continue; /* a pending unk stays pending, as in Hugging Face */
            }
        }
        if (m->unk_token) {
            if (m->unk_id < 0) {
                rc = olive_fail(OLIVE_EINVALID, "model.unk_token '%s' is not in the vocabulary", m->unk_token);
                break;
            }
            if (have_unk && !m->fuse_unk)
                rc = otok_ids_push(out, m->unk_id);
            have_unk = 1;
        }
        i += n;
    }
    if (!rc && have_unk)
        rc = otok_ids_push(out, m->unk_id);
    free(scratch);
    if (rc)
        return rc;
    size_t count = out->n - start;
    if (count == 0) /* every character unknown and no unk token: nothing to merge */
        return OLIVE_OK;
    rc = otok_bpe_merge(m, out->v + start, &count);
    if (!rc)
        out->n = start + count;
    return rc;
}
