/* The GraphSurgeries pass: parses `surgeries` (a JSON list of {"surgeon": NAME, ...params}),
 * checks every entry against its surgeon's parameter specs before anything runs, then applies
 * the surgeons in order and, as Olive does, merges initializers with equal bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"
#include "passes/surgeries/surgeries.h"

static const sg_surgeon *const families[] = {
    sg_family_io,   sg_family_shapes,     sg_family_elementwise, sg_family_norms,
    sg_family_gemm, sg_family_embeddings, sg_family_attention,   sg_family_packed,
    sg_family_qdq,  sg_family_cleanup,    sg_family_dla,         sg_family_newer,
};

#define N_FAMILIES (sizeof families / sizeof *families)

static const sg_surgeon *find_surgeon(const char *name)
{
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const sg_surgeon *s = families[f]; s->name; s++)
            if (!strcasecmp(s->name, name))
                return s;
    return NULL;
}

static int unknown_surgeon(size_t index, const char *name)
{
    olive_strbuf known = {0};
    int rc;
    olive_strbuf_append(&known, "");
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const sg_surgeon *s = families[f]; s->name; s++)
            olive_strbuf_printf(&known, "%s%s", known.len ? ", " : "", s->name);
    rc = olive_fail(OLIVE_EINVALID, "surgeries[%zu]: unknown surgeon '%s'; known surgeons: %s", index, name,
                    known.data ? known.data : "");
    olive_strbuf_free(&known);
    return rc;
}

static const char *type_text(int type)
{
    switch (type) {
    case SG_STRING: return "a string";
    case SG_STRINGS: return "a list of strings";
    case SG_INT: return "an integer";
    case SG_INTS: return "a list of integers";
    case SG_FLOAT: return "a number";
    default: return "true or false";
    }
}

static int type_ok(int type, const json_t *v)
{
    size_t i;
    json_t *item;
    switch (type) {
    case SG_STRING: return json_is_string(v);
    case SG_INT: return json_is_integer(v);
    case SG_FLOAT: return json_is_number(v);
    case SG_BOOL: return json_is_boolean(v);
    case SG_STRINGS:
    case SG_INTS:
        if (!json_is_array(v))
            return 0;
        json_array_foreach(v, i,
                           item) if (type == SG_STRINGS ? !json_is_string(item) : !json_is_integer(item)) return 0;
        return 1;
    default: return 0;
    }
}

/* Checks one entry: a known surgeon, required parameters present, every given one of the
 * right JSON type. Keys the surgeon does not take are ignored with a warning, as in Olive. */
static int check_entry(size_t index, const json_t *entry, const sg_surgeon **out)
{
    const json_t *name = json_is_object(entry) ? json_object_get(entry, "surgeon") : NULL;
    const sg_surgeon *s;
    const char *key;
    json_t *v;
    if (!json_is_object(entry))
        return olive_fail(OLIVE_EINVALID, "surgeries[%zu]: expected an object {\"surgeon\": NAME, ...}", index);
    if (!json_is_string(name) || !json_string_value(name)[0])
        return olive_fail(OLIVE_EINVALID, "surgeries[%zu]: missing \"surgeon\" (the surgeon's name, e.g. RenameInputs)",
                          index);
    if (!(s = find_surgeon(json_string_value(name))))
        return unknown_surgeon(index, json_string_value(name));
    for (const sg_param *p = s->params; p && p->name; p++) {
        v = json_object_get(entry, p->name);
        if (!v || json_is_null(v)) {
            if (p->required)
                return olive_fail(OLIVE_EINVALID, "surgeries[%zu]: surgeon '%s' needs parameter '%s' (%s)", index,
                                  s->name, p->name, type_text(p->type));
            continue;
        }
        if (!type_ok(p->type, v))
            return olive_fail(OLIVE_EINVALID, "surgeries[%zu]: surgeon '%s' parameter '%s' must be %s", index, s->name,
                              p->name, type_text(p->type));
    }
    json_object_foreach((json_t *)entry, key, v)
    {
        int known = !strcmp(key, "surgeon");
        for (const sg_param *p = s->params; p && p->name && !known; p++)
            known = !strcmp(p->name, key);
        if (!known)
            OLIVE_WARN("surgeries[%zu]: surgeon '%s' takes no parameter '%s'; ignored", index, s->name, key);
    }
    *out = s;
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *text = olive_args_string(args, "surgeries");
    json_error_t jerr;
    json_t *list = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    const sg_surgeon **plan = NULL;
    size_t n, i;
    json_t *entry;
    int rc = OLIVE_OK, checked = 0;
    if (!list)
        return olive_fail(OLIVE_EINVALID, "parameter 'surgeries': not JSON (%s at column %d)", jerr.text, jerr.column);
    if (!json_is_array(list)) {
        json_decref(list);
        return olive_fail(OLIVE_EINVALID, "parameter 'surgeries': expected a list of {\"surgeon\": NAME, ...}");
    }
    n = json_array_size(list);
    if (n && !(plan = olive_calloc(n, sizeof *plan))) {
        json_decref(list);
        return OLIVE_ENOMEM;
    }
    json_array_foreach(list, i, entry)
    {
        if ((rc = check_entry(i, entry, &plan[i])) != OLIVE_OK)
            break;
    }
    for (i = 0; rc == OLIVE_OK && i < n; i++) {
        sg_args a = {plan[i], json_array_get(list, i)};
        /* Surgeons other than the repairing ones start from a consistent graph. */
        if (!plan[i]->repairs && !checked) {
            if ((rc = oir_model_validate(m)) != OLIVE_OK) {
                olive_fail_context(rc, "input model of surgeries[%zu] (%s)", i, plan[i]->name);
                break;
            }
            checked = 1;
        }
        OLIVE_INFO("graph surgeries: applying %s", plan[i]->name);
        rc = plan[i]->run(m, &a);
        if (rc != OLIVE_OK && rc != OLIVE_ECANCELLED)
            olive_fail_context(rc, "surgeries[%zu] (%s)", i, plan[i]->name);
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, (double)(i + 1) / (double)(n + 1));
    }
    free(plan);
    json_decref(list);
    /* Surgeons append what they build; the model's node order must stay topological. */
    if (rc == OLIVE_OK)
        rc = oir_graph_toposort(m->graph);
    if (rc == OLIVE_OK && olive_args_bool(args, "remove_duplicate_initializers"))
        rc = sg_dedup_initializers(m);
    if (rc == OLIVE_OK)
        rc = olive_pass_progress(ctx, 1.0);
    return rc;
}

/* ---- argument access ---- */

static const json_t *arg(const sg_args *a, const char *name)
{
    const json_t *v = json_object_get(a->obj, name);
    return v && !json_is_null(v) ? v : NULL;
}

int sg_has(const sg_args *a, const char *name)
{
    return arg(a, name) != NULL;
}

const char *sg_string(const sg_args *a, const char *name, const char *fallback)
{
    const json_t *v = arg(a, name);
    return json_is_string(v) ? json_string_value(v) : fallback;
}

int64_t sg_int(const sg_args *a, const char *name, int64_t fallback)
{
    const json_t *v = arg(a, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

double sg_float(const sg_args *a, const char *name, double fallback)
{
    const json_t *v = arg(a, name);
    return json_is_number(v) ? json_number_value(v) : fallback;
}

int sg_bool(const sg_args *a, const char *name, int fallback)
{
    const json_t *v = arg(a, name);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

size_t sg_list_len(const sg_args *a, const char *name)
{
    const json_t *v = arg(a, name);
    return json_is_array(v) ? json_array_size(v) : 0;
}

const char *sg_list_string(const sg_args *a, const char *name, size_t i)
{
    const json_t *v = json_array_get(arg(a, name), i);
    return json_is_string(v) ? json_string_value(v) : "";
}

int64_t sg_list_int(const sg_args *a, const char *name, size_t i)
{
    const json_t *v = json_array_get(arg(a, name), i);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int sg_fail(const sg_args *a, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (param)
        return olive_fail(OLIVE_EINVALID, "surgeon '%s' parameter '%s': %s", a->surgeon->name, param, msg);
    return olive_fail(OLIVE_EINVALID, "surgeon '%s': %s", a->surgeon->name, msg);
}

static const olive_param_spec params[] = {
    {.name = "surgeries",
     .type = OLIVE_PARAM_STRING,
     .default_value = "[]",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "JSON list of surgeries applied in order, each {\"surgeon\": NAME, ...its parameters}"},
    {.name = "remove_duplicate_initializers",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Afterwards, make nodes read one initializer where several have the same type, shape and bytes"},
};

static const olive_pass_type olive_types[] = {{"GraphSurgeries", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

/* The i-th surgeon's name, families in order. */
static const char *surgeon_name(size_t i)
{
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const sg_surgeon *s = families[f]; s->name; s++)
            if (i-- == 0)
                return s->name;
    return NULL;
}

const olive_pass_def olive_pass_graph_surgeries = {
    .name = "graph_surgeries",
    .summary = "Applies Olive's graph surgeons by name, each with its own parameters",
    .details = "Surgeons rename, reorder or remove inputs and outputs, rewrite norms and Gemm, tie "
               "embeddings, remove QDQ pairs and more; their names are listed below (`olive passes "
               "graph_surgeries`).",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .validates_input = 1,
    .catalog = surgeon_name,
    .catalog_label = "surgeons",
    .run = run,
};
