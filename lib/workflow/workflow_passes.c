/* Entries of a workflow's "passes": Olive pass types and parameter names mapped to ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/workflow.h"

/* How one Olive pass type becomes one of our passes. Keys that are our parameter names pass
 * through unchanged; `renames` maps Olive's other names; `ignored` keys change nothing here
 * (they tune Olive's own machinery) and are accepted without a warning. */
typedef struct olive_type_map {
    const char *olive_type;
    const char *ours;
    const char *fixed;                 /* settings applied before the entry's own, or NULL */
    const char *const *renames;        /* Olive name, our name, ...; NULL-terminated */
    const char *const *ignored;        /* NULL-terminated */
} olive_type_map;

static const char *const builder_renames[] = {
    "int4_block_size", "block_size", "int4_accuracy_level", "accuracy_level",
    "int4_is_symmetric", "is_symmetric", NULL};
static const char *const builder_ignored[] = {"metadata_only", "search", NULL};
static const char *const rtn_ignored[] = {"quant_axes", "weight_only_quant_configs", NULL};
static const char *const dynamic_ignored[] = {"quant_mode", "quant_preprocess", "MatMulConstBOnly", "extra_options", NULL};
static const char *const conversion_ignored[] = {
    "target_opset", "use_dynamo_exporter", "past_key_value_name", "dynamic", "use_device", "merge_adapter_weights",
    "save_metadata_for_token_generation", "optimize", "device", NULL};
static const char *const no_names[] = {NULL};

static const olive_type_map type_maps[] = {
    {"ModelBuilder", "convert", NULL, builder_renames, builder_ignored},
    /* Olive exports checkpoints with torch; here the converter builds the same model's graph
     * directly (fp32 unless torch_dtype says otherwise). */
    {"OnnxConversion", "convert", "precision=fp32", no_names, conversion_ignored},
    {"OnnxBlockWiseRtnQuantization", "quantize", NULL, no_names, rtn_ignored},
    {"OnnxMatMul4Quantizer", "quantize", "bits=4", no_names, rtn_ignored},
    {"OnnxHqqQuantization", "quantize", "algorithm=hqq", no_names, rtn_ignored},
    {"OnnxKQuantQuantization", "quantize", "algorithm=k_quant", no_names, rtn_ignored},
    {"OnnxDynamicQuantization", "quantize_dynamic", NULL, no_names, dynamic_ignored},
    {"OnnxFloatToFloat16", "float16", NULL, no_names, no_names},
    {"OnnxIODataTypeConverter", "io_datatype", NULL, no_names, no_names},
    {"OnnxPeepholeOptimizer", "peephole", NULL, no_names, no_names},
    {"OrtTransformersOptimization", "fuse", NULL, no_names, no_names},
};

/* Keys every pass entry may carry: Olive's run options and ONNX save options, which our model
 * writer decides for itself. */
static const char *const common_keys[] = {
    "type", "config", "disable_search", "host", "evaluator", "output_name", "clean_run_cache",
    "save_as_external_data", "all_tensors_to_one_file", "external_data_name", "size_threshold",
    "convert_attribute", "data_config", NULL};

static const olive_type_map *find_map(const char *type)
{
    for (size_t i = 0; i < sizeof type_maps / sizeof *type_maps; i++)
        if (!strcasecmp(type_maps[i].olive_type, type))
            return &type_maps[i];
    return NULL;
}

static int in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (!strcmp(*list, key))
            return 1;
    return 0;
}

/* Our registered pass for a name, without leaving an error behind when it is missing. */
static const olive_pass_def *registered(const char *name)
{
    for (size_t i = 0; i < olive_registry_count(); i++)
        if (!strcmp(olive_registry_at(i)->name, name))
            return olive_registry_at(i);
    return NULL;
}

/* A registered pass by name or alias, without leaving an error behind when there is none. */
static const olive_pass_def *registered_alias(const char *type)
{
    for (size_t i = 0; i < olive_registry_count(); i++) {
        const olive_pass_def *d = olive_registry_at(i);
        if (!strcmp(d->name, type))
            return d;
        for (const char *const *a = d->aliases; a && *a; a++)
            if (!strcasecmp(*a, type))
                return d;
    }
    return NULL;
}

/* The registry's aliases come first (a pass written for an Olive type knows its parameters);
 * the table above covers the Olive types that are settings of a more general pass. */
static const olive_pass_def *resolve_type(const char *type, const olive_type_map **map, const char *where)
{
    const olive_pass_def *def = registered_alias(type);
    *map = find_map(type);
    if (def) {
        if (*map && strcmp((*map)->ours, def->name))
            *map = NULL;
        return def;
    }
    if (*map) {
        if (!(def = registered((*map)->ours)))
            olive_fail(OLIVE_EUNSUPPORTED,
                       "%s: pass type '%s' maps to our pass '%s', which is not implemented in this build", where, type,
                       (*map)->ours);
        return def;
    }
    {
        /* Name every Olive type we know, so a typo is easy to spot. */
        olive_strbuf known = {0};
        olive_strbuf_append(&known, "");
        for (size_t i = 0; i < olive_registry_count(); i++)
            for (const char *const *a = olive_registry_at(i)->aliases; a && *a; a++)
                olive_strbuf_printf(&known, "%s%s", known.len ? ", " : "", *a);
        for (size_t i = 0; i < sizeof type_maps / sizeof *type_maps; i++)
            if (!registered_alias(type_maps[i].olive_type))
                olive_strbuf_printf(&known, "%s%s", known.len ? ", " : "", type_maps[i].olive_type);
        olive_fail(OLIVE_ENOTFOUND, "%s: pass type '%s' is not supported; known types: %s (or a libolive pass name)",
                   where, type, known.data ? known.data : "");
        olive_strbuf_free(&known);
    }
    return NULL;
}

char *wf_json_param_text(const json_t *v, const char *where)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return olive_strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return olive_strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        return olive_strdup(buf);
    case JSON_TRUE:
        return olive_strdup("true");
    case JSON_FALSE:
        return olive_strdup("false");
    case JSON_ARRAY: {
        olive_strbuf b = {0};
        size_t i;
        json_t *item;
        olive_strbuf_append(&b, "");
        json_array_foreach(v, i, item) {
            char *t;
            if (json_is_array(item) || json_is_object(item) || json_is_null(item)) {
                olive_strbuf_free(&b);
                olive_fail(OLIVE_EINVALID, "%s: list items must be strings or numbers", where);
                return NULL;
            }
            if (!(t = wf_json_param_text(item, where))) {
                olive_strbuf_free(&b);
                return NULL;
            }
            olive_strbuf_printf(&b, "%s%s", i ? "," : "", t);
            free(t);
        }
        return olive_strbuf_take(&b);
    }
    case JSON_OBJECT: {
        char *dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        char *copy = olive_strdup(dump);
        free(dump);
        return copy;
    }
    default:
        olive_fail(OLIVE_EINVALID, "%s: null is not a value", where);
        return NULL;
    }
}

int wf_check_keys(const json_t *obj, const char *const *known, const char *where, int strict)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (in_list(known, key))
            continue;
        if (strict)
            return olive_fail(OLIVE_EINVALID, "%s: unknown key '%s'", where, key);
        OLIVE_WARN("%s: unknown key '%s' ignored", where, key);
    }
    return OLIVE_OK;
}

/* A choice written in another case ("RTN" for "rtn"), as Olive's enums are spelled. */
static char *choice_case(const olive_param_spec *spec, char *text)
{
    if (spec->type != OLIVE_PARAM_CHOICE || !spec->choices)
        return text;
    size_t n = strlen(text);
    for (const char *p = spec->choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncasecmp(p, text, n)) {
            memcpy(text, p, n);
            break;
        }
        p = bar ? bar + 1 : NULL;
    }
    return text;
}

static int set_one(olive_pass *p, const olive_type_map *map, const char *key, const json_t *v, const char *where,
                   int strict)
{
    const olive_pass_def *def = p->def;
    const char *ours = key;
    const olive_param_spec *spec;
    char *text, *path;
    int rc;
    if (map) {
        for (const char *const *r = map->renames; r && *r; r += 2)
            if (!strcmp(r[0], key))
                ours = r[1];
    }
    /* OnnxConversion names the precision as a torch dtype. */
    if (!strcmp(def->name, "convert") && !strcmp(key, "torch_dtype")) {
        static const char *const dtypes[] = {"float32", "fp32", "float16", "fp16", "bfloat16", "bf16", NULL};
        for (size_t i = 0; json_is_string(v) && dtypes[i]; i += 2)
            if (!strcmp(json_string_value(v), dtypes[i]))
                return olive_pass_instance_set(p, "precision", dtypes[i + 1]);
        return olive_fail(OLIVE_EINVALID, "%s.%s takes float32, float16 or bfloat16", where, key);
    }
    /* Olive's fp16 pass takes bf16 as a flag; ours as a dtype. */
    if (!strcmp(def->name, "float16") && !strcmp(key, "use_bf16")) {
        if (!json_is_boolean(v))
            return olive_fail(OLIVE_EINVALID, "%s.%s takes true or false", where, key);
        return json_is_true(v) ? olive_pass_instance_set(p, "dtype", "bfloat16") : OLIVE_OK;
    }
    if (!(spec = olive_param_find(def, ours))) {
        if (in_list(common_keys, key) || (map && in_list(map->ignored, key))) {
            OLIVE_DEBUG("%s.%s has no effect here", where, key);
            return OLIVE_OK;
        }
        if (strict)
            return olive_fail(OLIVE_EINVALID, "%s: unknown parameter '%s' for pass '%s'", where, key, def->name);
        OLIVE_WARN("%s: unknown parameter '%s' for pass '%s' ignored", where, key, def->name);
        return OLIVE_OK;
    }
    if (!(path = olive_asprintf("%s.%s", where, key)))
        return OLIVE_ENOMEM;
    if (json_is_null(v)) { /* Olive writes null for "the default" */
        free(path);
        return OLIVE_OK;
    }
    if (json_is_object(v) && spec->type != OLIVE_PARAM_STRING) {
        rc = olive_fail(OLIVE_EINVALID, "%s: expected a %s, not an object", path,
                        spec->type == OLIVE_PARAM_LIST ? "list" : "single value");
        free(path);
        return rc;
    }
    if (json_is_array(v) && spec->type != OLIVE_PARAM_LIST) {
        rc = olive_fail(OLIVE_EINVALID, "%s: expected a single value, not a list", path);
        free(path);
        return rc;
    }
    if (!(text = wf_json_param_text(v, path))) {
        free(path);
        return olive_error_code();
    }
    rc = olive_pass_instance_set(p, ours, choice_case(spec, text));
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "%s", path);
    free(text);
    free(path);
    return rc;
}

static int set_all(olive_pass *p, const olive_type_map *map, const json_t *obj, const char *where, int strict)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!strcmp(key, "type"))
            continue;
        /* Older configs nest the parameters under "config"; ModelBuilder's extra_options
         * carry builder settings under the same names. */
        if ((!strcmp(key, "config") || (!strcmp(key, "extra_options") && !strcmp(p->def->name, "convert"))) &&
            json_is_object(v)) {
            char *inner = olive_asprintf("%s.%s", where, key);
            int rc = inner ? set_all(p, map, v, inner, strict) : OLIVE_ENOMEM;
            free(inner);
            OLIVE_TRY(rc);
            continue;
        }
        OLIVE_TRY(set_one(p, map, key, v, where, strict));
    }
    return OLIVE_OK;
}

int wf_pass_from_json(wf_choice *out, const json_t *obj, const char *where, int strict)
{
    const json_t *type;
    const olive_type_map *map;
    const olive_pass_def *def;
    olive_pass *p = NULL;
    int rc;
    if (!json_is_object(obj))
        return olive_fail(OLIVE_EINVALID, "%s: a pass is an object with a \"type\"", where);
    type = json_object_get(obj, "type");
    if (!type)
        return olive_fail(OLIVE_EINVALID, "%s: missing \"type\" (the pass type, e.g. OnnxPeepholeOptimizer)", where);
    if (!json_is_string(type))
        return olive_fail(OLIVE_EINVALID, "%s.type: expected a string", where);
    if (!(def = resolve_type(json_string_value(type), &map, where)))
        return olive_error_code();
    OLIVE_TRY(olive_pass_instance_new(&p, def));
    rc = map && map->fixed ? olive_pass_set_many(p, map->fixed) : OLIVE_OK;
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "%s: pass type '%s' is not available in this build", where, json_string_value(type));
    if (rc == OLIVE_OK)
        rc = set_all(p, map, obj, where, strict);
    if (rc != OLIVE_OK) {
        olive_pass_unref(p);
        return rc;
    }
    if (!(out->olive_type = olive_strdup(json_string_value(type)))) {
        olive_pass_unref(p);
        return OLIVE_ENOMEM;
    }
    out->pass = p;
    return OLIVE_OK;
}
