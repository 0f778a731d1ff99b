/* huggingface_pre_process: the text columns tokenized (one text, or a pair), padded and
 * truncated as transformers' tokenizer(..., padding, truncation, max_length) does, with the
 * label column as the labels. Rows are tokenized in groups of 1000, as datasets.map batches
 * them, so padding=True pads to the longest row of each group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/data/dataset.h"

#define MAP_BATCH 1000

typedef struct cls_params {
    const json_t *input_cols;
    const char *label_col;
    long long max_samples; /* -1: all */
    long long max_length;  /* 0: none given */
    int pad_longest, pad_max_length, truncate, add_special;
} cls_params;

static int read_params(cls_params *p, const json_t *params, const char *where)
{
    const json_t *v;
    memset(p, 0, sizeof *p);
    p->label_col = "label";
    p->max_samples = -1;
    p->pad_longest = 1;
    p->truncate = 1;
    p->add_special = 1;
    if (!json_is_string(json_object_get(params, "model_name")))
        return olive_fail(OLIVE_EINVALID, "%s.model_name: missing (the tokenizer's folder or Hub name)", where);
    p->input_cols = json_object_get(params, "input_cols");
    if (json_is_string(p->input_cols) || !json_is_array(p->input_cols) || !json_array_size(p->input_cols) ||
        json_array_size(p->input_cols) > 2)
        return olive_fail(OLIVE_EINVALID, "%s.input_cols: expected a list of one or two text columns", where);
    if ((v = json_object_get(params, "label_col")) && !json_is_null(v)) {
        if (!json_is_string(v))
            return olive_fail(OLIVE_EINVALID, "%s.label_col: expected a column name", where);
        p->label_col = json_string_value(v);
    }
    if ((v = json_object_get(params, "max_samples")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return olive_fail(OLIVE_EINVALID, "%s.max_samples: expected an integer >= 0", where);
        p->max_samples = json_integer_value(v);
    }
    if ((v = json_object_get(params, "max_length")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return olive_fail(OLIVE_EINVALID, "%s.max_length: expected a positive integer", where);
        p->max_length = json_integer_value(v);
    }
    if ((v = json_object_get(params, "padding")) && !json_is_null(v)) {
        const char *s = json_string_value(v);
        p->pad_longest = json_is_true(v) || (s && !strcmp(s, "longest"));
        p->pad_max_length = s && !strcmp(s, "max_length");
        if (!json_is_boolean(v) &&
            !(s && (!strcmp(s, "longest") || !strcmp(s, "max_length") || !strcmp(s, "do_not_pad"))))
            return olive_fail(OLIVE_EINVALID,
                              "%s.padding: expected true, false, \"longest\", \"max_length\" or "
                              "\"do_not_pad\"",
                              where);
    }
    if ((v = json_object_get(params, "truncation")) && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (json_is_boolean(v))
            p->truncate = json_is_true(v);
        else if (s && (!strcmp(s, "longest_first")))
            p->truncate = 1;
        else if (s && !strcmp(s, "do_not_truncate"))
            p->truncate = 0;
        else
            return olive_fail(OLIVE_EUNSUPPORTED, "%s.truncation: expected true, false or \"longest_first\"", where);
    }
    if ((v = json_object_get(params, "add_special_tokens")) && !json_is_null(v))
        p->add_special = json_is_true(v);
    if ((v = json_object_get(params, "is_split_into_words")) && json_is_true(v))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.is_split_into_words: pre-split words are not supported", where);
    if ((v = json_object_get(params, "align_labels")) && json_is_true(v))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.align_labels: aligning labels with the model's label2id is not "
                          "supported; write the label ids in the data",
                          where);
    if (p->pad_max_length && !p->max_length)
        return olive_fail(OLIVE_EINVALID, "%s.padding: \"max_length\" needs max_length", where);
    return OLIVE_OK;
}

static const char *text_cell(const json_t *row, const char *col, size_t r, const char *where, int *rc)
{
    const json_t *v = json_object_get(row, col);
    if (!v) {
        *rc = olive_fail(OLIVE_EINVALID, "%s.input_cols: row %zu has no column '%s'", where, r + 1, col);
        return NULL;
    }
    if (!json_is_string(v)) {
        *rc = olive_fail(OLIVE_EFORMAT, "%s: column '%s' of row %zu is not text", where, col, r + 1);
        return NULL;
    }
    return json_string_value(v);
}

/* Tokenizes rows [begin, end), pads them to one length and cuts them into batches. */
static int map_group(wf_dataset *d, wf_tokenizer *tok, const json_t *rows, size_t begin, size_t end,
                     const cls_params *p, size_t max_len, const char *where)
{
    size_t n = end - begin, width = 0;
    wf_encoding *enc = olive_calloc(n, sizeof *enc);
    int64_t *labels = olive_calloc(n, sizeof *labels), pad = wf_tokenizer_pad_id(tok);
    int rc = enc && labels ? OLIVE_OK : OLIVE_ENOMEM;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        const json_t *row = json_array_get(rows, begin + i), *label;
        const char *a = text_cell(row, json_string_value(json_array_get(p->input_cols, 0)), begin + i, where, &rc),
                   *b = NULL;
        if (rc == OLIVE_OK && json_array_size(p->input_cols) == 2)
            b = text_cell(row, json_string_value(json_array_get(p->input_cols, 1)), begin + i, where, &rc);
        if (rc != OLIVE_OK)
            break;
        label = json_object_get(row, p->label_col);
        if (!label) {
            rc = olive_fail(OLIVE_EINVALID, "%s.label_col: row %zu has no column '%s'", where, begin + i + 1,
                            p->label_col);
            break;
        }
        if (json_is_boolean(label))
            labels[i] = json_is_true(label);
        else if (json_is_integer(label))
            labels[i] = json_integer_value(label);
        else {
            rc = olive_fail(OLIVE_EFORMAT, "%s: label '%s' of row %zu is not an integer class id", where, p->label_col,
                            begin + i + 1);
            break;
        }
        if ((rc = wf_tokenizer_encode(&enc[i], tok, a, b, p->add_special, p->truncate ? max_len : 0)) != OLIVE_OK)
            break;
        width = enc[i].n > width ? enc[i].n : width;
    }
    if (rc == OLIVE_OK && p->pad_max_length)
        width = width > max_len ? width : max_len;
    for (size_t i = 0; i < n && rc == OLIVE_OK && (p->pad_longest || p->pad_max_length); i++)
        if (enc[i].n < width && pad < 0)
            rc = olive_fail(OLIVE_EINVALID,
                            "%s.padding: the tokenizer has no pad token to pad with; set padding to "
                            "false and batch_size to 1",
                            where);
    for (size_t i = 0; i < n && rc == OLIVE_OK && !(p->pad_longest || p->pad_max_length); i++)
        if (enc[i].n != enc[0].n && d->batch_size > 1)
            rc = olive_fail(OLIVE_EINVALID,
                            "%s.padding: rows of different lengths cannot be batched without "
                            "padding",
                            where);
    /* Batches of batch_size rows (the last may be shorter). */
    for (size_t s = 0; s < n && rc == OLIVE_OK; s += d->batch_size) {
        size_t rows_in = n - s < d->batch_size ? n - s : d->batch_size;
        size_t w = (p->pad_longest || p->pad_max_length) ? width : enc[s].n;
        olive_tensor *ids = NULL, *mask = NULL, *types = NULL, *lab = NULL;
        wf_batch bt = {0};
        int64_t shape[2] = {(int64_t)rows_in, (int64_t)w};
        if ((rc = olive_tensor_new(&ids, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK ||
            (rc = olive_tensor_new(&mask, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK ||
            (rc = olive_tensor_new(&types, OLIVE_DTYPE_INT64, shape, 2)) != OLIVE_OK ||
            (rc = olive_tensor_new(&lab, OLIVE_DTYPE_INT64, shape, 1)) != OLIVE_OK) {
            olive_tensor_free(ids), olive_tensor_free(mask), olive_tensor_free(types), olive_tensor_free(lab);
            break;
        }
        for (size_t r = 0; r < rows_in; r++) {
            const wf_encoding *e = &enc[s + r];
            int64_t *pi = (int64_t *)olive_tensor_data(ids) + r * w, *pm = (int64_t *)olive_tensor_data(mask) + r * w,
                    *pt = (int64_t *)olive_tensor_data(types) + r * w;
            for (size_t j = 0; j < w; j++) {
                int real = j < e->n;
                pi[j] = real ? e->ids[j] : pad;
                pm[j] = real;
                pt[j] = real && e->type_ids ? e->type_ids[j] : 0;
            }
            ((int64_t *)olive_tensor_data(lab))[r] = labels[s + r];
        }
        bt.labels = lab;
        if ((rc = wf_batch_add(&bt, "input_ids", ids)) == OLIVE_OK &&
            (rc = wf_batch_add(&bt, "attention_mask", mask)) == OLIVE_OK &&
            (rc = wf_batch_add(&bt, "token_type_ids", types)) == OLIVE_OK)
            rc = wf_dataset_push(d, &bt);
        else
            wf_batch_clear(&bt);
    }
    for (size_t i = 0; enc && i < n; i++) {
        free(enc[i].ids);
        free(enc[i].type_ids);
    }
    free(enc);
    free(labels);
    return rc;
}

int wf_pre_text_classification(wf_dataset *d, const json_t *rows, const json_t *params, const char *where)
{
    cls_params p;
    wf_tokenizer *tok = NULL;
    size_t n = json_array_size(rows), max_len;
    int rc;
    OLIVE_TRY(read_params(&p, params, where));
    if (p.max_samples >= 0 && (size_t)p.max_samples < n)
        n = (size_t)p.max_samples;
    if (!n)
        return olive_fail(OLIVE_EINVALID, "%s: the dataset has no rows", where);
    OLIVE_TRY(wf_tokenizer_open(&tok, json_string_value(json_object_get(params, "model_name")), where));
    /* truncation with no max_length: the tokenizer's model_max_length. */
    max_len = p.max_length ? (size_t)p.max_length : (size_t)wf_tokenizer_model_max_length(tok);
    rc = OLIVE_OK;
    for (size_t g = 0; g < n && rc == OLIVE_OK; g += MAP_BATCH)
        rc = map_group(d, tok, rows, g, g + MAP_BATCH < n ? g + MAP_BATCH : n, &p, max_len, where);
    wf_tokenizer_free(tok);
    return rc;
}
