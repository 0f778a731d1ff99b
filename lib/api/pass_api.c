/* Public pass functions: registry listing, creation, parameters, applying. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/handles.h"
#include "core/alloc.h"
#include "core/status.h"
#include "workflow/workflow.h"

static const char *const type_names[] = {"bool", "int", "float", "string", "choice", "list"};

size_t olive_pass_registry_count(void)
{
    return olive_registry_count();
}

const char *olive_pass_registry_name(size_t index)
{
    const olive_pass_def *d = olive_registry_at(index);
    return d ? d->name : NULL;
}

/* "a|b|c" as a JSON array of strings. */
static json_t *bar_list(const char *text)
{
    json_t *list = json_array();
    for (const char *q = text; q && *q;) {
        const char *bar = strchr(q, '|');
        size_t len = bar ? (size_t)(bar - q) : strlen(q);
        json_array_append_new(list, json_stringn(q, len));
        q = bar ? bar + 1 : NULL;
    }
    return list;
}

static json_t *string_list(const char *const *items)
{
    json_t *list = json_array();
    for (; items && *items; items++)
        json_array_append_new(list, json_string(*items));
    return list;
}

/* A key map as {"key": ..., "param": ..., "values": {"theirs": "ours", ...}}. */
static json_t *key_map_json(const olive_key_map *km)
{
    json_t *o = json_pack("{s:s, s:s}", "key", km->key, "param", km->param);
    if (km->values) {
        json_t *values = json_object();
        for (const char *q = km->values; q && *q;) {
            const char *eq = strchr(q, '='), *bar = strchr(q, '|');
            const char *end = bar ? bar : q + strlen(q);
            char *theirs = olive_asprintf("%.*s", (int)(eq - q), q);
            if (theirs)
                json_object_set_new(values, theirs, json_stringn(eq + 1, (size_t)(end - eq - 1)));
            free(theirs);
            q = bar ? bar + 1 : NULL;
        }
        json_object_set_new(o, "values", values);
    }
    return o;
}

static json_t *olive_types_json(const olive_pass_def *d)
{
    json_t *types = json_array();
    for (const olive_pass_type *t = d->olive_types; t && t->name; t++) {
        json_t *o = json_pack("{s:s}", "type", t->name), *renames = json_object();
        if (t->fixed)
            json_object_set_new(o, "fixed", json_string(t->fixed));
        for (const olive_key_map *r = t->renames; r && r->key; r++)
            json_object_set_new(renames, r->key, json_string(r->param));
        json_object_set_new(o, "renames", renames);
        json_object_set_new(o, "ignored", string_list(t->ignored));
        json_array_append_new(types, o);
    }
    return types;
}

static json_t *param_json(const olive_param_spec *s)
{
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(s->name));
    const char *type = s->type >= 0 && s->type <= OLIVE_PARAM_LIST ? type_names[s->type] : "?";
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "default", json_string(s->default_value ? s->default_value : ""));
    if (s->min <= s->max && (s->type == OLIVE_PARAM_INT || s->type == OLIVE_PARAM_FLOAT)) {
        json_object_set_new(p, "min", json_real(s->min));
        json_object_set_new(p, "max", json_real(s->max));
    }
    if (s->choices)
        json_object_set_new(p, "choices", bar_list(s->choices));
    if (s->search)
        json_object_set_new(p, "search", bar_list(s->search));
    json_object_set_new(p, "help", json_string(s->help ? s->help : ""));
    if (s->details)
        json_object_set_new(p, "details", json_string(s->details));
    return p;
}

int olive_pass_describe_json(char **out, const char *name)
{
    const olive_pass_def *d;
    json_t *root, *aliases, *params, *keys;
    char *text;
    if (!out || !name)
        return olive_fail(OLIVE_EINVALID, "olive_pass_describe_json: out and name must not be NULL");
    if (!(d = olive_registry_find(name)))
        return OLIVE_ENOTFOUND;
    root = json_object();
    aliases = json_array();
    params = json_array();
    keys = json_array();
    json_object_set_new(root, "name", json_string(d->name));
    json_object_set_new(root, "summary", json_string(d->summary));
    if (d->details)
        json_object_set_new(root, "details", json_string(d->details));
    for (const olive_pass_type *t = d->olive_types; t && t->name; t++)
        json_array_append_new(aliases, json_string(t->name));
    json_object_set_new(root, "aliases", aliases);
    json_object_set_new(root, "olive_types", olive_types_json(d));
    for (const olive_key_map *km = d->olive_keys; km && km->key; km++)
        json_array_append_new(keys, key_map_json(km));
    json_object_set_new(root, "olive_keys", keys);
    json_object_set_new(root, "nested_keys", string_list(d->nested_keys));
    json_object_set_new(root, "accepts_checkpoint", json_boolean(d->flags & OLIVE_PASS_ACCEPTS_CHECKPOINT));
    json_object_set_new(root, "depends_on_accelerator", json_boolean(d->flags & OLIVE_PASS_DEPENDS_ON_ACCELERATOR));
    for (size_t i = 0; i < d->n_params; i++)
        json_array_append_new(params, param_json(&d->params[i]));
    json_object_set_new(root, "parameters", params);
    if (d->catalog) {
        json_t *names = json_array();
        for (size_t i = 0; d->catalog(i); i++)
            json_array_append_new(names, json_string(d->catalog(i)));
        json_object_set_new(root, "catalog", json_pack("{s:s, s:o}", "label", d->catalog_label, "names", names));
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing pass '%s'", name);
    *out = text;
    return OLIVE_OK;
}

int olive_pass_new(olive_pass **out, const char *name)
{
    if (!out || !name)
        return olive_fail(OLIVE_EINVALID, "olive_pass_new: out and name must not be NULL");
    return olive_pass_instance_new_named(out, name);
}

int olive_pass_new_olive(olive_pass **out, const char *type, const char *config_json)
{
    json_error_t err;
    json_t *obj;
    wf_choice choice = {0};
    int rc;
    if (!out || !type)
        return olive_fail(OLIVE_EINVALID, "olive_pass_new_olive: out and type must not be NULL");
    obj = config_json && config_json[0] ? json_loads(config_json, JSON_REJECT_DUPLICATES, &err) : json_object();
    if (!obj)
        return olive_fail(OLIVE_EINVALID, "pass config: invalid JSON at %d:%d: %s", err.line, err.column, err.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return olive_fail(OLIVE_EINVALID, "pass config: expected a JSON object of parameters ({\"name\": value})");
    }
    if (json_object_get(obj, "type")) {
        json_decref(obj);
        return olive_fail(OLIVE_EINVALID, "pass config: the pass type is given apart; leave \"type\" out");
    }
    json_object_set_new(obj, "type", json_string(type));
    rc = wf_pass_from_json(&choice, obj, "pass config", 1);
    json_decref(obj);
    if (rc != OLIVE_OK)
        return rc;
    free(choice.olive_type);
    *out = choice.pass;
    return OLIVE_OK;
}

void olive_pass_free(olive_pass *pass)
{
    olive_pass_unref(pass);
}

const char *olive_pass_name(const olive_pass *pass)
{
    return pass ? pass->def->name : NULL;
}

int olive_pass_set(olive_pass *pass, const char *key, const char *value)
{
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "olive_pass_set: pass, key and value must not be NULL");
    return olive_pass_instance_set(pass, key, value);
}

int olive_pass_set_int(olive_pass *pass, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return olive_pass_set(pass, key, buf);
}

int olive_pass_set_float(olive_pass *pass, const char *key, double value)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", value);
    return olive_pass_set(pass, key, buf);
}

int olive_pass_set_bool(olive_pass *pass, const char *key, int value)
{
    return olive_pass_set(pass, key, value ? "true" : "false");
}

int olive_pass_set_many(olive_pass *pass, const char *settings)
{
    if (!pass || !settings)
        return olive_fail(OLIVE_EINVALID, "olive_pass_set_many: pass and settings must not be NULL");
    return olive_pass_instance_set_many(pass, settings);
}

int olive_pass_get(const olive_pass *pass, const char *key, const char **value)
{
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "olive_pass_get: pass, key and value must not be NULL");
    return olive_pass_instance_get(pass, key, value);
}

/* The current value of `key`, which must have type `want`, into *value (an int64_t, double or
 * int). On failure *value is unchanged and the error names the function `fn`. */
static int get_typed(const olive_pass *pass, const char *key, int want, void *value, const char *fn)
{
    const olive_param_spec *s;
    const char *unused;
    olive_pass_args args;
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "%s: pass, key and value must not be NULL", fn);
    if (!(s = olive_param_find(pass->def, key)))
        return olive_pass_instance_get(pass, key, &unused); /* ENOTFOUND, listing the keys */
    if (s->type != want)
        return olive_fail(OLIVE_EINVALID, "%s: parameter '%s' of pass '%s' is a %s, not a %s", fn, key, pass->def->name,
                          type_names[s->type], type_names[want]);
    args = olive_pass_args_of(pass);
    if (want == OLIVE_PARAM_INT)
        *(int64_t *)value = olive_args_int(&args, key);
    else if (want == OLIVE_PARAM_FLOAT)
        *(double *)value = olive_args_float(&args, key);
    else
        *(int *)value = olive_args_bool(&args, key);
    return OLIVE_OK;
}

int olive_pass_get_int(const olive_pass *pass, const char *key, int64_t *value)
{
    return get_typed(pass, key, OLIVE_PARAM_INT, value, "olive_pass_get_int");
}

int olive_pass_get_float(const olive_pass *pass, const char *key, double *value)
{
    return get_typed(pass, key, OLIVE_PARAM_FLOAT, value, "olive_pass_get_float");
}

int olive_pass_get_bool(const olive_pass *pass, const char *key, int *value)
{
    return get_typed(pass, key, OLIVE_PARAM_BOOL, value, "olive_pass_get_bool");
}

int olive_pass_param_type(const olive_pass *pass, const char *key, int *type)
{
    const olive_param_spec *s;
    const char *unused;
    if (!pass || !key || !type)
        return olive_fail(OLIVE_EINVALID, "olive_pass_param_type: pass, key and type must not be NULL");
    if (!(s = olive_param_find(pass->def, key)))
        return olive_pass_instance_get(pass, key, &unused); /* ENOTFOUND, listing the keys */
    *type = s->type;
    return OLIVE_OK;
}

int olive_pass_apply(olive_model **out, const olive_pass *pass, const olive_model *model)
{
    oir_model *copy;
    olive_pass_args args;
    int rc;
    if (!out || !pass || !model)
        return olive_fail(OLIVE_EINVALID, "olive_pass_apply: out, pass and model must not be NULL");
    if (!(copy = oir_model_clone(model->ir)))
        return OLIVE_ENOMEM;
    args = olive_pass_args_of(pass);
    rc = olive_pass_run_def(pass->def, &args, copy, NULL);
    if (rc != OLIVE_OK) {
        oir_model_free(copy);
        return rc;
    }
    return olive_model_wrap(out, copy);
}
