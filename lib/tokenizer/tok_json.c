/* Field getters for tokenizer.json. */
#include "tokenizer/tok_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_text.h"

int otok_json_fail(const char *path, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        return olive_fail(OLIVE_EFORMAT, "%s%s%s: %s", path, *path ? "." : "", key, msg);
    return olive_fail(OLIVE_EFORMAT, "%s: %s", path, msg);
}

static json_t *field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int otok_json_string(json_t *obj, const char *path, const char *key, int required, const char **out, size_t *len)
{
    json_t *v = field(obj, key);
    if (!v) {
        if (required)
            return otok_json_fail(path, key, "missing");
        return OLIVE_OK;
    }
    if (!json_is_string(v))
        return otok_json_fail(path, key, "expected a string");
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return OLIVE_OK;
}

int otok_json_bool(json_t *obj, const char *path, const char *key, int *out)
{
    json_t *v = field(obj, key);
    if (!v)
        return OLIVE_OK;
    if (!json_is_boolean(v))
        return otok_json_fail(path, key, "expected true or false");
    *out = json_is_true(v);
    return OLIVE_OK;
}

int otok_json_uint(json_t *obj, const char *path, const char *key, uint64_t max, uint64_t *out)
{
    json_t *v = field(obj, key);
    if (!v)
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return otok_json_fail(path, key, "expected a non-negative integer");
    if ((uint64_t)json_integer_value(v) > max)
        return otok_json_fail(path, key, "%lld is larger than %llu", (long long)json_integer_value(v),
                              (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return OLIVE_OK;
}

int otok_json_double(json_t *obj, const char *path, const char *key, double *out)
{
    json_t *v = field(obj, key);
    if (!v)
        return OLIVE_OK;
    if (!json_is_number(v))
        return otok_json_fail(path, key, "expected a number");
    *out = json_number_value(v);
    return OLIVE_OK;
}

int otok_json_char(json_t *obj, const char *path, const char *key, uint32_t *out)
{
    const char *s = NULL;
    size_t n = 0;
    OLIVE_TRY(otok_json_string(obj, path, key, 1, &s, &n));
    uint32_t cp;
    if (n == 0 || otok_utf8_valid_at(s, n, 0) != n)
        return otok_json_fail(path, key, "expected a single character");
    otok_utf8_next(s, 0, &cp);
    *out = cp;
    return OLIVE_OK;
}

int otok_json_type(json_t *obj, const char *path, const char **out)
{
    if (!json_is_object(obj))
        return otok_json_fail(path, NULL, "expected an object");
    return otok_json_string(obj, path, "type", 1, out, NULL);
}

char *otok_json_path(const char *path, const char *key, long i)
{
    if (key)
        return olive_asprintf("%s%s%s", path, *path ? "." : "", key);
    return olive_asprintf("%s[%ld]", path, i);
}
