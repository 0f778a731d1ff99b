/* Added tokens, following AddedVocabulary::add_tokens, refresh_added_tokens and find_matches. */
#include "tokenizer/tok_added.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_unicode.h"

void otok_added_free(otok_added *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->by_content[i].content);
    free(a->by_content);
    otok_vocab_free(&a->ids);
    otok_vocab_free(&a->specials);
    otok_pairmap_free(&a->token_of_id);
    otok_trie_free(&a->raw);
    otok_trie_free(&a->norm);
    otok_regex_free(a->word);
    memset(a, 0, sizeof *a);
}

typedef struct entry {
    const char *content;
    size_t len;
    otok_added_token flags;
} entry;

static int read_entry(json_t *e, size_t i, entry *out)
{
    char path[64];
    snprintf(path, sizeof path, "added_tokens[%zu]", i);
    if (!json_is_object(e))
        return otok_json_fail(path, NULL, "expected an object");
    memset(out, 0, sizeof *out);
    OLIVE_TRY(otok_json_string(e, path, "content", 1, &out->content, &out->len));
    int special = 0, single = 0, l = 0, r = 0, norm = -1;
    OLIVE_TRY(otok_json_bool(e, path, "special", &special));
    OLIVE_TRY(otok_json_bool(e, path, "single_word", &single));
    OLIVE_TRY(otok_json_bool(e, path, "lstrip", &l));
    OLIVE_TRY(otok_json_bool(e, path, "rstrip", &r));
    OLIVE_TRY(otok_json_bool(e, path, "normalized", &norm));
    uint64_t id = 0;
    OLIVE_TRY(otok_json_uint(e, path, "id", UINT32_MAX, &id));
    out->flags.special = (uint8_t)special;
    out->flags.single_word = (uint8_t)single;
    out->flags.lstrip = (uint8_t)l;
    out->flags.rstrip = (uint8_t)r;
    out->flags.normalized = (uint8_t)(norm < 0 ? !special : norm);
    return OLIVE_OK;
}

static int same_flags(const otok_added_token *x, const otok_added_token *y)
{
    return x->special == y->special && x->single_word == y->single_word && x->lstrip == y->lstrip &&
           x->rstrip == y->rstrip && x->normalized == y->normalized;
}

int otok_added_parse(otok_added *a, json_t *list, const otok_model *model, const otok_normalizer *norm)
{
    memset(a, 0, sizeof *a);
    if (list && !json_is_null(list) && !json_is_array(list))
        return otok_json_fail("added_tokens", NULL, "expected an array");
    size_t count = json_array_size(list);
    if (count > OTOK_MAX_ENTRIES)
        return otok_json_fail("added_tokens", NULL, "%zu entries is more than %u", count, OTOK_MAX_ENTRIES);
    OLIVE_TRY(otok_trie_init(&a->raw));
    OLIVE_TRY(otok_trie_init(&a->norm));
    OLIVE_TRY(otok_regex_compile_rust(&a->word, "\\w", 2, "added token word class"));
    entry *e = olive_calloc(count ? count : 1, sizeof *e);
    /* the match order: special tokens (first of each content), then the others in order */
    size_t *order = olive_calloc(count ? count : 1, sizeof *order);
    size_t n_order = 0;
    int rc = (!e || !order) ? OLIVE_ENOMEM : OLIVE_OK;
    for (size_t i = 0; i < count && !rc; i++)
        rc = read_entry(json_array_get(list, i), i, &e[i]);
    size_t model_size = otok_model_vocab_size(model), cap = 0;
    int64_t max_added = -1;
    for (size_t i = 0; i < count && !rc; i++) {
        if (e[i].flags.special && e[i].len && otok_vocab_get(&a->specials, e[i].content, e[i].len) < 0) {
            rc = otok_vocab_put(&a->specials, e[i].content, e[i].len, 0);
            if (!rc)
                order[n_order++] = i;
        }
    }
    for (size_t i = 0; i < count && !rc; i++) {
        if (!e[i].len)
            continue;
        int32_t existing = otok_vocab_get(&a->ids, e[i].content, e[i].len);
        if (existing >= 0) {
            /* an identical token (content and flags) is ignored */
            const otok_added_token *t = NULL;
            for (size_t k = 0; k < a->n; k++)
                if (a->by_content[k].id == existing && a->by_content[k].len == e[i].len &&
                    !memcmp(a->by_content[k].content, e[i].content, e[i].len))
                    t = &a->by_content[k];
            if (t && same_flags(t, &e[i].flags))
                continue;
        }
        int32_t id = existing >= 0 ? existing : otok_model_token_to_id(model, e[i].content, e[i].len);
        if (id < 0) {
            /* a token the model does not know: after the model's ids or the last added one */
            int64_t next = max_added < 0                                           ? (int64_t)model_size
                           : (max_added >= (int64_t)model_size || model_size == 0) ? max_added + 1
                                                                                   : (int64_t)model_size;
            if (next > OTOK_MAX_ID) {
                rc = otok_json_fail("added_tokens", NULL, "too many tokens: id %lld", (long long)next);
                break;
            }
            id = (int32_t)next;
        }
        if (id > max_added)
            max_added = id;
        if ((rc = otok_vocab_put(&a->ids, e[i].content, e[i].len, id)))
            break;
        size_t k = 0;
        while (k < a->n &&
               !(a->by_content[k].len == e[i].len && !memcmp(a->by_content[k].content, e[i].content, e[i].len)))
            k++;
        if (k == a->n) {
            otok_added_token t = e[i].flags;
            if (!(t.content = olive_malloc(e[i].len + 1))) {
                rc = OLIVE_ENOMEM;
                break;
            }
            memcpy(t.content, e[i].content, e[i].len);
            t.content[e[i].len] = 0;
            t.len = e[i].len;
            if (OLIVE_PUSH(a->by_content, a->n, cap, t)) {
                free(t.content);
                rc = OLIVE_ENOMEM;
                break;
            }
        }
        char *content = a->by_content[k].content;
        a->by_content[k] = e[i].flags;
        a->by_content[k].content = content;
        a->by_content[k].len = e[i].len;
        a->by_content[k].id = id;
        if (otok_vocab_get(&a->specials, e[i].content, e[i].len) < 0)
            order[n_order++] = i;
    }
    /* the tries: each pattern maps to the token of its content */
    olive_strbuf nb = {0};
    for (size_t o = 0; o < n_order && !rc; o++) {
        const entry *x = &e[order[o]];
        size_t k = 0;
        while (k < a->n && !(a->by_content[k].len == x->len && !memcmp(a->by_content[k].content, x->content, x->len)))
            k++;
        if (k == a->n)
            continue;
        otok_trie *t = x->flags.normalized ? &a->norm : &a->raw;
        const char *pat = x->content;
        size_t plen = x->len;
        if (x->flags.normalized && norm) {
            if ((rc = otok_normalize(norm, x->content, x->len, &nb, NULL)))
                break;
            pat = nb.data ? nb.data : "";
            plen = nb.len;
        }
        if (!plen)
            continue;
        /* the first of identical patterns wins */
        int32_t node = 0;
        for (size_t b = 0; b < plen && node >= 0; b++)
            node = otok_trie_step(t, node, (unsigned char)pat[b]);
        if (node >= 0 && t->value[node] >= 0)
            continue;
        rc = otok_trie_put(t, pat, plen, (int32_t)k);
    }
    olive_strbuf_free(&nb);
    /* id -> token (the last content given an id wins, as in added_tokens_map_r) */
    for (size_t k = 0; !rc && k < a->n; k++)
        rc = otok_pairmap_put(&a->token_of_id, (uint64_t)a->by_content[k].id, (int32_t)k, 0);
    free(e);
    free(order);
    if (rc)
        otok_added_free(a);
    return rc;
}

const otok_added_token *otok_added_by_id(const otok_added *a, int64_t id)
{
    int32_t k, unused;
    if (id < 0 || !otok_pairmap_get(&a->token_of_id, (uint64_t)id, &k, &unused))
        return NULL;
    return &a->by_content[k];
}

/* The longest pattern starting at s[i], as an index into by_content (or -1), its end in *end. */
static int32_t longest_at(const otok_trie *t, const char *s, size_t len, size_t i, size_t *end)
{
    int32_t node = 0, found = -1;
    for (size_t k = i; k < len; k++) {
        node = otok_trie_step(t, node, (unsigned char)s[k]);
        if (node < 0)
            break;
        if (t->value[node] >= 0) {
            found = t->value[node];
            *end = k + 1;
        }
    }
    return found;
}

static int word_before(const otok_added *a, const char *s, size_t at)
{
    return at > 0 && otok_regex_match_at(a->word, s, at, otok_utf8_prev(s, at));
}

static int split_one(const otok_added *a, const otok_trie *t, const otok_piece *p, otok_pieces *out)
{
    const char *s = p->s;
    size_t len = p->len, start_offset = 0;
    for (size_t i = 0; i < len;) {
        size_t stop = 0;
        int32_t k = longest_at(t, s, len, i, &stop);
        if (k < 0) {
            i++;
            continue;
        }
        size_t start = i;
        size_t match_end = stop;
        const otok_added_token *tok = otok_added_by_id(a, a->by_content[k].id);
        if (!tok)
            tok = &a->by_content[k];
        i = match_end; /* the search goes on after the match, whatever is kept */
        if (tok->single_word) {
            int start_space = start == 0 || !word_before(a, s, start);
            int stop_space = stop == len || !otok_regex_match_at(a->word, s, len, stop);
            if (!start_space || !stop_space)
                continue;
        }
        if (tok->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t q = otok_utf8_prev(s, ns);
                uint32_t cp;
                otok_utf8_next(s, q, &cp);
                if (!otok_is_whitespace(cp))
                    break;
                ns = q;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (tok->rstrip) {
            uint32_t cp;
            while (stop < len && (otok_utf8_next(s, stop, &cp), otok_is_whitespace(cp)))
                stop += otok_utf8_next(s, stop, &cp);
        }
        if (start_offset < start) {
            otok_piece g = {s + start_offset, start - start_offset, -1, (uint8_t)(p->at_start && start_offset == 0)};
            OLIVE_TRY(otok_pieces_push(out, g));
        }
        otok_piece m = {s + start, stop - start, tok->id, (uint8_t)(p->at_start && start == 0)};
        OLIVE_TRY(otok_pieces_push(out, m));
        start_offset = stop;
    }
    if (start_offset < len) {
        otok_piece g = {s + start_offset, len - start_offset, -1, (uint8_t)(p->at_start && start_offset == 0)};
        OLIVE_TRY(otok_pieces_push(out, g));
    }
    return OLIVE_OK;
}

int otok_added_split(const otok_added *a, int normalized, otok_pieces *pieces)
{
    const otok_trie *t = normalized ? &a->norm : &a->raw;
    if (t->nodes <= 1) {
        /* nothing to cut: only drop empty pieces */
        size_t k = 0;
        for (size_t i = 0; i < pieces->n; i++)
            if (pieces->v[i].len || pieces->v[i].id >= 0)
                pieces->v[k++] = pieces->v[i];
        pieces->n = k;
        return OLIVE_OK;
    }
    otok_pieces out = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < pieces->n && !rc; i++) {
        if (pieces->v[i].id >= 0)
            rc = otok_pieces_push(&out, pieces->v[i]);
        else
            rc = split_one(a, t, &pieces->v[i], &out);
    }
    if (rc) {
        otok_pieces_free(&out);
        return rc;
    }
    otok_pieces_free(pieces);
    *pieces = out;
    return OLIVE_OK;
}
