/* Public pass functions: registry listing, creation, parameters, applying. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/handles.h"
#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"

static const char *const type_names[] = {"bool", "int", "float", "string", "choice", "list"};

size_t olive_pass_registry_count(void) { return olive_registry_count(); }

const char *olive_pass_registry_name(size_t index)
{
    const olive_pass_def *d = olive_registry_at(index);
    return d ? d->name : NULL;
}

int olive_pass_describe_json(char **out, const char *name)
{
    const olive_pass_def *d;
    json_t *root, *aliases, *params;
    char *text;
    if (!out || !name)
        return olive_fail(OLIVE_EINVALID, "olive_pass_describe_json: out and name must not be NULL");
    if (!(d = olive_registry_find(name)))
        return OLIVE_ENOTFOUND;
    root = json_object();
    aliases = json_array();
    params = json_array();
    json_object_set_new(root, "name", json_string(d->name));
    json_object_set_new(root, "summary", json_string(d->summary));
    for (const char *const *a = d->aliases; a && *a; a++)
        json_array_append_new(aliases, json_string(*a));
    json_object_set_new(root, "aliases", aliases);
    for (size_t i = 0; i < d->n_params; i++) {
        const olive_param_spec *s = &d->params[i];
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(s->name));
        json_object_set_new(p, "type", json_string(s->type >= 0 && s->type <= OLIVE_PARAM_LIST ? type_names[s->type] : "?"));
        json_object_set_new(p, "default", json_string(s->default_value ? s->default_value : ""));
        if (s->min <= s->max && (s->type == OLIVE_PARAM_INT || s->type == OLIVE_PARAM_FLOAT)) {
            json_object_set_new(p, "min", json_real(s->min));
            json_object_set_new(p, "max", json_real(s->max));
        }
        if (s->choices) {
            json_t *c = json_array();
            const char *q = s->choices;
            while (*q) {
                const char *bar = strchr(q, '|');
                size_t len = bar ? (size_t)(bar - q) : strlen(q);
                json_array_append_new(c, json_stringn(q, len));
                if (!bar)
                    break;
                q = bar + 1;
            }
            json_object_set_new(p, "choices", c);
        }
        json_object_set_new(p, "help", json_string(s->help ? s->help : ""));
        json_array_append_new(params, p);
    }
    json_object_set_new(root, "parameters", params);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing pass '%s'", name);
    *out = text;
    return OLIVE_OK;
}

int olive_pass_new(olive_pass **out, const char *name)
{
    const olive_pass_def *d;
    if (!out || !name)
        return olive_fail(OLIVE_EINVALID, "olive_pass_new: out and name must not be NULL");
    if (!(d = olive_registry_find(name)))
        return OLIVE_ENOTFOUND;
    return olive_pass_instance_new(out, d);
}

void olive_pass_free(olive_pass *pass) { olive_pass_unref(pass); }

const char *olive_pass_name(const olive_pass *pass) { return pass ? pass->def->name : NULL; }

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
    char **words;
    size_t n;
    int rc;
    if (!pass || !settings)
        return olive_fail(OLIVE_EINVALID, "olive_pass_set_many: pass and settings must not be NULL");
    OLIVE_TRY(olive_split_words(&words, &n, settings));
    rc = olive_pass_set_pairs(pass, words, n);
    olive_free_words(words, n);
    return rc;
}

int olive_pass_get(const olive_pass *pass, const char *key, const char **value)
{
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "olive_pass_get: pass, key and value must not be NULL");
    return olive_pass_instance_get(pass, key, value);
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
