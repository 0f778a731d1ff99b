/* Reading an evaluator's metrics in Olive's schema (olive/evaluator/metric.py), with Olive's
 * defaults: priority -1, higher_is_better true for accuracy and throughput, false for latency;
 * latency's warmup_num 10, repeat_test_num 20, sleep_num 0 from the first sub-type that has a
 * metric_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/evaluator.h"
#include "workflow/metrics/latency.h"
#include "workflow/metrics/lm_tasks.h"

static const char *const metric_keys[] = {"name", "type", "sub_types", "user_config", "data_config", "backend", NULL};
static const char *const sub_keys[] = {"name", "priority", "higher_is_better", "goal", "metric_config", NULL};
static const char *const goal_types[] = {"threshold",       "min-improvement",         "percent-min-improvement",
                                         "max-degradation", "percent-max-degradation", NULL};
static const char *const accuracy_subs[] = {"accuracy_score", "f1_score",   "precision", "recall",
                                            "auroc",          "perplexity", NULL};
static const char *const hf_subs[] = {"accuracy", "f1", "precision", "recall", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int check_keys(const json_t *obj, const char *const *known, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) if (!in_list(key, known)) return olive_fail(
        OLIVE_EINVALID, "%s: unknown key '%s'", where, key);
    return OLIVE_OK;
}

void wf_evaluator_clear(wf_evaluator *e)
{
    for (size_t i = 0; i < e->n_metrics; i++) {
        wf_metric *m = &e->metrics[i];
        for (size_t j = 0; j < m->n_subs; j++) {
            free(m->subs[j].name);
            free(m->subs[j].goal_type);
            json_decref(m->subs[j].metric_config);
        }
        free(m->subs);
        free(m->name);
        free(m->custom_func);
        free(m->session_options);
        json_decref(m->data_config);
    }
    free(e->metrics);
    memset(e, 0, sizeof *e);
}

int wf_evaluator_needs_runtime(const wf_evaluator *e)
{
    for (size_t i = 0; i < e->n_metrics; i++)
        if (e->metrics[i].type != WF_METRIC_SIZE_ON_DISK)
            return 1;
    return 0;
}

static int parse_goal(wf_sub_metric *s, const json_t *goal, const char *where)
{
    const json_t *type = json_object_get(goal, "type"), *value = json_object_get(goal, "value");
    if (!goal || json_is_null(goal))
        return OLIVE_OK;
    if (!json_is_object(goal) || !json_is_string(type) || !json_is_number(value))
        return olive_fail(OLIVE_EINVALID, "%s.goal: expected {\"type\": ..., \"value\": number}", where);
    if (!in_list(json_string_value(type), goal_types))
        return olive_fail(OLIVE_EINVALID,
                          "%s.goal.type: '%s' is not one of threshold, min-improvement, "
                          "percent-min-improvement, max-degradation, percent-max-degradation",
                          where, json_string_value(type));
    s->goal_value = json_number_value(value);
    if (strcmp(json_string_value(type), "threshold") && s->goal_value < 0)
        return olive_fail(OLIVE_EINVALID, "%s.goal.value: must be >= 0 for %s", where, json_string_value(type));
    /* Olive's ranges for percentages: a degradation of a higher-is-better metric below 100 %, ... */
    if (!strncmp(json_string_value(type), "percent-", 8)) {
        int improvement = strstr(json_string_value(type), "improvement") != NULL;
        int bounded = improvement != s->higher_is_better;
        if (!(s->goal_value > 0) || (bounded && !(s->goal_value < 100)))
            return olive_fail(OLIVE_EINVALID, "%s.goal.value: %g is outside (0, %s) for %s with higher_is_better %s",
                              where, s->goal_value, bounded ? "100" : "inf", json_string_value(type),
                              s->higher_is_better ? "true" : "false");
    }
    return (s->goal_type = olive_strdup(json_string_value(type))) ? OLIVE_OK : OLIVE_ENOMEM;
}

static int get_int_field(int *out, const json_t *obj, const char *key, const char *where, int min)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.%s: expected an integer >= %d", where, key, min);
    *out = (int)json_integer_value(v);
    return OLIVE_OK;
}

static int parse_sub(wf_metric *m, wf_sub_metric *s, const json_t *obj, int first_config, const char *where)
{
    const json_t *name = json_object_get(obj, "name"), *v;
    const char *n;
    if (json_is_string(obj))
        name = obj; /* a bare sub-type name */
    else {
        if (!json_is_object(obj))
            return olive_fail(OLIVE_EINVALID, "%s: expected {\"name\": ...}", where);
        OLIVE_TRY(check_keys(obj, sub_keys, where));
    }
    if (!json_is_string(name))
        return olive_fail(OLIVE_EINVALID, "%s.name: missing", where);
    n = json_string_value(name);
    if (!(s->name = olive_strdup(n)))
        return OLIVE_ENOMEM;
    s->priority = -1;
    s->higher_is_better = m->type == WF_METRIC_LATENCY        ? 0
                          : m->type == WF_METRIC_SIZE_ON_DISK ? 0
                          : m->type == WF_METRIC_CUSTOM       ? 0
                                                              : 1;
    if (m->type == WF_METRIC_ACCURACY && !strcmp(n, "perplexity"))
        s->higher_is_better = 1; /* Olive's default for every accuracy sub-type, perplexity included */
    if (json_is_object(obj)) {
        if ((v = json_object_get(obj, "priority")) && !json_is_null(v)) {
            if (!json_is_integer(v))
                return olive_fail(OLIVE_EINVALID, "%s.priority: expected an integer", where);
            s->priority = (int)json_integer_value(v);
        }
        if ((v = json_object_get(obj, "higher_is_better")) && !json_is_null(v)) {
            if (!json_is_boolean(v))
                return olive_fail(OLIVE_EINVALID, "%s.higher_is_better: expected true or false", where);
            s->higher_is_better = json_is_true(v);
        } else if (m->type == WF_METRIC_CUSTOM && s->priority != -1) {
            return olive_fail(OLIVE_EINVALID, "%s.higher_is_better: required for a ranked custom metric", where);
        }
        OLIVE_TRY(parse_goal(s, json_object_get(obj, "goal"), where));
        s->metric_config = json_incref(json_object_get(obj, "metric_config"));
        if (s->metric_config && !json_is_null(s->metric_config) && !json_is_object(s->metric_config))
            return olive_fail(OLIVE_EINVALID, "%s.metric_config: expected an object", where);
    }
    switch (m->type) {
    case WF_METRIC_ACCURACY:
        if (m->hf_backend) {
            if (!in_list(n, hf_subs))
                return olive_fail(OLIVE_EUNSUPPORTED,
                                  "%s.name: huggingface_metrics sub-type '%s' is not supported "
                                  "(accuracy, f1, precision, recall)",
                                  where, n);
        } else if (!in_list(n, accuracy_subs)) {
            return olive_fail(OLIVE_EINVALID,
                              "%s.name: '%s' is not an accuracy sub-type (accuracy_score, f1_score, "
                              "precision, recall, auroc, perplexity)",
                              where, n);
        } else if (strcmp(n, "perplexity")) {
            OLIVE_TRY(wf_cls_options_from_json(&s->cls, s->metric_config, !strcmp(n, "auroc"), where));
        } else {
            const json_t *ii = json_object_get(s->metric_config, "ignore_index");
            s->cls.has_ignore_index = !(ii && json_is_null(ii));
            s->cls.ignore_index = json_is_integer(ii) ? json_integer_value(ii) : WF_IGNORE_INDEX;
        }
        break;
    case WF_METRIC_LATENCY:
    case WF_METRIC_THROUGHPUT: {
        int known = 0;
        for (int i = 0; i < 9; i++)
            known |= !strcmp(n, wf_latency_sub_types[i]);
        if (!known)
            return olive_fail(OLIVE_EINVALID,
                              "%s.name: '%s' is not one of avg, max, min, p50, p75, p90, p95, p99, "
                              "p999",
                              where, n);
        if (first_config && s->metric_config && json_is_object(s->metric_config)) {
            const json_t *sl = json_object_get(s->metric_config, "sleep_num");
            OLIVE_TRY(get_int_field(&m->warmup_num, s->metric_config, "warmup_num", where, 0));
            OLIVE_TRY(get_int_field(&m->repeat_test_num, s->metric_config, "repeat_test_num", where, 1));
            if (sl && !json_is_null(sl)) {
                if (!json_is_number(sl) || json_number_value(sl) < 0)
                    return olive_fail(OLIVE_EINVALID, "%s.metric_config.sleep_num: expected a number of seconds >= 0",
                                      where);
                m->sleep_num = json_number_value(sl);
            }
        }
        break;
    }
    default: break;
    }
    return OLIVE_OK;
}

/* session options from user_config.inference_settings.onnx.session_options (Olive's names). */
static int session_options(wf_metric *m, const json_t *user_config, const char *where)
{
    const json_t *so = json_object_get(json_object_get(json_object_get(user_config, "inference_settings"), "onnx"),
                                       "session_options");
    static const char *const keys[] = {"intra_op_num_threads", "inter_op_num_threads", "execution_mode",
                                       "graph_optimization_level", NULL};
    olive_strbuf b = {0};
    const char *key;
    json_t *v;
    if (!json_is_object(so))
        return OLIVE_OK;
    olive_strbuf_append(&b, "");
    json_object_foreach((json_t *)so, key, v)
    {
        if (!in_list(key, keys)) {
            olive_strbuf_free(&b);
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.user_config.inference_settings.onnx.session_options.%s: not "
                              "supported (intra_op_num_threads, inter_op_num_threads, "
                              "execution_mode, graph_optimization_level)",
                              where, key);
        }
        if (json_is_integer(v) && !strcmp(key, "execution_mode"))
            olive_strbuf_printf(&b, "%s%s=%s", b.len ? " " : "", key,
                                json_integer_value(v) ? "parallel" : "sequential");
        else if (json_is_integer(v) && !strcmp(key, "graph_optimization_level")) {
            static const char *const levels[] = {"disable", "basic", "extended", "all"};
            json_int_t l = json_integer_value(v);
            olive_strbuf_printf(&b, "%s%s=%s", b.len ? " " : "", key, levels[l == 99 ? 3 : l < 0 || l > 2 ? 3 : l]);
        } else if (json_is_integer(v))
            olive_strbuf_printf(&b, "%s%s=%lld", b.len ? " " : "", key, (long long)json_integer_value(v));
        else if (json_is_string(v)) {
            /* ORT_SEQUENTIAL, ORT_ENABLE_ALL, ... as Olive's configs write them */
            const char *s = json_string_value(v);
            const char *mapped = !strcmp(s, "ORT_SEQUENTIAL")        ? "sequential"
                                 : !strcmp(s, "ORT_PARALLEL")        ? "parallel"
                                 : !strcmp(s, "ORT_DISABLE_ALL")     ? "disable"
                                 : !strcmp(s, "ORT_ENABLE_BASIC")    ? "basic"
                                 : !strcmp(s, "ORT_ENABLE_EXTENDED") ? "extended"
                                 : !strcmp(s, "ORT_ENABLE_ALL")      ? "all"
                                                                     : s;
            olive_strbuf_printf(&b, "%s%s=%s", b.len ? " " : "", key, mapped);
        }
    }
    m->session_options = olive_strbuf_take(&b);
    return m->session_options ? OLIVE_OK : OLIVE_ENOMEM;
}

static int parse_metric(wf_metric *m, const json_t *obj, const json_t *data_configs, const char *where)
{
    const json_t *type = json_object_get(obj, "type"), *subs = json_object_get(obj, "sub_types"), *dc, *uc, *backend;
    const char *t;
    char w[512];
    if (!json_is_object(obj))
        return olive_fail(OLIVE_EINVALID, "%s: expected a metric object", where);
    OLIVE_TRY(check_keys(obj, metric_keys, where));
    if (!json_is_string(json_object_get(obj, "name")))
        return olive_fail(OLIVE_EINVALID, "%s.name: missing", where);
    if (!(m->name = olive_strdup(json_string_value(json_object_get(obj, "name")))))
        return OLIVE_ENOMEM;
    if (!json_is_string(type))
        return olive_fail(OLIVE_EINVALID, "%s.type: expected accuracy, latency, throughput, custom or size_on_disk",
                          where);
    t = json_string_value(type);
    m->type = !strcmp(t, "accuracy")       ? WF_METRIC_ACCURACY
              : !strcmp(t, "latency")      ? WF_METRIC_LATENCY
              : !strcmp(t, "throughput")   ? WF_METRIC_THROUGHPUT
              : !strcmp(t, "custom")       ? WF_METRIC_CUSTOM
              : !strcmp(t, "size_on_disk") ? WF_METRIC_SIZE_ON_DISK
                                           : (wf_metric_type)-1;
    if ((int)m->type < 0)
        return olive_fail(OLIVE_EINVALID,
                          "%s.type: '%s' is not one of accuracy, latency, throughput, custom, "
                          "size_on_disk",
                          where, t);
    m->warmup_num = 10;
    m->repeat_test_num = 20;
    if ((backend = json_object_get(obj, "backend")) && !json_is_null(backend)) {
        if (!json_is_string(backend) || (strcmp(json_string_value(backend), "torch_metrics") &&
                                         strcmp(json_string_value(backend), "huggingface_metrics")))
            return olive_fail(OLIVE_EINVALID, "%s.backend: expected torch_metrics or huggingface_metrics", where);
        m->hf_backend = !strcmp(json_string_value(backend), "huggingface_metrics");
    }
    if (m->type == WF_METRIC_SIZE_ON_DISK && !subs) {
        /* size_on_disk needs no sub-type: one value under the metric's own name. */
        if (!(m->subs = olive_calloc(1, sizeof *m->subs)) || !(m->subs[0].name = olive_strdup("size_on_disk")))
            return OLIVE_ENOMEM;
        m->n_subs = 1;
        m->subs[0].priority = -1;
    } else {
        if (json_is_object(subs) || json_is_string(subs))
            subs = json_pack("[O]", subs);
        else
            json_incref((json_t *)subs);
        if (!json_is_array(subs) || !json_array_size(subs)) {
            json_decref((json_t *)subs);
            return olive_fail(OLIVE_EINVALID, "%s.sub_types: expected a list of sub-types", where);
        }
        if (!(m->subs = olive_calloc(json_array_size(subs), sizeof *m->subs))) {
            json_decref((json_t *)subs);
            return OLIVE_ENOMEM;
        }
        int have_config = 0;
        for (size_t j = 0; j < json_array_size(subs); j++) {
            const json_t *so = json_array_get(subs, j);
            int rc;
            snprintf(w, sizeof w, "%s.sub_types[%zu]", where, j);
            m->n_subs++;
            rc = parse_sub(m, &m->subs[j], so, !have_config, w);
            if (rc != OLIVE_OK) {
                json_decref((json_t *)subs);
                return rc;
            }
            have_config |= m->subs[j].metric_config && json_is_object(m->subs[j].metric_config);
            for (size_t k = 0; k < j; k++)
                if (!strcmp(m->subs[k].name, m->subs[j].name)) {
                    json_decref((json_t *)subs);
                    return olive_fail(OLIVE_EINVALID, "%s.name: sub-type '%s' is listed twice", w, m->subs[j].name);
                }
        }
        json_decref((json_t *)subs);
    }
    uc = json_object_get(obj, "user_config");
    if (uc && !json_is_null(uc) && !json_is_object(uc))
        return olive_fail(OLIVE_EINVALID, "%s.user_config: expected an object", where);
    if (json_is_object(uc)) {
        const json_t *f;
        if ((f = json_object_get(uc, "user_script")) && !json_is_null(f) && m->type != WF_METRIC_CUSTOM)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.user_config.user_script: Python scripts are not run; use a "
                              "data_config with the built-in components",
                              where);
        OLIVE_TRY(session_options(m, uc, where));
        if (m->type == WF_METRIC_CUSTOM) {
            f = json_object_get(uc, "evaluate_func");
            if (!json_is_string(f))
                f = json_object_get(uc, "metric_func");
            if (json_is_string(f) && !(m->custom_func = olive_strdup(json_string_value(f))))
                return OLIVE_ENOMEM;
        }
    }
    if (m->type == WF_METRIC_CUSTOM && !m->custom_func)
        return olive_fail(OLIVE_EINVALID,
                          "%s.user_config: a custom metric names its function in evaluate_func or "
                          "metric_func (registered with olive_metric_register)",
                          where);
    dc = json_object_get(obj, "data_config");
    if (json_is_string(dc)) {
        const json_t *found = NULL, *c;
        size_t i;
        json_array_foreach(data_configs, i, c) if (json_is_string(json_object_get(c, "name")) &&
                                                   !strcmp(json_string_value(json_object_get(c, "name")),
                                                           json_string_value(dc))) found = c;
        if (!found)
            return olive_fail(OLIVE_ENOTFOUND, "%s.data_config: no data config named '%s' in \"data_configs\"", where,
                              json_string_value(dc));
        m->data_config = json_incref((json_t *)found);
    } else if (json_is_object(dc)) {
        m->data_config = json_incref((json_t *)dc);
    } else if (dc && !json_is_null(dc)) {
        return olive_fail(OLIVE_EINVALID, "%s.data_config: expected the name of a data config or a data config", where);
    }
    if (m->type == WF_METRIC_ACCURACY && !m->data_config)
        return olive_fail(OLIVE_EINVALID, "%s.data_config: an accuracy metric needs data with labels", where);
    return OLIVE_OK;
}

/* Olive's LMEvaluator: lm-eval tasks by name (the workflow reader checks its keys). */
static int lm_metric(wf_metric *m, const char *task, long long limit, long max_length, const char *where)
{
    const wf_lm_task *t = wf_lm_task_find(task);
    int size = !strcmp(task, "size_on_disk");
    const char *subs[2];
    size_t n;
    if (!t && !size)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: lm-eval task '%s' is not one libolive knows (known: %s, size_on_disk)", where, task,
                          wf_lm_task_names());
    if (size)
        subs[0] = "bytes", n = 1;
    else if (t->output == WF_LM_LOGLIKELIHOOD)
        subs[0] = "acc", subs[1] = "perplexity", n = 2;
    else
        subs[0] = "acc", subs[1] = "acc_norm", n = t->acc_norm ? 2 : 1;
    if (!(m->name = olive_strdup(task)) || !(m->subs = olive_calloc(n, sizeof *m->subs)))
        return OLIVE_ENOMEM;
    m->type = size ? WF_METRIC_SIZE_ON_DISK : WF_METRIC_LM_TASK;
    m->lm_task = t;
    m->lm_limit = limit;
    m->lm_max_length = max_length;
    for (size_t j = 0; j < n; j++) {
        if (!(m->subs[j].name = olive_strdup(subs[j])))
            return OLIVE_ENOMEM;
        m->n_subs++;
        m->subs[j].priority = -1;
        /* Olive reports every lm-eval figure as higher-is-better, size too */
        m->subs[j].higher_is_better = !size;
    }
    return OLIVE_OK;
}

static int lm_number(long long *out, const json_t *ev, const char *key, const char *where)
{
    const json_t *v = json_object_get(ev, key);
    *out = 0;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.%s: a fraction of the documents is not supported; give a count",
                          where, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return olive_fail(OLIVE_EINVALID, "%s.%s: expected a whole number >= 0", where, key);
    *out = json_integer_value(v);
    return OLIVE_OK;
}

static int parse_lm_evaluator(wf_evaluator *out, const json_t *ev, const char *where)
{
    const json_t *tasks = json_object_get(ev, "tasks"), *mc = json_object_get(ev, "model_class"), *t;
    wf_evaluator e = {0};
    long long limit, max_length, batch;
    size_t i;
    if (!json_is_array(tasks) || !json_array_size(tasks))
        return olive_fail(OLIVE_EINVALID, "%s.tasks: expected a list of lm-eval task names", where);
    if (mc && !json_is_null(mc) &&
        !(json_is_string(mc) && (!strcmp(json_string_value(mc), "ort") || !strcmp(json_string_value(mc), "ortgenai"))))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.model_class: only ONNX models are scored ('ort' or 'ortgenai')",
                          where);
    OLIVE_TRY(lm_number(&limit, ev, "limit", where));
    OLIVE_TRY(lm_number(&max_length, ev, "max_length", where));
    OLIVE_TRY(lm_number(&batch, ev, "batch_size", where)); /* requests run one at a time */
    if (!(e.metrics = olive_calloc(json_array_size(tasks) + 1, sizeof *e.metrics)))
        return OLIVE_ENOMEM;
    json_array_foreach(tasks, i, t)
    {
        char w[300];
        int rc;
        snprintf(w, sizeof w, "%s.tasks[%zu]", where, i);
        if (!json_is_string(t)) {
            wf_evaluator_clear(&e);
            return olive_fail(OLIVE_EINVALID, "%s: expected a task name", w);
        }
        e.n_metrics++;
        rc = lm_metric(&e.metrics[i], json_string_value(t), limit, (long)max_length, w);
        for (size_t k = 0; rc == OLIVE_OK && k < i; k++)
            if (!strcmp(e.metrics[k].name, e.metrics[i].name))
                rc = olive_fail(OLIVE_EINVALID, "%s: task '%s' is listed twice", w, e.metrics[i].name);
        if (rc != OLIVE_OK) {
            wf_evaluator_clear(&e);
            return rc;
        }
    }
    *out = e;
    return OLIVE_OK;
}

int wf_evaluator_parse(wf_evaluator *out, const json_t *ev, const json_t *data_configs, const char *where)
{
    const json_t *metrics = json_object_get(ev, "metrics");
    wf_evaluator e = {0};
    char w[300];
    const json_t *type = json_object_get(ev, "type");
    if (!json_is_object(ev))
        return olive_fail(OLIVE_EINVALID, "%s: expected an object with \"metrics\"", where);
    if (json_is_string(type) && !strcmp(json_string_value(type), "LMEvaluator"))
        return parse_lm_evaluator(out, ev, where);
    if (json_is_string(type) && strcmp(json_string_value(type), "OliveEvaluator"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.type: evaluator type '%s' is not supported (known: OliveEvaluator, LMEvaluator)", where,
                          json_string_value(type));
    if (!json_is_array(metrics))
        return olive_fail(OLIVE_EINVALID, "%s.metrics: expected a list", where);
    if (!(e.metrics = olive_calloc(json_array_size(metrics) + 1, sizeof *e.metrics)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < json_array_size(metrics); i++) {
        int rc;
        snprintf(w, sizeof w, "%s.metrics[%zu]", where, i);
        e.n_metrics++;
        if ((rc = parse_metric(&e.metrics[i], json_array_get(metrics, i), data_configs, w)) != OLIVE_OK) {
            wf_evaluator_clear(&e);
            return rc;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(e.metrics[k].name, e.metrics[i].name)) {
                wf_evaluator_clear(&e);
                return olive_fail(OLIVE_EINVALID, "%s.name: two metrics are named '%s'", w, e.metrics[i].name);
            }
    }
    *out = e;
    return OLIVE_OK;
}
