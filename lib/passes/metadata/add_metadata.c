/* add_metadata: sets the graph name and adds metadata_props entries, as Olive's
 * AddOliveMetadata does: the custom_metadata pairs (values as text), then "olive_version"
 * (here libolive's version, "libolive <version>"). Existing entries with the same keys are
 * replaced, others kept. Olive's hf_model_name, optimization_passes and model_hash come from its
 * model handler and cache, which a pass here does not see: they are not written. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "olive/version.h"
#include "passes/metadata/add_metadata.h"

#define PASS "add_metadata"

static int set_prop(oir_model *m, const char *key, const char *value)
{
    char *v = olive_strdup(value), *k;
    if (!v)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < m->n_metadata; i++)
        if (!strcmp(m->metadata_keys[i], key)) {
            free(m->metadata_values[i]);
            m->metadata_values[i] = v;
            return OLIVE_OK;
        }
    if (!(k = olive_strdup(key)) || olive_grow((void **)&m->metadata_keys, &m->cap_metadata, m->n_metadata + 1,
                                               sizeof *m->metadata_keys) != OLIVE_OK) {
        free(k);
        free(v);
        return OLIVE_ENOMEM;
    }
    {
        size_t cap = m->cap_metadata;
        char **vals = olive_reallocarray(m->metadata_values, cap, sizeof *vals);
        if (!vals) {
            free(k);
            free(v);
            return OLIVE_ENOMEM;
        }
        m->metadata_values = vals;
    }
    m->metadata_keys[m->n_metadata] = k;
    m->metadata_values[m->n_metadata] = v;
    m->n_metadata++;
    return OLIVE_OK;
}

/* A JSON value as Olive's str() writes it for the common kinds. */
static char *text_of(const json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: return olive_strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return olive_strdup(buf);
    case JSON_REAL: snprintf(buf, sizeof buf, "%.17g", json_real_value(v)); return olive_strdup(buf);
    case JSON_TRUE: return olive_strdup("True");
    case JSON_FALSE: return olive_strdup("False");
    case JSON_NULL: return olive_strdup("None");
    default: {
        char *d = json_dumps(v, JSON_COMPACT), *c = olive_strdup(d);
        free(d);
        return c;
    }
    }
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *name = olive_args_string(args, "graph_name"), *meta = olive_args_string(args, "custom_metadata");
    json_error_t jerr;
    json_t *obj = NULL, *v;
    const char *key;
    char *copy;
    int rc = OLIVE_OK;
    if (!name[0])
        return olive_fail(OLIVE_EINVALID, "%s: graph_name is required", PASS);
    if (meta[0] && (!(obj = json_loads(meta, 0, &jerr)) || !json_is_object(obj))) {
        json_decref(obj);
        return olive_fail(OLIVE_EINVALID, "%s: custom_metadata must be a JSON object of key/value pairs", PASS);
    }
    json_object_foreach(obj, key, v)
    {
        char *t = text_of(v);
        rc = t ? set_prop(m, key, t) : OLIVE_ENOMEM;
        free(t);
        if (rc != OLIVE_OK)
            break;
    }
    json_decref(obj);
    if (rc == OLIVE_OK)
        rc = set_prop(m, "olive_version", "libolive " OLIVE_VERSION_STRING);
    if (rc == OLIVE_OK) {
        if (!(copy = olive_strdup(name)))
            return OLIVE_ENOMEM;
        free(m->graph->name);
        m->graph->name = copy;
        rc = olive_pass_progress(ctx, 1.0);
    }
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "graph_name",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "The graph's name (required)"},
    {.name = "custom_metadata",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "JSON object of metadata_props entries to add"},
    {.name = "add_optimization_info",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Accepted for Olive's configs; the pass history is in model_config.json here"},
};

static const olive_pass_type olive_types[] = {{"AddOliveMetadata", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_add_metadata = {
    .name = "add_metadata",
    .summary = "Sets the graph name and adds metadata_props entries (custom_metadata, olive_version)",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
