/* Metrics against the references tests/data/metrics/make_metric_refs.py recorded with
 * torchmetrics, scikit-learn and numpy on the same predictions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "core/status.h"
#include "workflow/metrics/classification.h"
#include "workflow/metrics/latency.h"
#include "workflow/metrics/perplexity.h"

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-6 + 1e-6 * fabs(b);
}

/* A JSON array of numbers (nested once at most) flattened; *width the inner length. */
static size_t flatten_i64(const json_t *a, int64_t **out, size_t *width)
{
    size_t n = json_array_size(a), w = json_is_array(json_array_get(a, 0)) ? json_array_size(json_array_get(a, 0)) : 1;
    int64_t *v = calloc(n * w + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++)
            v[i * w + j] = json_integer_value(w > 1 || json_is_array(json_array_get(a, i))
                                                  ? json_array_get(json_array_get(a, i), j)
                                                  : json_array_get(a, i));
    *out = v;
    *width = w;
    return n;
}

static size_t flatten_f32(const json_t *a, float **out, size_t *width)
{
    size_t n = json_array_size(a), w = json_is_array(json_array_get(a, 0)) ? json_array_size(json_array_get(a, 0)) : 1;
    float *v = calloc(n * w + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++)
            v[i * w + j] = (float)json_number_value(
                json_is_array(json_array_get(a, i)) ? json_array_get(json_array_get(a, i), j) : json_array_get(a, i));
    *out = v;
    *width = w;
    return n;
}

static void check_values(const double *got, size_t n_got, const json_t *expected, const char *what)
{
    if (json_is_array(expected)) {
        CHECK(n_got == json_array_size(expected));
        for (size_t i = 0; i < n_got && i < json_array_size(expected); i++)
            if (!close_to(got[i], json_number_value(json_array_get(expected, i)))) {
                fprintf(stderr, "%s[%zu]: %.9g, expected %.9g\n", what, i, got[i],
                        json_number_value(json_array_get(expected, i)));
                CHECK(0);
            }
    } else {
        CHECK(n_got == 1);
        if (!close_to(got[0], json_number_value(expected))) {
            fprintf(stderr, "%s: %.9g, expected %.9g\n", what, got[0], json_number_value(expected));
            CHECK(0);
        }
    }
}

static void run_case(const json_t *c, size_t index)
{
    const char *sub = json_string_value(json_object_get(c, "sub_type"));
    const char *backend = json_string_value(json_object_get(c, "backend"));
    double out[16];
    size_t n_out = 0, n, w, tw;
    char what[160];
    snprintf(what, sizeof what, "case %zu (%s %s)", index, backend ? backend : "", sub);
    if (backend && !strcmp(backend, "huggingface_metrics")) {
        int64_t *p, *t;
        n = flatten_i64(json_object_get(c, "preds"), &p, &w);
        flatten_i64(json_object_get(c, "target"), &t, &tw);
        CHECK_RC(wf_hf_metric(out, sub, json_object_get(c, "compute_params"), p, t, n, what), OLIVE_OK);
        check_values(out, 1, json_object_get(c, "expected"), what);
        free(p);
        free(t);
    } else if (backend && !strcmp(sub, "auroc")) {
        wf_cls_options o;
        float *s;
        int64_t *t;
        CHECK_RC(wf_cls_options_from_json(&o, json_object_get(c, "metric_config"), 1, what), OLIVE_OK);
        n = flatten_f32(json_object_get(c, "scores"), &s, &w);
        flatten_i64(json_object_get(c, "target"), &t, &tw);
        CHECK_RC(wf_auroc(out, 16, &n_out, &o, s, n, w, t, tw), OLIVE_OK);
        check_values(out, n_out, json_object_get(c, "expected"), what);
        free(s);
        free(t);
    } else if (backend) {
        static const char *const names[] = {"accuracy_score", "f1_score", "precision", "recall"};
        static const wf_cls_kind kinds[] = {WF_CLS_ACCURACY, WF_CLS_F1, WF_CLS_PRECISION, WF_CLS_RECALL};
        wf_cls_options o;
        int64_t *p, *t;
        int k = 0;
        while (strcmp(names[k], sub))
            k++;
        CHECK_RC(wf_cls_options_from_json(&o, json_object_get(c, "metric_config"), 0, what), OLIVE_OK);
        n = flatten_i64(json_object_get(c, "preds"), &p, &w);
        flatten_i64(json_object_get(c, "target"), &t, &tw);
        CHECK_RC(wf_cls_metric(out, 16, &n_out, kinds[k], &o, p, t, n, w), OLIVE_OK);
        check_values(out, n_out, json_object_get(c, "expected"), what);
        free(p);
        free(t);
    } else if (!strcmp(sub, "perplexity")) {
        const json_t *logits = json_object_get(c, "logits"), *labels = json_object_get(c, "labels");
        wf_perplexity ppl;
        wf_perplexity_init(&ppl, 1, WF_IGNORE_INDEX);
        for (size_t b = 0; b < json_array_size(logits); b++) {
            float *l;
            int64_t *y;
            size_t t = flatten_f32(json_array_get(logits, b), &l, &w);
            flatten_i64(json_array_get(labels, b), &y, &tw);
            CHECK_RC(wf_perplexity_add(&ppl, l, y, t, w), OLIVE_OK);
            free(l);
            free(y);
        }
        CHECK_RC(wf_perplexity_value(&out[0], &ppl), OLIVE_OK);
        /* torchmetrics sums float32 log-probabilities: 1e-5 relative. */
        CHECK(fabs(out[0] - json_number_value(json_object_get(c, "expected"))) <=
              1e-5 * json_number_value(json_object_get(c, "expected")));
    } else if (!strcmp(sub, "latency")) {
        const json_t *secs = json_object_get(c, "seconds");
        double *s = calloc(json_array_size(secs), sizeof *s);
        for (size_t i = 0; i < json_array_size(secs); i++)
            s[i] = json_number_value(json_array_get(secs, i));
        for (int i = 0; i < 9; i++) {
            const char *st = wf_latency_sub_types[i];
            CHECK_RC(wf_latency_value(&out[0], st, s, json_array_size(secs)), OLIVE_OK);
            /* Olive rounds to 5 decimals: the same digits. */
            CHECK(out[0] == json_number_value(json_object_get(json_object_get(c, "expected"), st)));
            CHECK_RC(wf_throughput_value(&out[1], st, s, json_array_size(secs), 4), OLIVE_OK);
            CHECK(out[1] == json_number_value(json_object_get(json_object_get(c, "throughput"), st)));
        }
        free(s);
    }
}

static void bad_input(void)
{
    wf_cls_options o;
    double out[4];
    size_t n_out;
    int64_t p[] = {0, 2, 1}, t[] = {0, 1, 1};
    json_t *cfg = json_pack("{s:s}", "task", "multiclass");
    CHECK_RC(wf_cls_options_from_json(&o, cfg, 0, "metrics[0].sub_types[0]"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("num_classes");
    json_decref(cfg);
    cfg = json_pack("{s:s, s:i}", "task", "multiclass", "num_classes", 2);
    CHECK_RC(wf_cls_options_from_json(&o, cfg, 0, "m"), OLIVE_OK);
    CHECK_RC(wf_cls_metric(out, 4, &n_out, WF_CLS_ACCURACY, &o, p, t, 3, 1), OLIVE_EINVALID);
    CHECK_ERROR_HAS("row 1");
    json_decref(cfg);
    cfg = json_pack("{s:s}", "average", "median");
    CHECK_RC(wf_cls_options_from_json(&o, cfg, 0, "m"), OLIVE_EINVALID);
    json_decref(cfg);
    cfg = json_pack("{s:i}", "no_such_key", 1);
    CHECK_RC(wf_cls_options_from_json(&o, cfg, 0, "m"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("no_such_key");
    json_decref(cfg);
    /* Every label ignored: no perplexity. */
    {
        float logits[6] = {0};
        int64_t labels[2] = {-100, -100};
        wf_perplexity ppl;
        wf_perplexity_init(&ppl, 1, -100);
        CHECK_RC(wf_perplexity_add(&ppl, logits, labels, 2, 3), OLIVE_OK);
        CHECK_RC(wf_perplexity_value(&out[0], &ppl), OLIVE_EINVALID);
        logits[0] = NAN;
        labels[1] = 1;
        CHECK_RC(wf_perplexity_add(&ppl, logits, labels, 2, 3), OLIVE_EFORMAT);
    }
    {
        double one = 0.25;
        CHECK_RC(wf_latency_value(&out[0], "p42", &one, 1), OLIVE_EINVALID);
        CHECK_RC(wf_latency_value(&out[0], "p999", &one, 1), OLIVE_OK);
        CHECK(out[0] == 250.0);
        CHECK_RC(wf_latency_value(&out[0], "avg", &one, 0), OLIVE_EINVALID);
    }
}

int main(int argc, char **argv)
{
    json_error_t err;
    json_t *root = argc > 1 ? json_load_file(argv[1], 0, &err) : NULL;
    const json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) > 60);
    for (size_t i = 0; i < json_array_size(cases); i++)
        run_case(json_array_get(cases, i), i);
    bad_input();
    json_decref(root);
    return check_summary("unit-metrics");
}
