/* The public tokenizer functions: argument checks and handle lifetimes over lib/tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "olive/tokenizer.h"
#include "tokenizer/tokenizer.h"

struct olive_tokenizer {
    otok_tokenizer *t;
};

struct olive_encoding {
    otok_encoding *seq;
    size_t n;
};

int olive_tokenizer_load(olive_tokenizer **out, const char *path)
{
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_load: out and path must not be NULL");
    olive_tokenizer *h = olive_calloc(1, sizeof *h);
    if (!h)
        return OLIVE_ENOMEM;
    int rc = otok_tokenizer_load(&h->t, path);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return OLIVE_OK;
}

void olive_tokenizer_free(olive_tokenizer *tok)
{
    if (!tok)
        return;
    otok_tokenizer_free(tok->t);
    free(tok);
}

static size_t text_length(const char *s, size_t len)
{
    return len == OLIVE_TOKENIZER_NUL_TERMINATED ? strlen(s) : len;
}

int olive_tokenizer_encode(int32_t **out, size_t *out_count, const olive_tokenizer *tok, const char *text,
                           size_t text_len, const char *pair, size_t pair_len, unsigned flags)
{
    if (!out || !out_count || !tok || !text)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_encode: out, out_count, tok and text must not be NULL");
    if (flags & ~OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_encode: unknown flags 0x%x", flags);
    otok_encoding enc;
    memset(&enc, 0, sizeof enc);
    otok_cache cache = {0};
    int rc = otok_encode(tok->t, text, text_length(text, text_len), pair, pair ? text_length(pair, pair_len) : 0,
                         (flags & OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS) != 0, &enc, &cache);
    otok_cache_free(&cache);
    if (rc)
        return rc;
    *out = enc.ids.v;
    *out_count = enc.ids.n;
    enc.ids.v = NULL;
    otok_encoding_free(&enc);
    return OLIVE_OK;
}

void olive_encoding_free(olive_encoding *enc)
{
    if (!enc)
        return;
    for (size_t i = 0; i < enc->n; i++)
        otok_encoding_free(&enc->seq[i]);
    free(enc->seq);
    free(enc);
}

int olive_tokenizer_encode_batch(olive_encoding **out, const olive_tokenizer *tok, const char *const *texts,
                                 const size_t *text_lens, const char *const *pairs, const size_t *pair_lens,
                                 size_t count, unsigned flags)
{
    if (!out || !tok || (count && !texts))
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_encode_batch: out, tok and texts must not be NULL");
    if (flags & ~OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_encode_batch: unknown flags 0x%x", flags);
    olive_encoding *e = olive_calloc(1, sizeof *e);
    if (!e || !(e->seq = olive_calloc(count ? count : 1, sizeof *e->seq))) {
        free(e);
        return OLIVE_ENOMEM;
    }
    otok_cache cache = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < count && !rc; i++) {
        if (!texts[i]) {
            rc = olive_fail(OLIVE_EINVALID, "olive_tokenizer_encode_batch: texts[%zu] is NULL", i);
            break;
        }
        const char *pair = pairs ? pairs[i] : NULL;
        size_t tl = text_lens ? text_length(texts[i], text_lens[i]) : strlen(texts[i]);
        size_t pl = pair ? (pair_lens ? text_length(pair, pair_lens[i]) : strlen(pair)) : 0;
        rc = otok_encode(tok->t, texts[i], tl, pair, pl, (flags & OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS) != 0, &e->seq[i],
                         &cache);
        if (!rc)
            e->n = i + 1;
    }
    otok_cache_free(&cache);
    if (!rc)
        rc = otok_pad(&tok->t->pad, e->seq, e->n);
    if (rc) {
        olive_encoding_free(e);
        return rc;
    }
    *out = e;
    return OLIVE_OK;
}

size_t olive_encoding_count(const olive_encoding *enc)
{
    return enc ? enc->n : 0;
}

static const int32_t *field(const olive_encoding *enc, size_t index, size_t *len, int which)
{
    if (!enc || index >= enc->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    const otok_encoding *s = &enc->seq[index];
    const otok_ids *v = which == 0 ? &s->ids : which == 1 ? &s->type_ids : &s->mask;
    if (len)
        *len = v->n;
    return v->v;
}

const int32_t *olive_encoding_ids(const olive_encoding *enc, size_t index, size_t *len)
{
    return field(enc, index, len, 0);
}

const int32_t *olive_encoding_type_ids(const olive_encoding *enc, size_t index, size_t *len)
{
    return field(enc, index, len, 1);
}

const int32_t *olive_encoding_attention_mask(const olive_encoding *enc, size_t index, size_t *len)
{
    return field(enc, index, len, 2);
}

int olive_tokenizer_decode(char **out, size_t *out_len, const olive_tokenizer *tok, const int32_t *ids, size_t count,
                           unsigned flags)
{
    if (!out || !tok || (count && !ids))
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_decode: out, tok and ids must not be NULL");
    if (flags & ~OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_decode: unknown flags 0x%x", flags);
    return otok_decode_ids(tok->t, ids, count, (flags & OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS) != 0, out, out_len);
}

int olive_tokenizer_token_to_id(int32_t *out, const olive_tokenizer *tok, const char *token)
{
    if (!out || !tok || !token)
        return olive_fail(OLIVE_EINVALID, "olive_tokenizer_token_to_id: out, tok and token must not be NULL");
    int32_t id = otok_token_to_id(tok->t, token, strlen(token));
    if (id < 0)
        return olive_fail(OLIVE_ENOTFOUND, "token '%s' is not in the vocabulary", token);
    *out = id;
    return OLIVE_OK;
}

const char *olive_tokenizer_id_to_token(const olive_tokenizer *tok, int32_t id)
{
    return tok ? otok_id_to_token(tok->t, id, NULL) : NULL;
}

size_t olive_tokenizer_vocab_size(const olive_tokenizer *tok, int with_added_tokens)
{
    return tok ? otok_vocab_size(tok->t, with_added_tokens) : 0;
}

static int parse_direction(const char *d, int *left, const char *fn)
{
    if (!d || !strcmp(d, "right")) {
        *left = 0;
        return OLIVE_OK;
    }
    if (!strcmp(d, "left")) {
        *left = 1;
        return OLIVE_OK;
    }
    return olive_fail(OLIVE_EINVALID, "%s: direction '%s' is not right or left", fn, d);
}

int olive_tokenizer_set_truncation(olive_tokenizer *tok, int64_t max_length, const char *strategy,
                                   const char *direction)
{
    static const char fn[] = "olive_tokenizer_set_truncation";
    if (!tok)
        return olive_fail(OLIVE_EINVALID, "%s: tok must not be NULL", fn);
    otok_truncation t = {0};
    if (max_length >= 0) {
        t.enabled = 1;
        t.max_length = (size_t)max_length;
        if (!strategy || !strcmp(strategy, "longest_first"))
            t.strategy = OTOK_LONGEST_FIRST;
        else if (!strcmp(strategy, "only_first"))
            t.strategy = OTOK_ONLY_FIRST;
        else if (!strcmp(strategy, "only_second"))
            t.strategy = OTOK_ONLY_SECOND;
        else
            return olive_fail(OLIVE_EINVALID, "%s: strategy '%s' is not longest_first, only_first or only_second", fn,
                              strategy);
        OLIVE_TRY(parse_direction(direction, &t.left, fn));
    }
    tok->t->trunc = t;
    return OLIVE_OK;
}

int olive_tokenizer_set_padding(olive_tokenizer *tok, int64_t length, uint32_t pad_to_multiple_of,
                                const char *direction, const char *pad_token)
{
    static const char fn[] = "olive_tokenizer_set_padding";
    if (!tok)
        return olive_fail(OLIVE_EINVALID, "%s: tok must not be NULL", fn);
    otok_padding p = {0};
    if (length >= 0) {
        p.enabled = 1;
        p.fixed = (size_t)length;
        p.multiple = pad_to_multiple_of;
        OLIVE_TRY(parse_direction(direction, &p.left, fn));
        if (pad_token) {
            int32_t id = otok_token_to_id(tok->t, pad_token, strlen(pad_token));
            if (id < 0)
                return olive_fail(OLIVE_ENOTFOUND, "%s: pad token '%s' is not in the vocabulary", fn, pad_token);
            p.pad_id = id;
        } else if (tok->t->pad.enabled) {
            p.pad_id = tok->t->pad.pad_id;
            p.pad_type_id = tok->t->pad.pad_type_id;
        }
    }
    tok->t->pad = p;
    return OLIVE_OK;
}
