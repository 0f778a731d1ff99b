/* text_generation_huggingface_pre_process: Olive's TextGenParams. Each row's text is its
 * text_cols joined by a space (or text_template filled in), wrapped as "{bos} {text} {eos}"
 * when add_special_tokens; empty texts are dropped. Strategy "join" concatenates the texts'
 * tokens, each followed by the joiner's tokens, and cuts windows of max_seq_len tokens;
 * "join-sliding-window" steps by `stride` and ignores the first max_seq_len - stride labels of
 * each window (the context); "line-by-line" makes one row per text, truncated and padded to
 * max_seq_len. Labels are the input ids, with ignored positions at -100; the perplexity metric
 * shifts them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/data/dataset.h"
#include "workflow/metrics/classification.h"

void wf_windows_free(wf_windows *w)
{
    free(w->ids);
    free(w->labels);
    free(w->mask);
    memset(w, 0, sizeof *w);
}

static int add_row(wf_windows *w, size_t *cap, const int64_t *ids, size_t n, size_t len, size_t context, int64_t pad,
                   int pad_left)
{
    size_t off;
    if (w->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        int64_t *a = olive_reallocarray(w->ids, nc * len, sizeof *a);
        if (!a)
            return OLIVE_ENOMEM;
        w->ids = a;
        if (!(a = olive_reallocarray(w->labels, nc * len, sizeof *a)))
            return OLIVE_ENOMEM;
        w->labels = a;
        if (!(a = olive_reallocarray(w->mask, nc * len, sizeof *a)))
            return OLIVE_ENOMEM;
        w->mask = a;
        *cap = nc;
    }
    off = w->n * len;
    for (size_t j = 0; j < len; j++) {
        size_t src = pad_left ? j + n - len : j; /* wraps below zero for left padding */
        int real = pad_left ? j >= len - n : j < n;
        w->ids[off + j] = real ? ids[src] : pad;
        w->mask[off + j] = real;
        w->labels[off + j] = real && j >= context ? ids[src] : WF_IGNORE_INDEX;
    }
    w->n++;
    return OLIVE_OK;
}

int wf_text_windows(wf_windows *out, const wf_encoding *texts, size_t n_texts, const wf_encoding *joiner,
                    const wf_textgen_params *p)
{
    wf_windows w = {0};
    size_t cap = 0, L = p->max_seq_len;
    long long samples = 0;
    int rc = OLIVE_OK;
    w.len = L;
    if (p->join) {
        size_t step = p->sliding ? p->stride : L, context = p->sliding ? L - p->stride : 0;
        int64_t *joined = NULL;
        size_t n_joined = 0, cap_joined = 0;
        for (size_t ex = 0; ex < n_texts && rc == OLIVE_OK;) {
            size_t take = n_texts - ex < p->batch_texts ? n_texts - ex : p->batch_texts, end_loc = 0;
            if (p->max_samples >= 0 && samples >= p->max_samples)
                break;
            for (size_t i = ex; i < ex + take && rc == OLIVE_OK; i++) {
                size_t need = n_joined + texts[i].n + joiner->n;
                if (need > cap_joined) {
                    size_t nc = need * 2;
                    int64_t *a = olive_reallocarray(joined, nc, sizeof *a);
                    if (!a) {
                        rc = OLIVE_ENOMEM;
                        break;
                    }
                    joined = a;
                    cap_joined = nc;
                }
                memcpy(joined + n_joined, texts[i].ids, texts[i].n * sizeof *joined);
                n_joined += texts[i].n;
                memcpy(joined + n_joined, joiner->ids, joiner->n * sizeof *joined);
                n_joined += joiner->n;
            }
            /* range(0, len(joined) - max_seq_len, step): a window only when tokens remain after it */
            for (size_t begin = 0; rc == OLIVE_OK && n_joined > L && begin < n_joined - L; begin += step) {
                end_loc = begin + L;
                rc = add_row(&w, &cap, joined + begin, L, L, context, 0, 0);
                samples++;
                if (p->max_samples >= 0 && samples >= p->max_samples)
                    break;
            }
            ex += take;
            /* The tokens from the end of the last window carry over to the next group. */
            memmove(joined, joined + end_loc, (n_joined - end_loc) * sizeof *joined);
            n_joined -= end_loc;
        }
        free(joined);
    } else {
        for (size_t i = 0; i < n_texts && rc == OLIVE_OK; i++) {
            size_t n = texts[i].n < L ? texts[i].n : L, len = p->pad_to_max_len ? L : n;
            if (p->max_samples >= 0 && samples >= p->max_samples)
                break;
            if (p->drop_short && texts[i].n < L)
                continue;
            if (!p->pad_to_max_len && w.n && n != w.len)
                rc = olive_fail(OLIVE_EINVALID, "line-by-line texts of different lengths need pad_to_max_len");
            else if (p->pad_to_max_len && n < L && p->pad_id < 0)
                rc = olive_fail(OLIVE_EINVALID, "pad_to_max_len: the tokenizer has no pad token");
            else {
                w.len = len;
                rc = add_row(&w, &cap, texts[i].ids, n, len, 0, p->pad_id, p->pad_left);
                samples++;
            }
        }
    }
    if (rc != OLIVE_OK) {
        wf_windows_free(&w);
        return rc;
    }
    *out = w;
    return OLIVE_OK;
}

/* The text of a row: text_template with {column} filled in, or text_cols joined by spaces. */
static char *row_text(const json_t *row, const json_t *cols, const char *tmpl, size_t r, const char *where, int *rc)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    if (tmpl) {
        for (const char *p = tmpl; *p && *rc == OLIVE_OK; p++) {
            const char *close;
            if (*p == '{' && p[1] == '{') {
                olive_strbuf_append(&b, "{");
                p++;
            } else if (*p == '}' && p[1] == '}') {
                olive_strbuf_append(&b, "}");
                p++;
            } else if (*p == '{' && (close = strchr(p, '}'))) {
                char *key = olive_strndup(p + 1, (size_t)(close - p - 1));
                const json_t *v = key ? json_object_get(row, key) : NULL;
                if (!v)
                    *rc = olive_fail(OLIVE_EINVALID, "%s.text_template: row %zu has no column '%s'", where, r + 1,
                                     key ? key : "?");
                else if (json_is_string(v))
                    olive_strbuf_append(&b, json_string_value(v));
                else {
                    char *s = json_dumps(v, JSON_ENCODE_ANY);
                    olive_strbuf_append(&b, s ? s : "");
                    free(s);
                }
                free(key);
                p = close;
            } else {
                olive_strbuf_appendn(&b, p, 1);
            }
        }
    } else {
        for (size_t c = 0; c < json_array_size(cols) && *rc == OLIVE_OK; c++) {
            const char *col = json_string_value(json_array_get(cols, c));
            const json_t *v = json_object_get(row, col);
            if (!v)
                *rc = olive_fail(OLIVE_EINVALID, "%s.text_cols: row %zu has no column '%s'", where, r + 1, col);
            else if (!json_is_string(v))
                *rc = olive_fail(OLIVE_EFORMAT, "%s: column '%s' of row %zu is not text", where, col, r + 1);
            else
                olive_strbuf_printf(&b, "%s%s", c ? " " : "", json_string_value(v));
        }
    }
    if (*rc != OLIVE_OK) {
        olive_strbuf_free(&b);
        return NULL;
    }
    return olive_strbuf_take(&b);
}

static int get_size(size_t *out, const json_t *params, const char *key, const char *where, size_t min)
{
    const json_t *v = json_object_get(params, key);
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min)
        return olive_fail(OLIVE_EINVALID, "%s.%s: expected an integer >= %zu", where, key, min);
    *out = (size_t)json_integer_value(v);
    return OLIVE_OK;
}

static int get_flag(int *out, const json_t *params, const char *key, const char *where)
{
    const json_t *v = json_object_get(params, key);
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_boolean(v))
        return olive_fail(OLIVE_EINVALID, "%s.%s: expected true or false", where, key);
    *out = json_is_true(v);
    return OLIVE_OK;
}

int wf_pre_text_generation(wf_dataset *d, const json_t *rows, const json_t *params, const char *where)
{
    wf_textgen_params p = {
        .join = 1, .max_seq_len = 1024, .max_samples = -1, .batch_texts = 1024, .pad_to_max_len = 1, .pad_id = -1};
    const char *strategy = "join", *joiner = "\n\n", *tmpl = NULL;
    const json_t *cols = json_object_get(params, "text_cols"), *v;
    json_t *col_list = NULL;
    int add_special = 1, use_mask = 1, rc = OLIVE_OK;
    size_t max_samples = 0, n_texts = 0;
    wf_tokenizer *tok = NULL;
    wf_encoding *texts = NULL, jenc = {0};
    wf_windows w = {0};
    if (!json_is_string(json_object_get(params, "model_name")))
        return olive_fail(OLIVE_EINVALID, "%s.model_name: missing (the tokenizer's folder or Hub name)", where);
    for (const char *const *k = (const char *const[]){"chat_template", "text_formatting_func", "user_script", NULL}; *k;
         k++)
        if ((v = json_object_get(params, *k)) && !json_is_null(v) && !json_is_false(v))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s.%s: not supported; use text_cols or text_template", where, *k);
    if ((v = json_object_get(params, "strategy")) && !json_is_null(v)) {
        strategy = json_string_value(v);
        if (!strategy ||
            (strcmp(strategy, "join") && strcmp(strategy, "join-sliding-window") && strcmp(strategy, "line-by-line")))
            return olive_fail(strategy && strstr(strategy, "random") ? OLIVE_EUNSUPPORTED : OLIVE_EINVALID,
                              "%s.strategy: expected join, join-sliding-window or line-by-line%s", where,
                              strategy && strstr(strategy, "random") ? " (the random strategies are not supported)"
                                                                     : "");
    }
    p.join = strncmp(strategy, "join", 4) == 0;
    p.sliding = !strcmp(strategy, "join-sliding-window");
    OLIVE_TRY(get_size(&p.max_seq_len, params, "max_seq_len", where, 1));
    OLIVE_TRY(get_size(&p.stride, params, "stride", where, 1));
    OLIVE_TRY(get_size(&p.batch_texts, params, "processing_batch_size", where, 1));
    if ((v = json_object_get(params, "max_samples")) && !json_is_null(v)) {
        OLIVE_TRY(get_size(&max_samples, params, "max_samples", where, 0));
        p.max_samples = (long long)max_samples;
    }
    OLIVE_TRY(get_flag(&add_special, params, "add_special_tokens", where));
    OLIVE_TRY(get_flag(&use_mask, params, "use_attention_mask", where));
    OLIVE_TRY(get_flag(&p.pad_to_max_len, params, "pad_to_max_len", where));
    OLIVE_TRY(get_flag(&p.drop_short, params, "drop_short_sequences", where));
    if (p.sliding && !p.stride)
        return olive_fail(OLIVE_EINVALID, "%s.stride: required by the join-sliding-window strategy", where);
    if (p.sliding && p.stride > p.max_seq_len)
        return olive_fail(OLIVE_EINVALID, "%s.stride: %zu is larger than max_seq_len %zu", where, p.stride,
                          p.max_seq_len);
    if (p.pad_to_max_len && p.drop_short)
        return olive_fail(OLIVE_EINVALID, "%s: pad_to_max_len and drop_short_sequences cannot both be true", where);
    if ((v = json_object_get(params, "padding_side")) && !json_is_null(v)) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "left") && strcmp(json_string_value(v), "right")))
            return olive_fail(OLIVE_EINVALID, "%s.padding_side: expected left or right", where);
        p.pad_left = !strcmp(json_string_value(v), "left");
    }
    if ((v = json_object_get(params, "joiner")))
        joiner = json_is_string(v) ? json_string_value(v) : NULL;
    if ((v = json_object_get(params, "text_template")) && !json_is_null(v))
        tmpl = json_string_value(v);
    if (!cols || json_is_null(cols))
        cols = col_list = json_pack("[s]", "text");
    else if (json_is_string(cols))
        cols = col_list = json_pack("[O]", cols);
    if (!json_is_array(cols)) {
        json_decref(col_list);
        return olive_fail(OLIVE_EINVALID, "%s.text_cols: expected a column name or a list of them", where);
    }
    if ((rc = wf_tokenizer_open(&tok, json_string_value(json_object_get(params, "model_name")), where)) != OLIVE_OK) {
        json_decref(col_list);
        return rc;
    }
    p.pad_id = wf_tokenizer_pad_id(tok);
    if (!(texts = olive_calloc(json_array_size(rows) + 1, sizeof *texts)))
        rc = OLIVE_ENOMEM;
    for (size_t r = 0; r < json_array_size(rows) && rc == OLIVE_OK; r++) {
        char *text = row_text(json_array_get(rows, r), cols, tmpl, r, where, &rc), *full;
        if (!text)
            break;
        /* Python formats a missing bos/eos token as "None". */
        full = add_special ? olive_asprintf("%s %s %s", wf_tokenizer_bos(tok) ? wf_tokenizer_bos(tok) : "None", text,
                                            wf_tokenizer_eos(tok) ? wf_tokenizer_eos(tok) : "None")
                           : olive_strdup(text);
        free(text);
        if (!full) {
            rc = OLIVE_ENOMEM;
            break;
        }
        if (*full)
            rc = wf_tokenizer_encode(&texts[n_texts++], tok, full, NULL, 0, p.join ? 0 : p.max_seq_len);
        free(full);
    }
    if (rc == OLIVE_OK && joiner && *joiner && p.join)
        rc = wf_tokenizer_encode(&jenc, tok, joiner, NULL, 0, 0);
    if (rc == OLIVE_OK)
        rc = wf_text_windows(&w, texts, n_texts, &jenc, &p);
    if (rc == OLIVE_OK && !w.n)
        rc = olive_fail(OLIVE_EINVALID,
                        "%s: the text makes no window of max_seq_len %zu tokens (a join strategy needs "
                        "more than max_seq_len tokens)",
                        where, p.max_seq_len);
    for (size_t s = 0; s < w.n && rc == OLIVE_OK; s += d->batch_size) {
        size_t rows_in = w.n - s < d->batch_size ? w.n - s : d->batch_size;
        int64_t shape[2] = {(int64_t)rows_in, (int64_t)w.len};
        olive_tensor *ids = NULL, *mask = NULL, *lab = NULL;
        wf_batch bt = {0};
        if ((rc = olive_tensor_new(&ids, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK ||
            (rc = olive_tensor_new(&mask, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK ||
            (rc = olive_tensor_new(&lab, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK) {
            olive_tensor_free(ids), olive_tensor_free(mask), olive_tensor_free(lab);
            break;
        }
        memcpy(olive_tensor_data(ids), w.ids + s * w.len, rows_in * w.len * sizeof(int64_t));
        memcpy(olive_tensor_data(mask), w.mask + s * w.len, rows_in * w.len * sizeof(int64_t));
        memcpy(olive_tensor_data(lab), w.labels + s * w.len, rows_in * w.len * sizeof(int64_t));
        bt.labels = lab;
        if ((rc = wf_batch_add(&bt, "input_ids", ids)) != OLIVE_OK) {
            olive_tensor_free(mask);
            wf_batch_clear(&bt);
            break;
        }
        if (use_mask)
            rc = wf_batch_add(&bt, "attention_mask", mask);
        else
            olive_tensor_free(mask);
        if (rc == OLIVE_OK)
            rc = wf_dataset_push(d, &bt);
        else
            wf_batch_clear(&bt);
    }
    d->text_generation = 1;
    if (d->post == WF_POST_NONE)
        d->post = WF_POST_LOGITS;
    wf_windows_free(&w);
    for (size_t i = 0; i < n_texts; i++) {
        free(texts[i].ids);
        free(texts[i].type_ids);
    }
    free(texts);
    free(jenc.ids);
    free(jenc.type_ids);
    wf_tokenizer_free(tok);
    json_decref(col_list);
    return rc;
}
