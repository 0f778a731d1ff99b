/* Pass instances: creation, reference counting, copying and parameter values. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"
#include "passes/instance.h"

static void free_values(char **values, size_t n)
{
    if (!values)
        return;
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
}

/* A copy of `n` values (or of the defaults when `from` is NULL); NULL on ENOMEM. */
static char **copy_values(const olive_pass_def *d, char *const *from)
{
    size_t n = d->n_params;
    char **v = olive_calloc(n ? n : 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *text = from ? from[i] : d->params[i].default_value ? d->params[i].default_value : "";
        if (!(v[i] = olive_strdup(text))) {
            free_values(v, n);
            return NULL;
        }
    }
    return v;
}

static int make(olive_pass **out, const olive_pass_def *def, char *const *values)
{
    olive_pass *p = olive_calloc(1, sizeof *p);
    if (!p)
        return OLIVE_ENOMEM;
    if (!(p->values = copy_values(def, values))) {
        free(p);
        return OLIVE_ENOMEM;
    }
    atomic_init(&p->refs, 1);
    p->def = def;
    *out = p;
    return OLIVE_OK;
}

int olive_pass_instance_new(olive_pass **out, const olive_pass_def *def)
{
    return make(out, def, NULL);
}

int olive_pass_instance_new_named(olive_pass **out, const char *name)
{
    const olive_pass_type *type;
    const olive_pass_def *def = olive_registry_lookup(name, &type);
    olive_pass *p;
    int rc;
    if (!def && !(def = olive_registry_find(name)))
        return OLIVE_ENOTFOUND;
    OLIVE_TRY(make(&p, def, NULL));
    if (type && type->fixed && (rc = olive_pass_instance_set_many(p, type->fixed)) != OLIVE_OK) {
        olive_pass_unref(p);
        return olive_fail_context(rc, "pass type '%s'", name);
    }
    *out = p;
    return OLIVE_OK;
}

int olive_pass_instance_clone(olive_pass **out, const olive_pass *pass)
{
    return make(out, pass->def, pass->values);
}

olive_pass *olive_pass_ref(olive_pass *pass)
{
    if (pass)
        atomic_fetch_add(&pass->refs, 1);
    return pass;
}

void olive_pass_unref(olive_pass *pass)
{
    if (!pass || atomic_fetch_sub(&pass->refs, 1) != 1)
        return;
    free_values(pass->values, pass->def->n_params);
    free(pass);
}

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

int olive_pass_instance_set(olive_pass *pass, const char *key, const char *value)
{
    const olive_param_spec *s;
    char *copy;
    if (!(s = olive_param_find(pass->def, key)))
        return unknown_key(pass->def, key);
    OLIVE_TRY(olive_param_check(pass->def, s, value));
    if (!(copy = olive_param_canonical(s, value)))
        return OLIVE_ENOMEM;
    free(pass->values[s - pass->def->params]);
    pass->values[s - pass->def->params] = copy;
    return OLIVE_OK;
}

int olive_pass_instance_get(const olive_pass *pass, const char *key, const char **value)
{
    const olive_param_spec *s = olive_param_find(pass->def, key);
    if (!s)
        return unknown_key(pass->def, key);
    *value = pass->values[s - pass->def->params];
    return OLIVE_OK;
}

int olive_pass_set_pairs(olive_pass *pass, char **settings, size_t count)
{
    size_t n = pass->def->n_params;
    int rc = OLIVE_OK;
    /* All or nothing: remember the current values and restore them on failure. */
    char **saved = copy_values(pass->def, pass->values);
    if (!saved)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        char *eq = strchr(settings[i], '=');
        if (!eq || eq == settings[i]) {
            rc = olive_fail(OLIVE_EINVALID, "pass '%s': setting '%s' is not of the form key=value", pass->def->name,
                            settings[i]);
            break;
        }
        *eq = '\0';
        rc = olive_pass_instance_set(pass, settings[i], eq + 1);
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

int olive_pass_instance_set_many(olive_pass *pass, const char *settings)
{
    char **words;
    size_t n;
    int rc;
    OLIVE_TRY(olive_split_words(&words, &n, settings));
    rc = olive_pass_set_pairs(pass, words, n);
    olive_free_words(words, n);
    return rc;
}
