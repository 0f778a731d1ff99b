/* Entries of a workflow's "passes": an Olive pass type and its settings become one of our
 * pass instances. How each type maps (fixed settings, renamed, translated, nested and ignored
 * keys) is a fact of the pass's registry definition; this file only applies it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/convert/convert.h"
#include "workflow/search/space.h"
#include "workflow/workflow.h"

/* Keys every pass entry may carry: Olive's run options and ONNX save options, which our model
 * writer decides for itself. */
static const char *const common_keys[] = {"type",
                                          "config",
                                          "disable_search",
                                          "host",
                                          "evaluator",
                                          "output_name",
                                          "clean_run_cache",
                                          "save_as_external_data",
                                          "all_tensors_to_one_file",
                                          "external_data_name",
                                          "size_threshold",
                                          "convert_attribute",
                                          "data_config",
                                          NULL};

/* Our pass for an Olive pass type (or a libolive pass name), with the type's mapping. */
static const olive_pass_def *resolve_type(const char *type, const olive_pass_type **map, const char *where)
{
    const olive_pass_def *def = olive_registry_lookup(type, map);
    char *known;
    if (def)
        return def;
    /* Name every Olive type we know, so a typo is easy to spot. */
    known = olive_registry_type_names();
    olive_fail(OLIVE_ENOTFOUND, "%s: pass type '%s' is not supported; known types: %s (or a libolive pass name)", where,
               type, known ? known : "");
    free(known);
    return NULL;
}

int wf_default_search_values(char **out, const olive_param_spec *spec)
{
    /* The registry's search space; else the choices of a CHOICE parameter, both values of a flag. */
    if (spec->search && *spec->search)
        *out = olive_strdup(spec->search);
    else if (spec->type == OLIVE_PARAM_CHOICE && spec->choices && *spec->choices)
        *out = olive_strdup(spec->choices);
    else if (spec->type == OLIVE_PARAM_BOOL)
        *out = olive_strdup("true|false");
    else
        return olive_fail(
            OLIVE_EINVALID,
            "'%s' has no default search space: name the values to try with "
            "{\"olive_parameter_type\": \"SearchParameter\", \"type\": \"Categorical\", \"support\": [...]}",
            spec->name);
    return *out ? OLIVE_OK : OLIVE_ENOMEM;
}

char *wf_json_param_text(const json_t *v, const char *where)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: return olive_strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return olive_strdup(buf);
    case JSON_REAL: snprintf(buf, sizeof buf, "%.17g", json_real_value(v)); return olive_strdup(buf);
    case JSON_TRUE: return olive_strdup("true");
    case JSON_FALSE: return olive_strdup("false");
    case JSON_ARRAY: {
        olive_strbuf b = {0};
        size_t i;
        json_t *item;
        olive_strbuf_append(&b, "");
        json_array_foreach(v, i, item)
        {
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
    default: olive_fail(OLIVE_EINVALID, "%s: null is not a value", where); return NULL;
    }
}

int wf_check_keys(const json_t *obj, const char *const *known, const char *where, int strict)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (olive_name_in(known, key))
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

/* A searched parameter: Olive's search parameter object, or "SEARCHABLE_VALUES" for the
 * parameter's default space, recorded under our parameter name for the search to expand. */
static int is_searched(const json_t *v)
{
    return ws_is_search_parameter(v) || (json_is_string(v) && !strcmp(json_string_value(v), WF_SEARCHABLE_VALUES));
}

/* The values of a key map ("theirs=ours|..."), "a, b or c", for a message. */
static char *map_theirs(const char *values)
{
    olive_strbuf b = {0};
    size_t n = 0, i = 0;
    olive_strbuf_append(&b, "");
    for (const char *p = values; *p; p++)
        n += *p == '|';
    for (const char *p = values; p && *p; i++) {
        const char *eq = strchr(p, '='), *bar = strchr(p, '|');
        olive_strbuf_printf(&b, "%s%.*s", i == 0 ? "" : i == n ? " or " : ", ", (int)(eq - p), p);
        p = bar ? bar + 1 : NULL;
    }
    return olive_strbuf_take(&b);
}

/* Sets the parameter a key map names from an Olive value, translated through its list. */
static int set_mapped(olive_pass *p, const olive_key_map *km, const json_t *v, const char *where, const char *key)
{
    char *text = json_is_string(v) || json_is_boolean(v) || json_is_number(v) ? wf_json_param_text(v, where) : NULL;
    int rc = OLIVE_OK;
    size_t n = text ? strlen(text) : 0;
    if (!km->values) {
        rc = text ? olive_pass_instance_set(p, km->param, text) : OLIVE_EINVALID;
        if (!text)
            olive_fail(rc, "%s.%s: expected a single value", where, key);
        free(text);
        return rc;
    }
    for (const char *q = km->values; text && q && *q;) {
        const char *eq = strchr(q, '='), *bar = strchr(q, '|');
        const char *end = bar ? bar : q + strlen(q);
        if ((size_t)(eq - q) == n && !strncmp(q, text, n)) {
            char *ours = olive_asprintf("%.*s", (int)(end - eq - 1), eq + 1);
            rc = !ours ? OLIVE_ENOMEM : *ours ? olive_pass_instance_set(p, km->param, ours) : OLIVE_OK;
            free(ours);
            free(text);
            return rc;
        }
        q = bar ? bar + 1 : NULL;
    }
    free(text);
    {
        char *theirs = map_theirs(km->values);
        rc = olive_fail(OLIVE_EINVALID, "%s.%s takes %s", where, key, theirs ? theirs : "other values");
        free(theirs);
    }
    return rc;
}

static int set_one(olive_pass *p, const olive_pass_type *map, const char *key, const json_t *v, const char *where,
                   int strict, json_t *search)
{
    const olive_pass_def *def = p->def;
    const char *ours = key;
    const olive_param_spec *spec;
    char *text, *path;
    int rc;
    for (const olive_key_map *km = def->olive_keys; km && km->key; km++)
        if (!strcmp(km->key, key))
            return set_mapped(p, km, v, where, key);
    for (const olive_key_map *r = map ? map->renames : NULL; r && r->key; r++)
        if (!strcmp(r->key, key))
            ours = r->param;
    if (!(spec = olive_param_find(def, ours))) {
        if (olive_name_in(common_keys, key) || (map && olive_name_in(map->ignored, key))) {
            OLIVE_DEBUG("%s.%s has no effect here", where, key);
            return OLIVE_OK;
        }
        if (strict)
            return olive_fail(OLIVE_EINVALID, "%s: unknown parameter '%s' for pass '%s'", where, key, def->name);
        OLIVE_WARN("%s: unknown parameter '%s' for pass '%s' ignored", where, key, def->name);
        return OLIVE_OK;
    }
    if (is_searched(v)) {
        char *values = NULL;
        if (json_is_string(v) && (rc = wf_default_search_values(&values, spec)) != OLIVE_OK)
            return olive_fail_context(rc, "%s.%s", where, key);
        free(values);
        return json_object_set(search, ours, (json_t *)v) ? OLIVE_ENOMEM : OLIVE_OK;
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
    /* A STRING parameter may hold structured JSON (GraphSurgeries' list of surgeries). */
    if ((json_is_array(v) || json_is_object(v)) && spec->type == OLIVE_PARAM_STRING) {
        char *dump = json_dumps(v, JSON_COMPACT);
        text = dump ? olive_strdup(dump) : NULL;
        free(dump);
        rc = text ? olive_pass_instance_set(p, ours, text) : OLIVE_ENOMEM;
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s", path);
        free(text);
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

static int set_all(olive_pass *p, const olive_pass_type *map, const json_t *obj, const char *where, int strict,
                   json_t *search)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!strcmp(key, "type"))
            continue;
        /* Older configs nest the parameters under "config"; some passes take more keys that
         * nest parameters (ModelBuilder's extra_options). */
        if ((!strcmp(key, "config") || olive_name_in(p->def->nested_keys, key)) && json_is_object(v)) {
            char *inner = olive_asprintf("%s.%s", where, key);
            int rc = inner ? set_all(p, map, v, inner, strict, search) : OLIVE_ENOMEM;
            free(inner);
            OLIVE_TRY(rc);
            continue;
        }
        OLIVE_TRY(set_one(p, map, key, v, where, strict, search));
    }
    return OLIVE_OK;
}

int wf_pass_from_json(wf_choice *out, const json_t *obj, const char *where, int strict)
{
    const json_t *type;
    const olive_pass_type *map;
    const olive_pass_def *def;
    olive_pass *p = NULL;
    json_t *search;
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
    /* Olive's metadata_only writes genai_config.json and the tokenizer files beside an ONNX
     * decoder another pass exported: a pass of its own, with no settings of the builder's. */
    if (def == &olive_pass_convert && !strcasecmp(json_string_value(type), "ModelBuilder") &&
        json_is_true(json_object_get(obj, "metadata_only"))) {
        def = &olive_pass_genai_metadata;
        map = NULL;
    }
    OLIVE_TRY(olive_pass_instance_new(&p, def));
    rc = map && map->fixed ? olive_pass_instance_set_many(p, map->fixed) : OLIVE_OK;
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "%s: pass type '%s' is not available in this build", where, json_string_value(type));
    if (!(search = json_object()))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = set_all(p, map, obj, where, strict, search);
    if (rc != OLIVE_OK) {
        json_decref(search);
        olive_pass_unref(p);
        return rc;
    }
    if (!(out->olive_type = olive_strdup(json_string_value(type)))) {
        json_decref(search);
        olive_pass_unref(p);
        return OLIVE_ENOMEM;
    }
    out->pass = p;
    if (json_object_size(search))
        out->search = search;
    else
        json_decref(search);
    return OLIVE_OK;
}
