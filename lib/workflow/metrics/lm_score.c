/* lm-eval's loglikelihood scoring through ONNX Runtime (lm_score.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/half.h"
#include "core/status.h"
#include "workflow/metrics/lm_score.h"

struct wf_lm {
    olive_session *session;
    olive_tokenizer *tok;
    int32_t prefix_id; /* lm-eval's prefix token: bos, else eos */
    long max_length;
    size_t logits_index;
    char *path;
};

static json_t *load_json(const char *dir, const char *name)
{
    char *p = olive_path_join(dir, name);
    /* model_max_length is often 1e30 written as an integer, too big for jansson integers */
    json_t *doc = p ? json_load_file(p, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(p);
    return doc;
}

static const char *token_text(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
}

void wf_lm_free(wf_lm *m)
{
    if (!m)
        return;
    olive_session_free(m->session);
    olive_tokenizer_free(m->tok);
    free(m->path);
    free(m);
}

int wf_lm_open(wf_lm **out, const char *model_path, const olive_accelerator *acc, const char *session_options,
               long max_length, wf_lm_prefix prefix)
{
    wf_lm *m = olive_calloc(1, sizeof *m);
    char *dir = olive_path_dirname(model_path);
    json_t *cfg = NULL, *gc = NULL;
    const char *bos, *eos;
    int rc = m && dir ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !(m->path = olive_strdup(model_path)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && (rc = olive_session_new_from_path(&m->session, model_path, acc, session_options)) != OLIVE_OK)
        olive_fail_context(rc, "creating a session for '%s'", model_path);
    if (rc == OLIVE_OK && (rc = olive_tokenizer_load(&m->tok, dir)) != OLIVE_OK)
        olive_fail_context(rc, "'%s': lm-eval tasks need the decoder's tokenizer.json beside the model", model_path);
    if (rc == OLIVE_OK) {
        cfg = load_json(dir, "tokenizer_config.json");
        gc = load_json(dir, "genai_config.json");
        bos = token_text(json_object_get(cfg, "bos_token"));
        eos = token_text(json_object_get(cfg, "eos_token"));
        m->prefix_id = -1;
        if (prefix == WF_LM_PREFIX_EOS)
            bos = NULL;
        if ((bos || eos) && olive_tokenizer_token_to_id(&m->prefix_id, m->tok, bos ? bos : eos) != OLIVE_OK)
            m->prefix_id = -1;
        olive_error_clear();
        if (m->prefix_id < 0) {
            /* genai_config.json's bos/eos ids */
            const json_t *mc = json_object_get(gc, "model"),
                         *id = json_object_get(mc, prefix == WF_LM_PREFIX_EOS ? "eos_token_id" : "bos_token_id");
            if (!json_is_number(id) && !json_is_array(id))
                id = json_object_get(mc, "eos_token_id");
            if (json_is_array(id))
                id = json_array_get(id, 0);
            m->prefix_id = json_is_number(id) ? (int32_t)json_number_value(id) : 0;
        }
        m->max_length = max_length;
        if (m->max_length <= 0) {
            const json_t *cl = json_object_get(json_object_get(gc, "model"), "context_length");
            m->max_length = json_is_number(cl) && json_number_value(cl) >= 1 ? (long)json_number_value(cl) : 2048;
        }
        for (size_t i = 0; i < olive_session_output_count(m->session); i++)
            if (!strcmp(olive_session_output_name(m->session, i), "logits"))
                m->logits_index = i;
    }
    json_decref(cfg);
    json_decref(gc);
    free(dir);
    if (rc != OLIVE_OK) {
        wf_lm_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}

static double logit_at(const olive_tensor *t, size_t at)
{
    switch (olive_tensor_dtype(t)) {
    case OLIVE_DTYPE_FLOAT16: return olive_half_to_float(((const uint16_t *)olive_tensor_data(t))[at]);
    case OLIVE_DTYPE_BFLOAT16: return olive_bfloat16_to_float(((const uint16_t *)olive_tensor_data(t))[at]);
    case OLIVE_DTYPE_DOUBLE: return ((const double *)olive_tensor_data(t))[at];
    default: return ((const float *)olive_tensor_data(t))[at];
    }
}

/* The inputs of one run over ids[0..n): the tokens, a mask of ones, positions 0..n-1, empty
 * past key/values. */
static int make_feeds(olive_tensor **feeds, const char **names, wf_lm *m, const int32_t *ids, size_t n)
{
    size_t n_in = olive_session_input_count(m->session);
    for (size_t i = 0; i < n_in; i++) {
        const char *name = olive_session_input_name(m->session, i);
        olive_dtype dt = olive_session_input_dtype(m->session, i);
        size_t rank = olive_session_input_rank(m->session, i);
        int64_t shape[8];
        names[i] = name;
        if (!strcmp(name, "input_ids") || !strcmp(name, "attention_mask") || !strcmp(name, "position_ids")) {
            shape[0] = 1, shape[1] = (int64_t)n;
            if (dt != OLIVE_DTYPE_INT32 && dt != OLIVE_DTYPE_INT64)
                return olive_fail(OLIVE_EUNSUPPORTED, "'%s': input '%s' is not int32 or int64", m->path, name);
            OLIVE_TRY(olive_tensor_new(&feeds[i], dt, shape, 2));
            for (size_t j = 0; j < n; j++) {
                int64_t v = !strcmp(name, "input_ids") ? ids[j] : !strcmp(name, "attention_mask") ? 1 : (int64_t)j;
                if (dt == OLIVE_DTYPE_INT32)
                    ((int32_t *)olive_tensor_data(feeds[i]))[j] = (int32_t)v;
                else
                    ((int64_t *)olive_tensor_data(feeds[i]))[j] = v;
            }
        } else if ((!strncmp(name, "past_key", 8) || !strncmp(name, "past_value", 10)) && rank <= 8) {
            /* batch 1, the model's fixed dims, no past positions */
            for (size_t d = 0; d < rank; d++) {
                int64_t v = olive_session_input_dim(m->session, i, d);
                shape[d] = v >= 0 ? v : d == 0 ? 1 : 0;
            }
            OLIVE_TRY(olive_tensor_new(&feeds[i], dt, shape, rank));
        } else {
            return olive_fail(OLIVE_EUNSUPPORTED, "'%s': the model's input '%s' is not one a decoder run can feed",
                              m->path, name);
        }
    }
    return OLIVE_OK;
}

/* Log-likelihood of cont after ctx over the last max_length + 1 tokens (the final one only
 * predicted). */
static int score_tokens(double *ll, int *greedy, wf_lm *m, const int32_t *ctx, size_t n_ctx, const int32_t *cont,
                        size_t n_cont)
{
    size_t total = n_ctx + n_cont, start, n, n_in = olive_session_input_count(m->session);
    const char **names = olive_calloc(n_in + 1, sizeof *names),
               *lname = olive_session_output_name(m->session, m->logits_index);
    olive_tensor **feeds = olive_calloc(n_in + 1, sizeof *feeds), *out = NULL;
    int32_t *ids = olive_calloc(total + 1, sizeof *ids);
    int rc = names && feeds && ids ? OLIVE_OK : OLIVE_ENOMEM;
    start = total > (size_t)m->max_length + 1 ? total - (size_t)m->max_length - 1 : 0;
    n = total - start - 1;
    if (rc == OLIVE_OK && n_cont > n)
        rc = olive_fail(OLIVE_EINVALID, "a continuation of %zu tokens does not fit max_length %ld", n_cont,
                        m->max_length);
    if (rc == OLIVE_OK) {
        memcpy(ids, ctx, n_ctx * sizeof *ids);
        memcpy(ids + n_ctx, cont, n_cont * sizeof *ids);
        rc = make_feeds(feeds, names, m, ids + start, n);
    }
    if (rc == OLIVE_OK && (rc = olive_session_run(&out, m->session, names, (const olive_tensor *const *)feeds, n_in,
                                                  &lname, 1)) != OLIVE_OK)
        olive_fail_context(rc, "running '%s'", m->path);
    if (rc == OLIVE_OK && (olive_tensor_rank(out) != 3 || olive_tensor_dim(out, 1) != (int64_t)n))
        rc = olive_fail(OLIVE_EFORMAT, "'%s': output '%s' is not [1, %zu, vocab] logits", m->path, lname, n);
    if (rc == OLIVE_OK) {
        size_t vocab = (size_t)olive_tensor_dim(out, 2);
        double sum = 0;
        int all = 1;
        for (size_t k = 0; k < n_cont && rc == OLIVE_OK; k++) {
            size_t pos = n - n_cont + k, arg = 0;
            double mx = -INFINITY, s = 0, target = 0;
            for (size_t v = 0; v < vocab; v++) {
                double x = logit_at(out, pos * vocab + v);
                if (!isfinite(x))
                    rc = olive_fail(OLIVE_EFORMAT, "'%s': the logits have NaN or Inf", m->path);
                if (x > mx)
                    mx = x, arg = v;
            }
            for (size_t v = 0; v < vocab; v++) {
                double x = logit_at(out, pos * vocab + v);
                s += exp(x - mx);
                if (v == (size_t)cont[k])
                    target = x;
            }
            sum += target - mx - log(s);
            all &= arg == (size_t)cont[k];
        }
        *ll = sum;
        if (greedy)
            *greedy = all;
    }
    olive_tensor_free(out);
    for (size_t i = 0; feeds && i < n_in; i++)
        olive_tensor_free(feeds[i]);
    free(feeds);
    free(names);
    free(ids);
    return rc;
}

int wf_lm_loglikelihood_ids(double *ll, int *greedy, wf_lm *m, const int32_t *ctx, size_t n_ctx, const int32_t *cont,
                            size_t n_cont)
{
    if (!n_ctx || !n_cont)
        return olive_fail(OLIVE_EINVALID, "a request needs context and continuation tokens");
    return score_tokens(ll, greedy, m, ctx, n_ctx, cont, n_cont);
}

static int encode(int32_t **ids, size_t *n, wf_lm *m, const char *text, size_t len)
{
    *ids = NULL;
    *n = 0;
    if (!len)
        return OLIVE_OK;
    return olive_tokenizer_encode(ids, n, m->tok, text, len, NULL, 0, 0);
}

int wf_lm_loglikelihood(double *ll, int *greedy, wf_lm *m, const char *context, const char *continuation)
{
    size_t cl = strlen(context), spaces = 0, n_whole = 0, n_ctx = 0;
    int32_t *whole_ids = NULL, *ctx_ids = NULL;
    olive_strbuf whole = {0};
    char *text;
    int rc;
    /* trailing whitespace of the context belongs to the continuation (lm-eval's _encode_pair) */
    while (spaces < cl && strchr(" \t\n\r\v\f", context[cl - 1 - spaces]))
        spaces++;
    olive_strbuf_append(&whole, context);
    olive_strbuf_append(&whole, continuation);
    if (!(text = olive_strbuf_take(&whole)))
        return OLIVE_ENOMEM;
    if ((rc = encode(&whole_ids, &n_whole, m, text, strlen(text))) == OLIVE_OK &&
        (rc = encode(&ctx_ids, &n_ctx, m, context, cl - spaces)) == OLIVE_OK) {
        if (n_whole <= n_ctx)
            rc = olive_fail(OLIVE_EINVALID, "the continuation '%s' has no tokens after its context", continuation);
        else if (!cl || !n_ctx) /* the prefix token alone */
            rc = score_tokens(ll, greedy, m, &m->prefix_id, 1, whole_ids, n_whole);
        else
            rc = score_tokens(ll, greedy, m, ctx_ids, n_ctx, whole_ids + n_ctx, n_whole - n_ctx);
    }
    olive_free(whole_ids);
    olive_free(ctx_ids);
    free(text);
    return rc;
}

int wf_lm_rolling(wf_lm_rolling_result *out, wf_lm *m, const char *text, size_t len)
{
    static const char ws[] = " \t\n\r\f\v\x1c\x1d\x1e\x1f";
    size_t n = 0, words = 1, L = (size_t)m->max_length;
    int32_t *ids = NULL;
    double total = 0, ll = 0;
    int rc;
    /* Python's len(re.split(r"\s+", text)): one more than the runs of whitespace */
    for (size_t i = 0; i < len;) {
        if (text[i] && strchr(ws, text[i])) {
            words++;
            while (i < len && text[i] && strchr(ws, text[i]))
                i++;
        } else {
            i++;
        }
    }
    if ((rc = encode(&ids, &n, m, text, len)) != OLIVE_OK)
        return rc;
    if (!n) {
        olive_free(ids);
        return olive_fail(OLIVE_EINVALID, "the text has no tokens");
    }
    {
        /* first window: [prefix] + tokens[:first-1] predicting tokens[:first] */
        size_t first = n < L ? n : L, predicted = first;
        rc = score_tokens(&ll, NULL, m, &m->prefix_id, 1, ids, first);
        total += ll;
        while (rc == OLIVE_OK && predicted < n) {
            size_t pred = n - predicted < L ? n - predicted : L, end = predicted + pred;
            /* context: tokens[end - max_length - 1 : end - pred] (one token, more for a shorter
             * last window) */
            rc = score_tokens(&ll, NULL, m, ids + end - L - 1, L - pred + 1, ids + end - pred, pred);
            total += ll;
            predicted += pred;
        }
    }
    olive_free(ids);
    if (rc != OLIVE_OK)
        return rc;
    out->loglikelihood = total;
    out->tokens = n;
    out->words = words;
    out->bytes = len;
    out->word_perplexity = exp(-total / (double)words);
    out->byte_perplexity = exp(-total / (double)len);
    out->bits_per_byte = -total / (double)len / log(2.0);
    return OLIVE_OK;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void mean_stderr(double *mean, double *se, const double *v, size_t n)
{
    double mu = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        mu += v[i];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - mu) * (v[i] - mu);
    *mean = mu;
    *se = n > 1 ? sqrt(s / (double)(n - 1)) / sqrt((double)n) : NAN;
}

int wf_lm_score(wf_lm_result *out, wf_lm *m, wf_lm_output output, const wf_lm_doc *docs, size_t n, wf_lm_tick_fn tick,
                void *user)
{
    double *acc = olive_calloc(n + 1, sizeof *acc), *acc_norm = olive_calloc(n + 1, sizeof *acc_norm), total_ll = 0;
    int rc = acc && acc_norm ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !n)
        rc = olive_fail(OLIVE_EINVALID, "no documents to score");
    for (size_t d = 0; d < n && rc == OLIVE_OK; d++) {
        double best = -INFINITY, best_norm = -INFINITY;
        size_t arg = 0, arg_norm = 0;
        for (size_t r = 0; r < docs[d].n && rc == OLIVE_OK; r++) {
            double ll = 0;
            int greedy = 0;
            if ((rc = wf_lm_loglikelihood(&ll, &greedy, m, docs[d].contexts[r], docs[d].continuations[r])) !=
                OLIVE_OK) {
                olive_fail_context(rc, "document %zu, request %zu", d, r);
                break;
            }
            if (output == WF_LM_LOGLIKELIHOOD) {
                total_ll += ll;
                acc[d] = greedy;
            } else {
                double norm = ll / (double)(utf8_chars(docs[d].choices[r]) ? utf8_chars(docs[d].choices[r]) : 1);
                if (ll > best)
                    best = ll, arg = r;
                if (norm > best_norm)
                    best_norm = norm, arg_norm = r;
            }
        }
        if (rc == OLIVE_OK && output == WF_LM_MULTIPLE_CHOICE) {
            acc[d] = arg == docs[d].gold;
            acc_norm[d] = arg_norm == docs[d].gold;
        }
        if (rc == OLIVE_OK && tick && tick(d + 1, n, user))
            rc = OLIVE_ECANCELLED;
    }
    if (rc == OLIVE_OK) {
        memset(out, 0, sizeof *out);
        out->n = n;
        mean_stderr(&out->acc, &out->acc_stderr, acc, n);
        mean_stderr(&out->acc_norm, &out->acc_norm_stderr, acc_norm, n);
        out->perplexity = exp(-total_ll / (double)n);
    }
    free(acc);
    free(acc_norm);
    return rc;
}
