/* tokenize TOKENIZER REQUESTS OUT
 *
 * Loads a tokenizer.json (file or folder) with the public API and runs the requests of the
 * JSON file REQUESTS, writing the answers as JSON to OUT, for the integration tests to compare
 * with Hugging Face tokenizers. REQUESTS:
 *   {"truncation": null | {"max_length": n, "strategy": s, "direction": d},
 *    "padding": null | {"length": n, "multiple": m, "direction": d, "pad_token": t},
 *    "batch": bool,                 (one encode_batch call for all cases, else one each)
 *    "cases": [{"text": s | "text_hex": hex, "pair": s | null, "add_special": bool}],
 *    "ids": [n, ...],               (ids to look up with id_to_token)
 *    "decode": [[id, ...], ...]}    (id sequences to decode)
 * OUT: {"vocab_size": [with_added, without], "results": [{"ids", "type_ids", "attention_mask",
 *       "decoded": [skip_special, keep_special]}], "tokens": [s | null, ...],
 *       "token_ids": [id | null, ...] (token_to_id of each looked-up token),
 *       "decoded": [[skip_special, keep_special], ...] (of each "decode" sequence)}
 * The ids of olive_tokenizer_encode must equal those of olive_tokenizer_encode_batch for single
 * requests; the tool checks that itself. Exit 0 on success; 1 with the error on stderr ("tokenize:
 * error: ..."); 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "olive/olive.h"

static int fail(const char *what)
{
    fprintf(stderr, "tokenize: error: %s: %s\n", what, olive_error_last());
    return 1;
}

static char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; out && i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    if (out)
        out[n] = 0;
    *len = n;
    return out;
}

static json_t *int_array(const int32_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tokenize TOKENIZER REQUESTS OUT\n");
        return 2;
    }
    json_error_t jerr;
    json_t *req = json_load_file(argv[2], JSON_ALLOW_NUL, &jerr);
    if (!req) {
        fprintf(stderr, "tokenize: error: %s: %s\n", argv[2], jerr.text);
        return 2;
    }
    olive_tokenizer *tok = NULL;
    if (olive_tokenizer_load(&tok, argv[1]) != OLIVE_OK) {
        json_decref(req);
        return fail("load");
    }
    int rc = 0;
    json_t *tr = json_object_get(req, "truncation"), *pad = json_object_get(req, "padding");
    if (json_is_object(tr) &&
        olive_tokenizer_set_truncation(tok, json_integer_value(json_object_get(tr, "max_length")),
                                       json_string_value(json_object_get(tr, "strategy")),
                                       json_string_value(json_object_get(tr, "direction"))) != OLIVE_OK)
        rc = fail("set_truncation");
    if (!rc && json_is_object(pad) &&
        olive_tokenizer_set_padding(tok, json_integer_value(json_object_get(pad, "length")),
                                    (uint32_t)json_integer_value(json_object_get(pad, "multiple")),
                                    json_string_value(json_object_get(pad, "direction")),
                                    json_string_value(json_object_get(pad, "pad_token"))) != OLIVE_OK)
        rc = fail("set_padding");

    json_t *cases = json_object_get(req, "cases");
    size_t n = json_array_size(cases);
    char **texts = calloc(n + 1, sizeof *texts), **pairs = calloc(n + 1, sizeof *pairs);
    size_t *tlens = calloc(n + 1, sizeof *tlens), *plens = calloc(n + 1, sizeof *plens);
    unsigned *flags = calloc(n + 1, sizeof *flags);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        json_t *hex = json_object_get(c, "text_hex"), *pair = json_object_get(c, "pair");
        if (json_is_string(hex)) {
            texts[i] = unhex(json_string_value(hex), &tlens[i]);
        } else {
            tlens[i] = json_string_length(json_object_get(c, "text"));
            texts[i] = malloc(tlens[i] + 1);
            memcpy(texts[i], json_string_value(json_object_get(c, "text")), tlens[i] + 1);
        }
        if (json_is_string(pair)) {
            plens[i] = json_string_length(pair);
            pairs[i] = malloc(plens[i] + 1);
            memcpy(pairs[i], json_string_value(pair), plens[i] + 1);
        }
        flags[i] = json_is_false(json_object_get(c, "add_special")) ? 0 : OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS;
    }

    json_t *out = json_object(), *results = json_array();
    json_object_set_new(out, "vocab_size", json_pack("[II]", (json_int_t)olive_tokenizer_vocab_size(tok, 1),
                                                      (json_int_t)olive_tokenizer_vocab_size(tok, 0)));
    json_object_set_new(out, "results", results);
    olive_encoding *batch = NULL;
    int is_batch = json_is_true(json_object_get(req, "batch"));
    if (!rc && is_batch && n && olive_tokenizer_encode_batch(&batch, tok, (const char *const *)texts, tlens,
                                                             (const char *const *)pairs, plens, n, flags[0]) != OLIVE_OK)
        rc = fail("encode_batch");
    for (size_t i = 0; i < n && !rc; i++) {
        olive_encoding *one = batch;
        size_t at = i;
        if (!is_batch) {
            at = 0;
            if (olive_tokenizer_encode_batch(&one, tok, (const char *const *)&texts[i], &tlens[i],
                                             (const char *const *)&pairs[i], &plens[i], 1, flags[i]) != OLIVE_OK) {
                rc = fail("encode");
                break;
            }
        }
        size_t len, tlen, mlen;
        const int32_t *ids = olive_encoding_ids(one, at, &len);
        const int32_t *types = olive_encoding_type_ids(one, at, &tlen);
        const int32_t *mask = olive_encoding_attention_mask(one, at, &mlen);
        if (!is_batch) {
            int32_t *plain = NULL;
            size_t plain_n = 0;
            if (olive_tokenizer_encode(&plain, &plain_n, tok, texts[i], tlens[i], pairs[i], plens[i], flags[i]) != OLIVE_OK) {
                rc = fail("encode");
            } else if (plain_n != len || (len && memcmp(plain, ids, len * sizeof *ids))) {
                fprintf(stderr, "tokenize: error: case %zu: encode and encode_batch disagree\n", i);
                rc = 1;
            }
            olive_free(plain);
        }
        json_t *r = json_object(), *dec = json_array();
        json_object_set_new(r, "ids", int_array(ids, len));
        json_object_set_new(r, "type_ids", int_array(types, tlen));
        json_object_set_new(r, "attention_mask", int_array(mask, mlen));
        for (int skip = 1; skip >= 0 && !rc; skip--) {
            char *text = NULL;
            size_t text_len = 0;
            if (olive_tokenizer_decode(&text, &text_len, tok, ids, len, skip ? OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS : 0) != OLIVE_OK) {
                rc = fail("decode");
                break;
            }
            json_array_append_new(dec, json_stringn(text, text_len));
            olive_free(text);
        }
        json_object_set_new(r, "decoded", dec);
        json_array_append_new(results, r);
        if (!is_batch)
            olive_encoding_free(one);
    }
    json_t *tokens = json_array(), *token_ids = json_array();
    json_t *lookup = json_object_get(req, "ids");
    for (size_t i = 0; i < json_array_size(lookup); i++) {
        const char *t = olive_tokenizer_id_to_token(tok, (int32_t)json_integer_value(json_array_get(lookup, i)));
        json_array_append_new(tokens, t ? json_string(t) : json_null());
        int32_t back;
        json_array_append_new(token_ids, t && olive_tokenizer_token_to_id(&back, tok, t) == OLIVE_OK
                                             ? json_integer(back) : json_null());
    }
    json_t *seqs = json_object_get(req, "decode"), *decoded = json_array();
    for (size_t i = 0; i < json_array_size(seqs) && !rc; i++) {
        json_t *seq = json_array_get(seqs, i), *pair = json_array();
        size_t k = json_array_size(seq);
        int32_t *ids = calloc(k + 1, sizeof *ids);
        for (size_t t = 0; t < k; t++)
            ids[t] = (int32_t)json_integer_value(json_array_get(seq, t));
        for (int skip = 1; skip >= 0 && !rc; skip--) {
            char *text = NULL;
            size_t len = 0;
            if (olive_tokenizer_decode(&text, &len, tok, ids, k, skip ? OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS : 0) != OLIVE_OK)
                rc = fail("decode");
            else
                json_array_append_new(pair, json_stringn(text, len));
            olive_free(text);
        }
        free(ids);
        json_array_append_new(decoded, pair);
    }
    json_object_set_new(out, "decoded", decoded);
    json_object_set_new(out, "tokens", tokens);
    json_object_set_new(out, "token_ids", token_ids);
    if (!rc && json_dump_file(out, argv[3], JSON_COMPACT | JSON_ENSURE_ASCII) != 0) {
        fprintf(stderr, "tokenize: error: cannot write %s\n", argv[3]);
        rc = 1;
    }
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
        free(pairs[i]);
    }
    free(texts);
    free(pairs);
    free(tlens);
    free(plens);
    free(flags);
    olive_encoding_free(batch);
    json_decref(out);
    json_decref(req);
    olive_tokenizer_free(tok);
    return rc;
}
