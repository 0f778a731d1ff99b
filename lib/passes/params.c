/* Parameter specs: validation of text values and typed access for passes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/registry.h"

const olive_param_spec *olive_param_data_folder(const olive_pass_def *def)
{
    for (size_t i = 0; i < def->n_params; i++)
        if (def->params[i].data_folder == 1)
            return &def->params[i];
    return NULL;
}

const olive_param_spec *olive_param_find(const olive_pass_def *def, const char *key)
{
    for (size_t i = 0; i < def->n_params; i++)
        if (!strcmp(def->params[i].name, key))
            return &def->params[i];
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = 1;
            return 1;
        }
        if (!strcasecmp(v, no[i])) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

static int parse_int(const char *v, int64_t *out)
{
    char *end;
    long long x;
    errno = 0;
    x = strtoll(v, &end, 0);
    if (errno || end == v || *end)
        return 0;
    *out = (int64_t)x;
    return 1;
}

static int parse_float(const char *v, double *out)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return 0;
    *out = x;
    return 1;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

int olive_param_check(const olive_pass_def *def, const olive_param_spec *s, const char *v)
{
    int b;
    int64_t i;
    double f;
    int has_bounds = s->min <= s->max;
    switch (s->type) {
    case OLIVE_PARAM_BOOL:
        if (!parse_bool(v, &b))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' takes true or false, not '%s'", def->name,
                              s->name, v);
        return OLIVE_OK;
    case OLIVE_PARAM_INT:
        if (!parse_int(v, &i))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' takes an integer, not '%s'", def->name,
                              s->name, v);
        if (has_bounds && ((double)i < s->min || (double)i > s->max))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' must be between %.17g and %.17g, not %s",
                              def->name, s->name, s->min, s->max, v);
        if (s->choices && !choice_ok(s->choices, v))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' must be one of %s, not %s", def->name, s->name,
                              s->choices, v);
        return OLIVE_OK;
    case OLIVE_PARAM_FLOAT:
        if (!parse_float(v, &f))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' takes a number, not '%s'", def->name, s->name,
                              v);
        if (has_bounds && (f < s->min || f > s->max))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' must be between %g and %g, not %s", def->name,
                              s->name, s->min, s->max, v);
        return OLIVE_OK;
    case OLIVE_PARAM_CHOICE:
        if (!choice_ok(s->choices, v))
            return olive_fail(OLIVE_EINVALID, "pass '%s': parameter '%s' must be one of %s, not '%s'", def->name,
                              s->name, s->choices, v);
        return OLIVE_OK;
    case OLIVE_PARAM_STRING:
    case OLIVE_PARAM_LIST: return OLIVE_OK;
    default:
        return olive_fail(OLIVE_EINTERNAL, "pass '%s': parameter '%s' has unknown type %d", def->name, s->name,
                          s->type);
    }
}

static const char *value_of(const olive_pass_args *a, const char *name)
{
    for (size_t i = 0; i < a->def->n_params; i++)
        if (!strcmp(a->def->params[i].name, name))
            return a->values[i];
    return NULL;
}

int64_t olive_args_int(const olive_pass_args *a, const char *name)
{
    int64_t v = 0;
    const char *s = value_of(a, name);
    return s && parse_int(s, &v) ? v : 0;
}

double olive_args_float(const olive_pass_args *a, const char *name)
{
    double v = 0;
    const char *s = value_of(a, name);
    return s && parse_float(s, &v) ? v : 0;
}

int olive_args_bool(const olive_pass_args *a, const char *name)
{
    int v = 0;
    const char *s = value_of(a, name);
    return s && parse_bool(s, &v) ? v : 0;
}

const char *olive_args_string(const olive_pass_args *a, const char *name)
{
    const char *s = value_of(a, name);
    return s ? s : "";
}

int olive_args_list_has(const olive_pass_args *a, const char *name, const char *item)
{
    const char *p = value_of(a, name);
    size_t n = strlen(item);
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && !strncmp(p, item, n))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

char *olive_param_canonical(const olive_param_spec *s, const char *v)
{
    int b;
    int64_t i;
    if (s->type == OLIVE_PARAM_BOOL && parse_bool(v, &b))
        return olive_strdup(b ? "true" : "false");
    if (s->type == OLIVE_PARAM_INT && parse_int(v, &i))
        return olive_asprintf("%" PRId64, i);
    return olive_strdup(v);
}
