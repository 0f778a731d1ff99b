/* Public pass functions: registry listing, creation, parameters, applying. */
#include <inttypes.h>
#include <stdatomic.h>
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

static void free_values(char **values, size_t n)
{
    if (!values)
        return;
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
}

int olive_pass_new(olive_pass **out, const char *name)
{
    const olive_pass_def *d;
    olive_pass *p;
    if (!out || !name)
        return olive_fail(OLIVE_EINVALID, "olive_pass_new: out and name must not be NULL");
    if (!(d = olive_registry_find(name)))
        return OLIVE_ENOTFOUND;
    if (!(p = olive_calloc(1, sizeof *p)))
        return OLIVE_ENOMEM;
    p->refs = 1;
    p->def = d;
    if (!(p->values = olive_calloc(d->n_params ? d->n_params : 1, sizeof *p->values))) {
        free(p);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < d->n_params; i++) {
        if (!(p->values[i] = olive_strdup(d->params[i].default_value ? d->params[i].default_value : ""))) {
            free_values(p->values, d->n_params);
            free(p);
            return OLIVE_ENOMEM;
        }
    }
    *out = p;
    return OLIVE_OK;
}

olive_pass *olive_pass_ref(olive_pass *pass)
{
    if (pass)
        atomic_fetch_add((_Atomic int *)&pass->refs, 1);
    return pass;
}

void olive_pass_free(olive_pass *pass)
{
    if (!pass || atomic_fetch_sub((_Atomic int *)&pass->refs, 1) != 1)
        return;
    free_values(pass->values, pass->def->n_params);
    free(pass);
}

const char *olive_pass_name(const olive_pass *pass) { return pass ? pass->def->name : NULL; }

static int unknown_key(const olive_pass_def *d, const char *key)
{
    olive_strbuf b = {0};
    for (size_t i = 0; i < d->n_params; i++) {
        olive_strbuf_append(&b, i ? ", " : "");
        olive_strbuf_append(&b, d->params[i].name);
    }
    olive_fail(OLIVE_ENOTFOUND, "pass '%s' has no parameter '%s'; valid parameters: %s", d->name, key,
               d->n_params ? (b.data ? b.data : "") : "(none)");
    olive_strbuf_free(&b);
    return OLIVE_ENOTFOUND;
}

int olive_pass_set(olive_pass *pass, const char *key, const char *value)
{
    const olive_param_spec *s;
    char *copy;
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "olive_pass_set: pass, key and value must not be NULL");
    if (!(s = olive_param_find(pass->def, key)))
        return unknown_key(pass->def, key);
    OLIVE_TRY(olive_param_check(pass->def, s, value));
    if (!(copy = olive_param_canonical(s, value)))
        return OLIVE_ENOMEM;
    free(pass->values[s - pass->def->params]);
    pass->values[s - pass->def->params] = copy;
    return OLIVE_OK;
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

int olive_pass_set_pairs(olive_pass *pass, char **settings, size_t count)
{
    char **saved;
    int rc = OLIVE_OK;
    size_t n = pass->def->n_params;
    /* All or nothing: remember the current values and restore them on failure. */
    if (!(saved = olive_calloc(n ? n : 1, sizeof *saved)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(saved[i] = olive_strdup(pass->values[i]))) {
            free_values(saved, n);
            return OLIVE_ENOMEM;
        }
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        char *eq = strchr(settings[i], '=');
        if (!eq || eq == settings[i]) {
            rc = olive_fail(OLIVE_EINVALID, "pass '%s': setting '%s' is not of the form key=value", pass->def->name, settings[i]);
            break;
        }
        *eq = '\0';
        rc = olive_pass_set(pass, settings[i], eq + 1);
        *eq = '=';
    }
    if (rc != OLIVE_OK) {
        free_values(pass->values, n);
        pass->values = saved;
    } else {
        free_values(saved, n);
    }
    return rc;
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
    const olive_param_spec *s;
    if (!pass || !key || !value)
        return olive_fail(OLIVE_EINVALID, "olive_pass_get: pass, key and value must not be NULL");
    if (!(s = olive_param_find(pass->def, key)))
        return unknown_key(pass->def, key);
    *value = pass->values[s - pass->def->params];
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
