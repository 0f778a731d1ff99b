/* Footprints and run history: the record of which model came from which pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "core/alloc.h"
#include "passes/registry.h"
#include "workflow/outputs.h"
#include "olive/common.h"

static json_t *iso_time(double t)
{
    char buf[40];
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* A parameter's canonical text as the JSON value of its type: 32, 0.01, true, ["a", "b"]. */
static json_t *typed_value(const olive_param_spec *spec, const char *key, const char *text, const char *provider)
{
    char *end;
    if (!spec)
        return json_string(text);
    switch (spec->type) {
    case OLIVE_PARAM_BOOL: return json_boolean(!strcmp(text, "true"));
    case OLIVE_PARAM_INT: {
        long long v = strtoll(text, &end, 10);
        return *text && !*end ? json_integer(v) : json_string(text);
    }
    case OLIVE_PARAM_FLOAT: {
        double v = strtod(text, &end);
        return *text && !*end ? json_real(v) : json_string(text);
    }
    case OLIVE_PARAM_LIST: {
        /* A list parameter may also be a switch (keep_io_types: true, or names). */
        if (!strcmp(text, "true") || !strcmp(text, "false"))
            return json_boolean(!strcmp(text, "true"));
        json_t *arr = json_array();
        for (const char *p = text; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char *item = olive_strndup(p, len);
            if (item)
                json_array_append_new(arr, json_string(item));
            free(item);
            p = comma ? comma + 1 : p + len;
        }
        return arr;
    }
    default:
        if (!text[0] && !strcmp(key, "execution_provider") && provider)
            return json_string(provider);
        return json_string(text);
    }
}

static const olive_param_spec *spec_of(const olive_pass_def *def, const char *key)
{
    for (size_t i = 0; def && i < def->n_params; i++)
        if (!strcmp(def->params[i].name, key))
            return &def->params[i];
    return NULL;
}

/* "a=1\nb=x" -> {"a": 1, "b": "x"}, typed by the pass's parameter specs. */
static json_t *params_json(const char *text, const olive_pass_def *def, const char *provider)
{
    json_t *o = json_object();
    const char *p = text;
    while (p && *p) {
        const char *sp = strchr(p, '\n');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            char *k = olive_strndup(p, (size_t)(eq - p)), *v = olive_strndup(eq + 1, len - (size_t)(eq - p) - 1);
            if (k && v)
                json_object_set_new(o, k, typed_value(spec_of(def, k), k, v, provider));
            free(k);
            free(v);
        }
        p = sp ? sp + 1 : NULL;
    }
    return o;
}

/* Whether a result meets its sub-type's goal; relative goals compare with the baseline. */
static int goal_met(const wf_sub_metric *sub, double v, const json_t *baseline, const char *key)
{
    const json_t *b = json_object_get(json_object_get(baseline, key), "value");
    double base = json_number_value(b), g = sub->goal_value, sign = sub->higher_is_better ? 1 : -1;
    if (!sub->goal_type)
        return 1;
    if (!strcmp(sub->goal_type, "threshold"))
        return sub->higher_is_better ? v >= g : v <= g;
    if (!json_is_number(b))
        return 1; /* no baseline to compare with */
    if (!strcmp(sub->goal_type, "min-improvement"))
        return sign * (v - base) >= g;
    if (!strcmp(sub->goal_type, "max-degradation"))
        return sign * (base - v) <= g;
    if (!strcmp(sub->goal_type, "percent-min-improvement"))
        return base != 0 && sign * (v - base) / fabs(base) * 100 >= g;
    if (!strcmp(sub->goal_type, "percent-max-degradation"))
        return base == 0 || sign * (base - v) / fabs(base) * 100 <= g;
    return 1;
}

json_t *wf_footprint_metrics(const json_t *results, const wf_evaluator *e, const json_t *baseline)
{
    json_t *out = json_object(), *dir = json_object();
    int met = 1, unknown = 0;
    for (size_t i = 0; e && i < e->n_metrics; i++)
        for (size_t j = 0; j < e->metrics[i].n_subs; j++) {
            const wf_sub_metric *sub = &e->metrics[i].subs[j];
            char key[512];
            const json_t *r;
            snprintf(key, sizeof key, "%s-%s", e->metrics[i].name, sub->name);
            if (!(r = json_object_get(results, key)))
                continue;
            json_object_set_new(dir, key, json_integer(sub->higher_is_better ? 1 : -1));
            /* A goal on a metric that was not measured is neither met nor missed. */
            if (!json_is_number(json_object_get(r, "value")))
                unknown |= sub->goal_type != NULL;
            else
                met &= goal_met(sub, json_number_value(json_object_get(r, "value")), baseline, key);
        }
    json_object_set(out, "value", (json_t *)results);
    json_object_set_new(out, "cmp_direction", dir);
    json_object_set_new(out, "if_goals_met", met && unknown ? json_null() : json_boolean(met));
    return out;
}

json_t *wf_footprints_json(const char *input_id, const uint64_t *input_size, const json_t *input_metrics,
                           const wf_step *steps, size_t n, const char *provider)
{
    json_t *doc = json_object(), *node = json_object(), *metrics = json_object();
    json_object_set_new(node, "id", json_string(input_id));
    json_object_set_new(node, "parent", json_null());
    json_object_set_new(node, "pass", json_null());
    json_object_set_new(node, "config", json_null());
    if (input_size)
        json_object_set_new(metrics, "size_on_disk", json_integer((json_int_t)*input_size));
    if (input_metrics)
        json_object_update(metrics, (json_t *)input_metrics);
    json_object_set_new(node, "metrics", metrics);
    json_object_set_new(doc, input_id, node);
    for (size_t i = 0; i < n; i++) {
        const wf_step *s = &steps[i];
        node = json_object();
        metrics = json_object();
        json_object_set_new(node, "id", json_string(s->id));
        json_object_set_new(node, "parent", json_string(s->parent));
        json_object_set_new(node, "pass", json_string(s->pass));
        json_object_set_new(node, "olive_type", json_string(s->olive_type));
        json_object_set_new(node, "slot", json_string(s->slot));
        json_object_set_new(node, "config", params_json(s->params, s->def, provider));
        if (s->has_size)
            json_object_set_new(metrics, "size_on_disk", json_integer((json_int_t)s->size_on_disk));
        if (s->metrics)
            json_object_update(metrics, s->metrics);
        json_object_set_new(node, "metrics", metrics);
        json_object_set_new(node, "cache", json_string(s->cache_hit ? "hit" : "run"));
        json_object_set_new(node, "start_time", iso_time(s->start));
        json_object_set_new(node, "end_time", iso_time(s->end));
        json_object_set_new(node, "seconds", json_real(s->end - s->start));
        json_object_set_new(doc, s->id, node);
    }
    return doc;
}

char *wf_run_history_text(const wf_step *steps, size_t n)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "# slot\tolive type\tpass\tcache\tseconds\tmodel id\tparameters\tmetrics\n");
    for (size_t i = 0; i < n; i++) {
        const wf_step *s = &steps[i];
        olive_strbuf_printf(&b, "%s\t%s\t%s\t%s\t%.3f\t%s\t", s->slot, s->olive_type, s->pass,
                            s->cache_hit ? "cache hit" : "run", s->end - s->start, s->id);
        for (const char *c = s->params; *c; c++)
            olive_strbuf_appendn(&b, *c == '\n' ? " " : c, 1);
        olive_strbuf_append(&b, "\t");
        if (s->metrics && json_object_size(json_object_get(s->metrics, "value"))) {
            const char *key;
            json_t *v;
            int first = 1;
            json_object_foreach(json_object_get(s->metrics, "value"), key, v)
            {
                if (json_is_number(json_object_get(v, "value")))
                    olive_strbuf_printf(&b, "%s%s=%.6g", first ? "" : " ", key,
                                        json_number_value(json_object_get(v, "value")));
                else
                    olive_strbuf_printf(&b, "%s%s=not-measured", first ? "" : " ", key);
                first = 0;
            }
        } else {
            olive_strbuf_append(&b, "-");
        }
        olive_strbuf_append(&b, "\n");
    }
    return olive_strbuf_take(&b);
}
