/* Footprints and run history: the record of which model came from which pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
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

/* "a=1 b=x" -> {"a": "1", "b": "x"} (the canonical text of each parameter). */
static json_t *params_json(const char *text)
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
                json_object_set_new(o, k, json_string(v));
            free(k);
            free(v);
        }
        p = sp ? sp + 1 : NULL;
    }
    return o;
}

json_t *wf_footprints_json(const char *input_id, const uint64_t *input_size, const wf_step *steps, size_t n)
{
    json_t *doc = json_object(), *node = json_object(), *metrics = json_object();
    json_object_set_new(node, "id", json_string(input_id));
    json_object_set_new(node, "parent", json_null());
    json_object_set_new(node, "pass", json_null());
    json_object_set_new(node, "config", json_null());
    if (input_size)
        json_object_set_new(metrics, "size_on_disk", json_integer((json_int_t)*input_size));
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
        json_object_set_new(node, "config", params_json(s->params));
        if (s->has_size)
            json_object_set_new(metrics, "size_on_disk", json_integer((json_int_t)s->size_on_disk));
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
    olive_strbuf_append(&b, "# slot\tolive type\tpass\tcache\tseconds\tmodel id\tparameters\n");
    for (size_t i = 0; i < n; i++) {
        const wf_step *s = &steps[i];
        olive_strbuf_printf(&b, "%s\t%s\t%s\t%s\t%.3f\t%s\t", s->slot, s->olive_type, s->pass,
                            s->cache_hit ? "cache hit" : "run", s->end - s->start, s->id);
        for (const char *c = s->params; *c; c++)
            olive_strbuf_appendn(&b, *c == '\n' ? " " : c, 1);
        olive_strbuf_append(&b, "\n");
    }
    return olive_strbuf_take(&b);
}
