/* Loading tokenizer.json and running the pipeline. */
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"

void otok_tokenizer_free(otok_tokenizer *t)
{
    if (!t)
        return;
    otok_model_free(t->model);
    otok_normalizer_free(t->normalizer);
    otok_pretok_free(t->pretok);
    otok_post_free(t->post);
    otok_decoder_free(t->decoder);
    otok_added_free(&t->added);
    free(t);
}

static int present(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && !json_is_null(v);
}

int otok_tokenizer_from_json(otok_tokenizer **out, json_t *root)
{
    if (!json_is_object(root))
        return olive_fail(OLIVE_EFORMAT, "the top level is not an object");
    if (!present(root, "model"))
        return olive_fail(OLIVE_EFORMAT, "model: missing");
    otok_tokenizer *t = olive_calloc(1, sizeof *t);
    if (!t)
        return OLIVE_ENOMEM;
    int rc = otok_model_parse(&t->model, json_object_get(root, "model"));
    if (!rc && present(root, "normalizer"))
        rc = otok_normalizer_parse(&t->normalizer, json_object_get(root, "normalizer"), "normalizer", 0);
    if (!rc && present(root, "pre_tokenizer"))
        rc = otok_pretok_parse(&t->pretok, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", 0);
    if (!rc && present(root, "post_processor"))
        rc = otok_post_parse(&t->post, json_object_get(root, "post_processor"), "post_processor", 0);
    if (!rc && present(root, "decoder"))
        rc = otok_decoder_parse(&t->decoder, json_object_get(root, "decoder"), "decoder", 0);
    if (!rc)
        rc = otok_added_parse(&t->added, json_object_get(root, "added_tokens"), t->model, t->normalizer);
    if (!rc)
        rc = otok_truncation_parse(&t->trunc, json_object_get(root, "truncation"));
    if (!rc)
        rc = otok_padding_parse(&t->pad, json_object_get(root, "padding"));
    if (rc) {
        otok_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return OLIVE_OK;
}

int otok_tokenizer_load(otok_tokenizer **out, const char *path)
{
    struct stat st;
    char *file = NULL;
    if (stat(path, &st) != 0)
        return olive_fail_errno(errno, "cannot open tokenizer", path);
    if (S_ISDIR(st.st_mode)) {
        if (!(file = olive_path_join(path, "tokenizer.json")))
            return OLIVE_ENOMEM;
        if (stat(file, &st) != 0) {
            int rc = olive_fail(OLIVE_ENOTFOUND, "'%s' has no tokenizer.json", path);
            free(file);
            return rc;
        }
    } else if (!(file = olive_strdup(path))) {
        return OLIVE_ENOMEM;
    }
    char *data = NULL;
    size_t size = 0;
    int rc = olive_read_file(&data, &size, file, OTOK_MAX_FILE);
    json_t *root = NULL;
    if (!rc) {
        json_error_t err;
        /* tokens may hold U+0000 */
        root = json_loadb(data, size, JSON_ALLOW_NUL, &err);
        free(data);
        if (!root)
            rc = olive_fail(OLIVE_EFORMAT, "'%s': invalid JSON at line %d column %d: %s", file, err.line, err.column,
                            err.text);
    }
    if (!rc) {
        rc = otok_tokenizer_from_json(out, root);
        if (rc)
            olive_fail_context(rc, "'%s'", file);
    }
    json_decref(root);
    free(file);
    return rc;
}

/* One sequence through normalization, pre-tokenization and the model. */
static int encode_one(const otok_tokenizer *t, const char *text, size_t len, int32_t type_id, otok_encoding *out,
                      otok_cache *cache)
{
    otok_arena arena = {0};
    otok_pieces pieces = {0};
    olive_strbuf nb = {0};
    size_t n;
    char *fixed = otok_utf8_repair(text, len, &n);
    if (!fixed)
        return OLIVE_ENOMEM;
    otok_piece whole = {fixed, n, -1, 1};
    int rc = otok_pieces_push(&pieces, whole);
    if (!rc)
        rc = otok_added_split(&t->added, 0, &pieces);
    if (!rc && t->normalizer) {
        for (size_t i = 0; i < pieces.n && !rc; i++) {
            otok_piece *p = &pieces.v[i];
            if (p->id >= 0)
                continue;
            int moved = 0;
            rc = otok_normalize(t->normalizer, p->s, p->len, &nb, &moved);
            if (!rc && !(p->s = otok_arena_dup(&arena, nb.data ? nb.data : "", nb.len)))
                rc = OLIVE_ENOMEM;
            p->len = nb.len;
            if (moved)
                p->at_start = 0;
        }
    }
    if (!rc)
        rc = otok_added_split(&t->added, 1, &pieces);
    if (!rc && t->pretok)
        rc = otok_pretokenize(t->pretok, &pieces, &arena);
    for (size_t i = 0; i < pieces.n && !rc; i++) {
        otok_piece *p = &pieces.v[i];
        if (p->id >= 0)
            rc = otok_ids_push(&out->ids, p->id);
        else if (p->len)
            rc = otok_model_tokenize(t->model, p->s, p->len, &out->ids, cache);
    }
    while (!rc && out->type_ids.n < out->ids.n) {
        rc = otok_ids_push(&out->type_ids, type_id);
        if (!rc)
            rc = otok_ids_push(&out->mask, 1);
    }
    olive_strbuf_free(&nb);
    otok_pieces_free(&pieces);
    otok_arena_free(&arena);
    free(fixed);
    return rc;
}

int otok_encode(const otok_tokenizer *t, const char *text, size_t len, const char *pair, size_t pair_len,
                int add_special, otok_encoding *out, otok_cache *cache)
{
    otok_encoding a = {0}, b = {0};
    int rc = encode_one(t, text, len, 0, &a, cache);
    if (!rc && pair)
        rc = encode_one(t, pair, pair_len, 1, &b, cache);
    if (!rc && t->trunc.enabled) {
        size_t reserved = add_special ? otok_post_added(t->post, pair != NULL) : 0;
        /* Hugging Face subtracts without a check: when the special tokens outnumber
         * max_length the difference wraps around and nothing is truncated */
        if (reserved <= t->trunc.max_length)
            rc = otok_truncate(&t->trunc, reserved, &a, pair ? &b : NULL);
    }
    if (!rc)
        rc = otok_post_process(t->post, &a, pair ? &b : NULL, add_special, out);
    if (!rc)
        rc = otok_pad(&t->pad, out, 1);
    otok_encoding_free(&a);
    otok_encoding_free(&b);
    if (rc)
        otok_encoding_free(out);
    return rc;
}

int32_t otok_token_to_id(const otok_tokenizer *t, const char *s, size_t len)
{
    int32_t id = otok_vocab_get(&t->added.ids, s, len);
    return id >= 0 ? id : otok_model_token_to_id(t->model, s, len);
}

const char *otok_id_to_token(const otok_tokenizer *t, int64_t id, size_t *len)
{
    const otok_added_token *a = otok_added_by_id(&t->added, id);
    if (a) {
        if (len)
            *len = a->len;
        return a->content;
    }
    return otok_model_id_to_token(t->model, id, len);
}

size_t otok_vocab_size(const otok_tokenizer *t, int with_added)
{
    if (!with_added)
        return otok_model_vocab_size(t->model);
    /* distinct token texts of the model and the added tokens (Tokenizer::get_vocab(true)) */
    size_t n = t->model->vocab.n;
    for (size_t i = 0; i < t->added.n; i++)
        if (otok_model_token_to_id(t->model, t->added.by_content[i].content, t->added.by_content[i].len) < 0)
            n++;
    return n;
}

int otok_decode_ids(const otok_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **out,
                    size_t *out_len)
{
    otok_strs tokens = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len;
        const char *s = otok_id_to_token(t, ids[i], &len);
        if (!s)
            continue;
        if (skip_special && otok_vocab_get(&t->added.specials, s, len) >= 0)
            continue;
        rc = otok_strs_push(&tokens, s, len);
    }
    olive_strbuf b = {0};
    if (!rc)
        rc = otok_decode(t->decoder, &tokens, &b);
    otok_strs_free(&tokens);
    if (rc) {
        olive_strbuf_free(&b);
        return rc;
    }
    size_t len = b.len;
    char *s = olive_strbuf_take(&b);
    if (!s)
        return OLIVE_ENOMEM;
    *out = s;
    if (out_len)
        *out_len = len;
    return OLIVE_OK;
}
