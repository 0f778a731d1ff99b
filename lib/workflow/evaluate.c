/* Measuring a model file with an evaluator: a session per metric, the metric's data fed batch by
 * batch (inputs matched to the model by name and cast to its types, as Olive's format_data
 * does; a decoder's position_ids and empty past key/values added), outputs post-processed and
 * handed to the metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/data/dataset.h"
#include "workflow/evaluator.h"
#include "workflow/metrics/latency.h"
#include "workflow/metrics/lm_score.h"
#include "workflow/metrics/lm_tasks.h"
#include "workflow/metrics/perplexity.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- feeding a batch ---- */

static double get_as_double(const olive_tensor *t, uint64_t i)
{
    const void *d = olive_tensor_data(t);
    switch (olive_tensor_dtype(t)) {
    case OLIVE_DTYPE_FLOAT32: return ((const float *)d)[i];
    case OLIVE_DTYPE_DOUBLE: return ((const double *)d)[i];
    case OLIVE_DTYPE_FLOAT16: return olive_half_to_float(((const uint16_t *)d)[i]);
    case OLIVE_DTYPE_BFLOAT16: return olive_bfloat16_to_float(((const uint16_t *)d)[i]);
    case OLIVE_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case OLIVE_DTYPE_INT32: return ((const int32_t *)d)[i];
    case OLIVE_DTYPE_INT16: return ((const int16_t *)d)[i];
    case OLIVE_DTYPE_INT8: return ((const int8_t *)d)[i];
    case OLIVE_DTYPE_UINT8:
    case OLIVE_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case OLIVE_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case OLIVE_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case OLIVE_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    default: return 0;
    }
}

static int64_t get_as_int(const olive_tensor *t, uint64_t i)
{
    if (olive_tensor_dtype(t) == OLIVE_DTYPE_INT64)
        return ((const int64_t *)olive_tensor_data(t))[i];
    return (int64_t)get_as_double(t, i); /* truncation, as torch.tensor(..., dtype=int) */
}

static void set_from_double(olive_tensor *t, uint64_t i, double v)
{
    void *d = olive_tensor_data(t);
    switch (olive_tensor_dtype(t)) {
    case OLIVE_DTYPE_FLOAT32: ((float *)d)[i] = (float)v; break;
    case OLIVE_DTYPE_DOUBLE: ((double *)d)[i] = v; break;
    case OLIVE_DTYPE_FLOAT16: ((uint16_t *)d)[i] = olive_float_to_half((float)v); break;
    case OLIVE_DTYPE_BFLOAT16: ((uint16_t *)d)[i] = olive_float_to_bfloat16((float)v); break;
    case OLIVE_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)v; break;
    case OLIVE_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)v; break;
    case OLIVE_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)v; break;
    case OLIVE_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case OLIVE_DTYPE_BOOL: ((uint8_t *)d)[i] = v != 0; break;
    case OLIVE_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; break;
    case OLIVE_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; break;
    case OLIVE_DTYPE_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; break;
    default: break;
    }
}

/* A copy of t in dtype `to` (the model's type for the input). */
static int cast_tensor(olive_tensor **out, const olive_tensor *t, olive_dtype to)
{
    int64_t shape[32];
    size_t rank = olive_tensor_rank(t);
    olive_tensor *c;
    for (size_t i = 0; i < rank; i++)
        shape[i] = olive_tensor_dim(t, i);
    OLIVE_TRY(olive_tensor_new(&c, to, shape, rank));
    for (uint64_t i = 0; i < olive_tensor_element_count(t); i++) {
        if (to == OLIVE_DTYPE_INT64)
            ((int64_t *)olive_tensor_data(c))[i] = get_as_int(t, i);
        else
            set_from_double(c, i, get_as_double(t, i));
    }
    *out = c;
    return OLIVE_OK;
}

static const olive_tensor *batch_input(const wf_batch *b, const char *name, size_t position)
{
    for (size_t i = 0; i < b->n_inputs; i++)
        if (!strcmp(b->names[i], name))
            return b->inputs[i];
    /* Unnamed data (DummyDataContainer without input_names) is fed in the model's order. */
    if (position < b->n_inputs && !b->names[position][0])
        return b->inputs[position];
    return NULL;
}

typedef struct feed {
    size_t n;
    const char **names;
    const olive_tensor **tensors;
    olive_tensor **owned; /* made here: casts, position ids, empty past */
} feed;

static void feed_clear(feed *f)
{
    for (size_t i = 0; i < f->n; i++)
        olive_tensor_free(f->owned[i]);
    free(f->names);
    free(f->tensors);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

static int is_past(const char *name)
{
    return !strncmp(name, "past_key_values.", 16) || !strncmp(name, "past_key_", 9) ||
           !strncmp(name, "past_value_", 11);
}

static int make_feed(feed *f, olive_session *s, const wf_batch *b, const char *where)
{
    size_t n = olive_session_input_count(s);
    const olive_tensor *ids = batch_input(b, "input_ids", (size_t)-1),
                       *mask = batch_input(b, "attention_mask", (size_t)-1);
    int64_t batch = ids ? olive_tensor_dim(ids, 0) : 1,
            seq = ids && olive_tensor_rank(ids) > 1 ? olive_tensor_dim(ids, 1) : 1;
    memset(f, 0, sizeof *f);
    if (!(f->names = olive_calloc(n + 1, sizeof *f->names)) ||
        !(f->tensors = olive_calloc(n + 1, sizeof *f->tensors)) ||
        !(f->owned = olive_calloc(n + 1, sizeof *f->owned))) {
        feed_clear(f);
        return OLIVE_ENOMEM;
    }
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *name = olive_session_input_name(s, i);
        olive_dtype want = olive_session_input_dtype(s, i);
        const olive_tensor *t = batch_input(b, name, i);
        int rc = OLIVE_OK;
        f->names[i] = name;
        if (t && olive_tensor_dtype(t) != want && want != OLIVE_DTYPE_UNDEFINED) {
            rc = cast_tensor(&f->owned[i], t, want);
            t = f->owned[i];
        } else if (!t && !strcmp(name, "position_ids") && ids) {
            /* attention_mask.cumsum(-1) - 1 over the current tokens (no past here) */
            int64_t shape[2] = {batch, seq};
            if ((rc = olive_tensor_new(&f->owned[i], want ? want : OLIVE_DTYPE_INT64, shape, 2)) == OLIVE_OK) {
                for (int64_t r = 0; r < batch; r++) {
                    int64_t c = 0;
                    for (int64_t j = 0; j < seq; j++) {
                        c += mask ? get_as_int(mask, (uint64_t)(r * seq + j)) : 1;
                        set_from_double(f->owned[i], (uint64_t)(r * seq + j), (double)(c - 1));
                    }
                }
            }
            t = f->owned[i];
        } else if (!t && is_past(name)) {
            /* An empty cache: batch, the model's fixed dims, 0 past positions. */
            int64_t shape[32];
            size_t rank = olive_session_input_rank(s, i);
            for (size_t d = 0; d < rank && rc == OLIVE_OK; d++) {
                const char *dn = olive_session_input_dim_name(s, i, d);
                int64_t v = olive_session_input_dim(s, i, d);
                shape[d] = v >= 0 ? v : d == 0 ? batch : (dn && strstr(dn, "past")) || d == 2 ? 0 : -1;
                if (shape[d] < 0)
                    rc = olive_fail(OLIVE_EINVALID, "%s: cannot size dim %zu ('%s') of the model's input '%s'", where,
                                    d, dn ? dn : "", name);
            }
            if (rc == OLIVE_OK)
                rc = olive_tensor_new(&f->owned[i], want, shape, rank);
            t = f->owned[i];
        } else if (!t) {
            olive_strbuf have = {0};
            olive_strbuf_append(&have, "");
            for (size_t k = 0; k < b->n_inputs; k++)
                olive_strbuf_printf(&have, "%s%s", k ? ", " : "", b->names[k][0] ? b->names[k] : "(unnamed)");
            rc = olive_fail(OLIVE_EINVALID, "%s: the model's input '%s' is not in the data (it has: %s)", where, name,
                            have.data);
            olive_strbuf_free(&have);
        }
        if (rc != OLIVE_OK) {
            feed_clear(f);
            return rc;
        }
        f->tensors[i] = t;
    }
    return OLIVE_OK;
}

/* ---- running ---- */

typedef struct progress {
    const wf_eval_ctx *ctx;
    const char *metric;
    uint64_t done, total;
    double start;
} progress;

static int tick(progress *p, uint64_t add)
{
    double el, rate;
    p->done += add;
    if (p->ctx && p->ctx->cancelled && atomic_load(p->ctx->cancelled))
        return olive_fail(OLIVE_ECANCELLED, "evaluation of '%s' cancelled", p->metric);
    if (!p->ctx || !p->ctx->progress)
        return OLIVE_OK;
    el = now_s() - p->start;
    rate = el > 0 ? (double)p->done / el : 0;
    if (p->ctx->progress(p->metric, p->done, p->total, rate, rate > 0 ? (double)(p->total - p->done) / rate : 0,
                         p->ctx->progress_user)) {
        if (p->ctx->cancelled)
            atomic_store(p->ctx->cancelled, 1);
        return olive_fail(OLIVE_ECANCELLED, "evaluation of '%s' cancelled by the progress callback", p->metric);
    }
    return OLIVE_OK;
}

/* The output the post-processing reads: the named one; "logits" for text generation and for
 * classification (Olive takes a classifier output's .logits), else the first. */
static int output_index(size_t *out, olive_session *s, const wf_dataset *d, const char *where)
{
    size_t n = olive_session_output_count(s);
    const char *want = d->post_output                                           ? d->post_output
                       : d->post == WF_POST_LOGITS || d->post == WF_POST_ARGMAX ? "logits"
                                                                                : NULL;
    *out = 0;
    if (!want)
        return OLIVE_OK;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(olive_session_output_name(s, i), want)) {
            *out = i;
            return OLIVE_OK;
        }
    if (d->post_output)
        return olive_fail(OLIVE_ENOTFOUND, "%s: the model has no output '%s'", where, want);
    return OLIVE_OK; /* no "logits": the first output */
}

typedef struct outputs {
    int64_t *preds; /* post-processed, as integers */
    float *logits;
    int64_t *targets;
    size_t rows, pred_width, logit_width, target_width, cap_rows;
} outputs;

static void outputs_free(outputs *o)
{
    free(o->preds);
    free(o->logits);
    free(o->targets);
    memset(o, 0, sizeof *o);
}

static int check_finite(const olive_tensor *t, const char *name, const char *where)
{
    olive_dtype dt = olive_tensor_dtype(t);
    if (dt != OLIVE_DTYPE_FLOAT32 && dt != OLIVE_DTYPE_FLOAT16 && dt != OLIVE_DTYPE_DOUBLE &&
        dt != OLIVE_DTYPE_BFLOAT16)
        return OLIVE_OK;
    for (uint64_t i = 0; i < olive_tensor_element_count(t); i++)
        if (!isfinite(get_as_double(t, i)))
            return olive_fail(OLIVE_EFORMAT,
                              "%s: the model's output '%s' has NaN or Inf (element %llu): the metric "
                              "is invalid",
                              where, name, (unsigned long long)i);
    return OLIVE_OK;
}

/* Appends one batch's outputs: preds (argmax over dim 1, or the values), raw values, labels. */
static int collect(outputs *o, const olive_tensor *out, const olive_tensor *labels, wf_post_kind post,
                   const char *where)
{
    size_t rank = olive_tensor_rank(out);
    int64_t rows = rank ? olive_tensor_dim(out, 0) : 1;
    size_t width = rows ? (size_t)(olive_tensor_element_count(out) / (uint64_t)rows) : 0, pw, tw;
    size_t lrows = labels ? (size_t)(olive_tensor_rank(labels) ? olive_tensor_dim(labels, 0) : 1) : 0;
    if (post == WF_POST_ARGMAX && rank < 2)
        return olive_fail(OLIVE_EINVALID, "%s: text_classification_post_process needs an output of rank 2 or more",
                          where);
    pw = post == WF_POST_ARGMAX ? width / (size_t)olive_tensor_dim(out, 1) : width;
    tw = lrows ? (size_t)(olive_tensor_element_count(labels) / lrows) : 1;
    if (!labels || lrows != (size_t)rows)
        return olive_fail(OLIVE_EINVALID, "%s: the output has %lld rows and the labels %zu", where, (long long)rows,
                          lrows);
    if (o->rows && (pw != o->pred_width || width != o->logit_width || tw != o->target_width))
        return olive_fail(OLIVE_EINVALID, "%s: batches have outputs or labels of different widths", where);
    o->pred_width = pw, o->logit_width = width, o->target_width = tw;
    if (o->rows + (size_t)rows > o->cap_rows) {
        size_t nc = (o->rows + (size_t)rows) * 2;
        int64_t *p = olive_reallocarray(o->preds, nc * pw + 1, sizeof *p), *t;
        float *l;
        if (!p)
            return OLIVE_ENOMEM;
        o->preds = p;
        if (!(l = olive_reallocarray(o->logits, nc * width + 1, sizeof *l)))
            return OLIVE_ENOMEM;
        o->logits = l;
        if (!(t = olive_reallocarray(o->targets, nc * tw + 1, sizeof *t)))
            return OLIVE_ENOMEM;
        o->targets = t;
        o->cap_rows = nc;
    }
    for (int64_t r = 0; r < rows; r++) {
        size_t base = (size_t)r * width;
        for (size_t j = 0; j < width; j++)
            o->logits[(o->rows + (size_t)r) * width + j] = (float)get_as_double(out, base + j);
        if (post == WF_POST_ARGMAX) {
            size_t c = (size_t)olive_tensor_dim(out, 1), inner = pw;
            for (size_t q = 0; q < inner; q++) {
                size_t best = 0;
                double bv = get_as_double(out, base + q);
                for (size_t k = 1; k < c; k++) {
                    double v = get_as_double(out, base + k * inner + q);
                    if (v > bv)
                        bv = v, best = k;
                }
                o->preds[(o->rows + (size_t)r) * pw + q] = (int64_t)best;
            }
        } else {
            for (size_t j = 0; j < width; j++)
                o->preds[(o->rows + (size_t)r) * pw + j] = get_as_int(out, base + j);
        }
        for (size_t j = 0; j < tw; j++)
            o->targets[(o->rows + (size_t)r) * tw + j] = get_as_int(labels, (size_t)r * tw + j);
    }
    o->rows += (size_t)rows;
    return OLIVE_OK;
}

static uint64_t dataset_rows(const wf_dataset *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->n_batches; i++)
        n += d->batches[i].n_inputs ? (uint64_t)olive_tensor_dim(d->batches[i].inputs[0], 0) : 1;
    return n ? n : 1;
}

/* Runs every batch; for text generation the perplexity of each window is accumulated instead
 * of the outputs being kept. */
static int infer(outputs *o, wf_perplexity *ppl, olive_session *s, const wf_dataset *d, const char *metric,
                 const wf_eval_ctx *ctx, const char *where)
{
    size_t oi;
    const char *oname;
    progress p = {ctx, metric, 0, dataset_rows(d), now_s()};
    OLIVE_TRY(output_index(&oi, s, d, where));
    oname = olive_session_output_name(s, oi);
    for (size_t bi = 0; bi < d->n_batches; bi++) {
        const wf_batch *b = &d->batches[bi];
        feed f;
        olive_tensor *out = NULL;
        int rc;
        OLIVE_TRY(make_feed(&f, s, b, where));
        rc = olive_session_run(&out, s, f.names, f.tensors, f.n, &oname, 1);
        feed_clear(&f);
        if (rc != OLIVE_OK) {
            olive_fail_context(rc, "%s: running batch %zu", where, bi);
            return rc;
        }
        if ((rc = check_finite(out, oname, where)) == OLIVE_OK) {
            if (ppl) {
                int64_t rows = olive_tensor_dim(out, 0), t = olive_tensor_rank(out) == 3 ? olive_tensor_dim(out, 1) : 0;
                size_t vocab = t ? (size_t)olive_tensor_dim(out, 2) : 0;
                float *row = t ? olive_malloc((size_t)t * vocab * sizeof *row) : NULL;
                if (!t || !b->labels || olive_tensor_element_count(b->labels) != (uint64_t)(rows * t))
                    rc = olive_fail(OLIVE_EINVALID,
                                    "%s: perplexity needs [batch, tokens, vocab] logits and [batch, "
                                    "tokens] labels",
                                    where);
                else if (!row)
                    rc = OLIVE_ENOMEM;
                for (int64_t r = 0; r < rows && rc == OLIVE_OK; r++) {
                    for (size_t k = 0; k < (size_t)t * vocab; k++)
                        row[k] = (float)get_as_double(out, (uint64_t)r * (uint64_t)t * vocab + k);
                    rc = wf_perplexity_add(ppl, row, (const int64_t *)olive_tensor_data(b->labels) + r * t, (size_t)t,
                                           vocab);
                }
                free(row);
            } else {
                rc = collect(o, out, b->labels, d->post, where);
            }
        }
        if (rc == OLIVE_OK)
            rc = tick(&p, (uint64_t)olive_tensor_dim(out, 0));
        olive_tensor_free(out);
        if (rc != OLIVE_OK)
            return rc;
    }
    return OLIVE_OK;
}

static int measure_latency(double **secs, olive_session *s, const wf_metric *m, const wf_dataset *d,
                           const wf_eval_ctx *ctx, const char *where)
{
    feed f;
    size_t n_out = olive_session_output_count(s);
    olive_tensor **outs = olive_calloc(n_out + 1, sizeof *outs);
    double *t = olive_calloc((size_t)m->repeat_test_num + 1, sizeof *t);
    progress p = {ctx, m->name, 0, (uint64_t)(m->warmup_num + m->repeat_test_num), now_s()};
    int rc = OLIVE_OK;
    if (!outs || !t) {
        free(outs);
        free(t);
        return OLIVE_ENOMEM;
    }
    if (!d->n_batches) {
        free(outs);
        free(t);
        return olive_fail(OLIVE_EINVALID, "%s: the data config has no batch to time", where);
    }
    if ((rc = make_feed(&f, s, &d->batches[0], where)) != OLIVE_OK) {
        free(outs);
        free(t);
        return rc;
    }
    for (int i = 0; i < m->warmup_num + m->repeat_test_num && rc == OLIVE_OK; i++) {
        double t0 = now_s();
        rc = olive_session_run(outs, s, f.names, f.tensors, f.n, NULL, n_out);
        if (rc == OLIVE_OK && i >= m->warmup_num)
            t[i - m->warmup_num] = now_s() - t0;
        for (size_t k = 0; rc == OLIVE_OK && k < n_out; k++) {
            olive_tensor_free(outs[k]);
            outs[k] = NULL;
        }
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: timed run %d", where, i);
        if (rc == OLIVE_OK && m->sleep_num > 0) {
            struct timespec ts = {(time_t)m->sleep_num, (long)((m->sleep_num - floor(m->sleep_num)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (rc == OLIVE_OK)
            rc = tick(&p, 1);
    }
    feed_clear(&f);
    free(outs);
    if (rc != OLIVE_OK) {
        free(t);
        return rc;
    }
    *secs = t;
    return OLIVE_OK;
}

/* Latency data when the metric has none: ones of the model's shapes, which must be fixed. */
static int dummy_from_model(wf_dataset **out, olive_session *s, const char *where)
{
    json_t *shapes = json_array(), *names = json_array(), *types = json_array(), *cfg;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < olive_session_input_count(s) && rc == OLIVE_OK; i++) {
        json_t *shape = json_array();
        for (size_t d = 0; d < olive_session_input_rank(s, i); d++) {
            int64_t v = olive_session_input_dim(s, i, d);
            if (v < 0)
                rc = olive_fail(OLIVE_EINVALID,
                                "%s: no data_config, and the model's input '%s' has a dim that is not "
                                "fixed ('%s'); give the metric a data_config (a DummyDataContainer "
                                "with input_shapes, say)",
                                where, olive_session_input_name(s, i), olive_session_input_dim_name(s, i, d));
            json_array_append_new(shape, json_integer(v));
        }
        json_array_append_new(shapes, shape);
        json_array_append_new(names, json_string(olive_session_input_name(s, i)));
        json_array_append_new(types, json_string(olive_dtype_name(olive_session_input_dtype(s, i))
                                                     ? olive_dtype_name(olive_session_input_dtype(s, i))
                                                     : "float32"));
    }
    cfg = json_pack("{s:s, s:{s:o, s:o, s:o, s:i}}", "type", "DummyDataContainer", "load_dataset_config",
                    "input_shapes", shapes, "input_names", names, "input_types", types, "max_samples", 1);
    if (rc == OLIVE_OK)
        rc = cfg ? wf_dataset_build(out, cfg, where) : OLIVE_ENOMEM;
    json_decref(cfg);
    return rc;
}

static json_t *sub_result(const wf_sub_metric *sub, json_t *value)
{
    return json_pack("{s:o, s:i, s:b}", "value", value, "priority", sub->priority, "higher_is_better",
                     sub->higher_is_better);
}

static int make_tensor(olive_tensor **out, olive_dtype dt, const void *data, size_t rows, size_t width)
{
    int64_t shape[2] = {(int64_t)rows, (int64_t)width};
    OLIVE_TRY(olive_tensor_new(out, dt, shape, width > 1 ? 2 : 1));
    memcpy(olive_tensor_data(*out), data, olive_tensor_byte_size(*out));
    return OLIVE_OK;
}

static int accuracy_values(json_t *res, const wf_metric *m, const outputs *o, const wf_perplexity *ppl,
                           const char *where)
{
    for (size_t j = 0; j < m->n_subs; j++) {
        const wf_sub_metric *sub = &m->subs[j];
        double v[1024];
        size_t nv = 0;
        char key[512], w[400];
        int rc;
        snprintf(w, sizeof w, "%s.sub_types[%zu] (%s)", where, j, sub->name);
        if (!strcmp(sub->name, "perplexity")) {
            if (!ppl)
                return olive_fail(OLIVE_EINVALID,
                                  "%s: perplexity needs text generation data (a "
                                  "text_generation_huggingface_pre_process data config)",
                                  w);
            rc = wf_perplexity_value(&v[0], ppl);
            nv = 1;
        } else if (!o) {
            return olive_fail(OLIVE_EINVALID, "%s: needs labelled classification data, not text generation windows", w);
        } else if (m->hf_backend) {
            if (o->pred_width != 1 || o->target_width != 1)
                return olive_fail(OLIVE_EINVALID, "%s: huggingface_metrics needs one prediction and one label per row",
                                  w);
            rc = wf_hf_metric(&v[0], sub->name, json_object_get(sub->metric_config, "compute_params"), o->preds,
                              o->targets, o->rows, w);
            nv = 1;
        } else if (!strcmp(sub->name, "auroc")) {
            rc = wf_auroc(v, 1024, &nv, &sub->cls, o->logits, o->rows, o->logit_width, o->targets, o->target_width);
        } else {
            wf_cls_kind k = !strcmp(sub->name, "accuracy_score") ? WF_CLS_ACCURACY
                            : !strcmp(sub->name, "f1_score")     ? WF_CLS_F1
                            : !strcmp(sub->name, "precision")    ? WF_CLS_PRECISION
                                                                 : WF_CLS_RECALL;
            rc = wf_cls_metric(v, 1024, &nv, k, &sub->cls, o->preds, o->targets, o->rows, o->pred_width);
        }
        if (rc != OLIVE_OK) {
            olive_fail_context(rc, "%s", w);
            return rc;
        }
        if (nv != 1)
            return olive_fail(OLIVE_EINVALID,
                              "%s: average none gives %zu values; a metric result is one number "
                              "(Olive calls .item())",
                              w, nv);
        snprintf(key, sizeof key, "%s-%s", m->name, sub->name);
        json_object_set_new(res, key, sub_result(sub, json_real(v[0])));
    }
    return OLIVE_OK;
}

static int lm_tick(size_t done, size_t total, void *user)
{
    progress *p = user;
    p->total = total;
    return tick(p, (uint64_t)done - p->done) != OLIVE_OK;
}

/* An lm-eval task of LMEvaluator: its documents from the Hub, scored on the decoder. */
static int eval_lm_task(json_t *res, const wf_metric *m, const char *model_path, const wf_eval_ctx *ctx,
                        const char *where)
{
    const wf_lm_task *t = m->lm_task;
    wf_lm_doc *docs = NULL;
    size_t n = 0;
    wf_lm *lm = NULL;
    wf_lm_result r;
    progress p = {ctx, m->name, 0, 0, now_s()};
    int rc = wf_lm_task_docs(&docs, &n, t, m->lm_limit, where);
    if (rc == OLIVE_OK && (rc = wf_lm_open(&lm, model_path, ctx ? ctx->acc : NULL, m->session_options, m->lm_max_length,
                                           WF_LM_PREFIX_EOS)) != OLIVE_OK)
        olive_fail_context(rc, "%s", where);
    if (rc == OLIVE_OK && (rc = wf_lm_score(&r, lm, t->output, docs, n, lm_tick, &p)) != OLIVE_OK) {
        if (rc == OLIVE_ECANCELLED && !olive_error_last()[0])
            olive_fail(rc, "evaluation of '%s' cancelled", m->name);
        else
            olive_fail_context(rc, "%s: task '%s'", where, t->name);
    }
    for (size_t j = 0; rc == OLIVE_OK && j < m->n_subs; j++) {
        char key[512];
        const char *s = m->subs[j].name;
        double v = !strcmp(s, "acc") ? r.acc : !strcmp(s, "acc_norm") ? r.acc_norm : r.perplexity;
        snprintf(key, sizeof key, "%s-%s", m->name, s);
        json_object_set_new(res, key, sub_result(&m->subs[j], json_real(v)));
    }
    wf_lm_free(lm);
    wf_lm_docs_free(docs, n);
    return rc;
}

/* A metric that needs a session the accelerator's provider cannot give: each sub-type is
 * recorded with no value, marked not measured, with the reason (nothing claims a number). */
static int record_unmeasured(json_t *res, const wf_metric *m, const char *reason)
{
    for (size_t j = 0; j < m->n_subs; j++) {
        char key[512];
        json_t *r = sub_result(&m->subs[j], json_null());
        snprintf(key, sizeof key, "%s-%s", m->name, m->subs[j].name);
        if (!r || json_object_set_new(r, "measured", json_false()) ||
            json_object_set_new(r, "reason", json_string(reason)) || json_object_set_new(res, key, r))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    return OLIVE_OK;
}

static int eval_metric(json_t *res, const wf_metric *m, const char *model_path, uint64_t size, const wf_eval_ctx *ctx,
                       const char *where)
{
    olive_session *s = NULL;
    wf_dataset *d = NULL;
    outputs o = {0};
    wf_perplexity ppl;
    double *secs = NULL;
    char key[512];
    int rc = OLIVE_OK;
    if (m->type == WF_METRIC_SIZE_ON_DISK) {
        for (size_t j = 0; j < m->n_subs; j++) {
            snprintf(key, sizeof key, "%s-%s", m->name, m->subs[j].name);
            json_object_set_new(res, key, sub_result(&m->subs[j], json_integer((json_int_t)size)));
        }
        return OLIVE_OK;
    }
    if (ctx && ctx->unmeasured)
        return record_unmeasured(res, m, ctx->unmeasured);
    if (m->type == WF_METRIC_LM_TASK)
        return eval_lm_task(res, m, model_path, ctx, where);
    if (m->data_config && (rc = wf_dataset_build(&d, m->data_config, where)) != OLIVE_OK)
        return rc;
    if ((rc = olive_session_new_from_path(&s, model_path, ctx ? ctx->acc : NULL, m->session_options)) != OLIVE_OK) {
        olive_fail_context(rc, "%s: creating a session for '%s'", where, model_path);
        goto out;
    }
    if (!d && (m->type == WF_METRIC_LATENCY || m->type == WF_METRIC_THROUGHPUT) &&
        (rc = dummy_from_model(&d, s, where)) != OLIVE_OK)
        goto out;
    switch (m->type) {
    case WF_METRIC_ACCURACY: {
        int wants_ppl = d->text_generation;
        wf_perplexity_init(&ppl, 1, WF_IGNORE_INDEX);
        for (size_t j = 0; j < m->n_subs; j++)
            if (!strcmp(m->subs[j].name, "perplexity"))
                wf_perplexity_init(&ppl, m->subs[j].cls.has_ignore_index, m->subs[j].cls.ignore_index);
        if ((rc = infer(&o, wants_ppl ? &ppl : NULL, s, d, m->name, ctx, where)) == OLIVE_OK)
            rc = accuracy_values(res, m, wants_ppl ? NULL : &o, wants_ppl ? &ppl : NULL, where);
        break;
    }
    case WF_METRIC_LATENCY:
    case WF_METRIC_THROUGHPUT:
        if ((rc = measure_latency(&secs, s, m, d, ctx, where)) != OLIVE_OK)
            break;
        for (size_t j = 0; j < m->n_subs && rc == OLIVE_OK; j++) {
            double v;
            /* Olive's throughput: the data config's batch_size (1 when it has none). */
            double bs = d->batch_size ? (double)d->batch_size : 1.0;
            rc = m->type == WF_METRIC_LATENCY
                     ? wf_latency_value(&v, m->subs[j].name, secs, (size_t)m->repeat_test_num)
                     : wf_throughput_value(&v, m->subs[j].name, secs, (size_t)m->repeat_test_num, bs);
            snprintf(key, sizeof key, "%s-%s", m->name, m->subs[j].name);
            if (rc == OLIVE_OK)
                json_object_set_new(res, key, sub_result(&m->subs[j], json_real(v)));
        }
        break;
    case WF_METRIC_CUSTOM: {
        wf_custom_fn fn;
        void *user;
        olive_tensor *tp = NULL, *tl = NULL, *tt = NULL;
        if ((rc = wf_custom_lookup(&fn, &user, m->custom_func)) != OLIVE_OK) {
            olive_fail_context(rc, "%s", where);
            break;
        }
        if (d && (rc = infer(&o, NULL, s, d, m->name, ctx, where)) == OLIVE_OK && o.rows &&
            (rc = make_tensor(&tp, OLIVE_DTYPE_INT64, o.preds, o.rows, o.pred_width)) == OLIVE_OK &&
            (rc = make_tensor(&tl, OLIVE_DTYPE_FLOAT32, o.logits, o.rows, o.logit_width)) == OLIVE_OK)
            rc = make_tensor(&tt, OLIVE_DTYPE_INT64, o.targets, o.rows, o.target_width);
        for (size_t j = 0; j < m->n_subs && rc == OLIVE_OK; j++) {
            double v = NAN;
            rc = fn(&v, m->name, m->subs[j].name, model_path, tp, tl, tt, user);
            if (rc != OLIVE_OK)
                rc = olive_fail(rc < 0 ? rc : OLIVE_EINVALID, "%s: the custom metric function '%s' failed for '%s'%s%s",
                                where, m->custom_func, m->subs[j].name, olive_error_last()[0] ? ": " : "",
                                olive_error_last());
            else if (!isfinite(v))
                rc = olive_fail(OLIVE_EFORMAT, "%s: the custom metric function '%s' gave no finite value for '%s'",
                                where, m->custom_func, m->subs[j].name);
            snprintf(key, sizeof key, "%s-%s", m->name, m->subs[j].name);
            if (rc == OLIVE_OK)
                json_object_set_new(res, key, sub_result(&m->subs[j], json_real(v)));
        }
        olive_tensor_free(tp), olive_tensor_free(tl), olive_tensor_free(tt);
        break;
    }
    default: break;
    }
out:
    free(secs);
    outputs_free(&o);
    wf_dataset_free(d);
    olive_session_free(s);
    return rc;
}

int wf_evaluate(json_t **results, const wf_evaluator *e, const char *model_path, uint64_t size_on_disk,
                const wf_eval_ctx *ctx)
{
    json_t *res = json_object();
    if (!res)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < e->n_metrics; i++) {
        char where[300];
        int rc;
        snprintf(where, sizeof where, "metric '%s'", e->metrics[i].name);
        if ((rc = eval_metric(res, &e->metrics[i], model_path, size_on_disk, ctx, where)) != OLIVE_OK) {
            json_decref(res);
            return rc;
        }
    }
    *results = res;
    return OLIVE_OK;
}

char *wf_metrics_table(const json_t *results)
{
    olive_strbuf b = {0};
    const char *key;
    json_t *v;
    size_t w = 6;
    json_object_foreach((json_t *)results, key, v) w = strlen(key) > w ? strlen(key) : w;
    olive_strbuf_printf(&b, "%-*s  %s\n", (int)w, "metric", "value");
    json_object_foreach((json_t *)results, key, v)
    {
        json_t *val = json_is_object(v) ? json_object_get(v, "value") : v;
        if (json_is_null(val))
            olive_strbuf_printf(&b, "%-*s  not measured\n", (int)w, key);
        else if (json_is_integer(val))
            olive_strbuf_printf(&b, "%-*s  %lld\n", (int)w, key, (long long)json_integer_value(val));
        else
            olive_strbuf_printf(&b, "%-*s  %.6g\n", (int)w, key, json_number_value(val));
    }
    return olive_strbuf_take(&b);
}
