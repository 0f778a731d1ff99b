/* Reading the JSON documents the library returns. */
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"

json_t *cli_json_take(char *text, const char *what)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    olive_free(text);
    if (!doc)
        fprintf(stderr, "olive: error: the library returned an unreadable %s (line %d: %s)\n", what, err.line,
                err.text);
    return doc;
}

json_t *cli_json_get(const json_t *obj, const char *name)
{
    return json_is_object(obj) ? json_object_get(obj, name) : NULL;
}

const char *cli_json_str(const json_t *obj, const char *name, const char *fallback)
{
    const json_t *v = cli_json_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : fallback;
}

int64_t cli_json_int(const json_t *obj, const char *name, int64_t fallback)
{
    const json_t *v = cli_json_get(obj, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return fallback;
}

const char *cli_json_scalar_text(const json_t *value, char *buf, size_t size)
{
    if (json_is_string(value))
        snprintf(buf, size, "%s", json_string_value(value));
    else if (json_is_integer(value))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    else if (json_is_real(value)) {
        /* Integer bounds arrive as reals: print 2147483647, not 2.14748e+09. */
        double v = json_real_value(value);
        if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
            snprintf(buf, size, "%lld", (long long)v);
        else
            snprintf(buf, size, "%g", v);
    } else if (json_is_boolean(value))
        snprintf(buf, size, "%s", json_is_true(value) ? "true" : "false");
    else if (size)
        buf[0] = '\0';
    return buf;
}
