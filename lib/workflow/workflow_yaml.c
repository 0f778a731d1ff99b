/* Workflow configs written in YAML (Olive accepts both): the document becomes the same JSON
 * tree a JSON config gives, so one parser checks both.
 *
 * Plain scalars follow YAML's core schema as Olive's configs use it: null / ~ / empty, true /
 * false (any case), integers, floats (incl. .inf / .nan), anything else a string; quoted
 * scalars are strings. Aliases are expanded, with limits on depth and on the number of values
 * produced, so a hostile document cannot exhaust memory. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "workflow/workflow.h"

#ifdef OLIVE_HAVE_YAML
#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define YAML_MAX_VALUES 1000000

typedef struct yaml_conv {
    yaml_document_t *doc;
    const char *source;
    size_t values;
} yaml_conv;

static int scalar_is(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcasecmp(s, *words))
            return 1;
    return 0;
}

static json_t *plain_scalar(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", NULL};
    static const char *const trues[] = {"true", NULL};
    static const char *const falses[] = {"false", NULL};
    char *end;
    if (scalar_is(s, nulls))
        return json_null();
    if (scalar_is(s, trues))
        return json_true();
    if (scalar_is(s, falses))
        return json_false();
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*s && !*end && !errno)
        return json_integer(i);
    if (!strcasecmp(s, ".inf") || !strcasecmp(s, "+.inf") || !strcasecmp(s, "-.inf") || !strcasecmp(s, ".nan"))
        return NULL; /* jansson has no inf/nan; a config never needs them */
    errno = 0;
    double d = strtod(s, &end);
    if (*s && !*end && !errno && isfinite(d) && strpbrk(s, "0123456789"))
        return json_real(d);
    return json_string(s);
}

static int convert(yaml_conv *c, yaml_node_t *node, int depth, json_t **out);

static int fail_at(const yaml_conv *c, const yaml_node_t *node, const char *what)
{
    return olive_fail(OLIVE_EFORMAT, "%s:%zu:%zu: %s", c->source, node->start_mark.line + 1,
                      node->start_mark.column + 1, what);
}

static int convert_mapping(yaml_conv *c, yaml_node_t *node, int depth, json_t *obj)
{
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        json_t *value;
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return fail_at(c, k ? k : node, "a mapping key must be a plain value");
        const char *key = (const char *)k->data.scalar.value;
        if (json_object_get(obj, key))
            return fail_at(c, k, "duplicate key");
        OLIVE_TRY(convert(c, v, depth + 1, &value));
        if (json_object_set_new(obj, key, value))
            return fail_at(c, k, "a key is not valid UTF-8");
    }
    return OLIVE_OK;
}

static int convert(yaml_conv *c, yaml_node_t *node, int depth, json_t **out)
{
    json_t *v = NULL;
    int rc = OLIVE_OK;
    if (depth > YAML_MAX_DEPTH)
        return fail_at(c, node, "nested too deeply");
    if (++c->values > YAML_MAX_VALUES)
        return fail_at(c, node, "too many values (aliases expand to more than a million)");
    switch (node->type) {
    case YAML_SCALAR_NODE:
        v = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar((const char *)node->data.scalar.value)
                                                                : json_string((const char *)node->data.scalar.value);
        if (!v)
            return fail_at(c, node, "a value is not valid UTF-8, or is inf/nan");
        break;
    case YAML_SEQUENCE_NODE:
        v = json_array();
        for (yaml_node_item_t *i = node->data.sequence.items.start; v && rc == OLIVE_OK && i < node->data.sequence.items.top; i++) {
            json_t *item;
            yaml_node_t *n = yaml_document_get_node(c->doc, *i);
            if (!n)
                rc = fail_at(c, node, "broken sequence");
            else if ((rc = convert(c, n, depth + 1, &item)) == OLIVE_OK)
                json_array_append_new(v, item);
        }
        break;
    case YAML_MAPPING_NODE:
        v = json_object();
        if (v)
            rc = convert_mapping(c, node, depth, v);
        break;
    default:
        return fail_at(c, node, "empty node");
    }
    if (!v)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (rc != OLIVE_OK) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return OLIVE_OK;
}

int wf_yaml_to_json(json_t **out, const char *text, const char *source)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    yaml_conv c = {&doc, source, 0};
    int rc;
    if (!yaml_parser_initialize(&parser))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        rc = olive_fail(OLIVE_EFORMAT, "%s:%zu:%zu: invalid YAML: %s", source, parser.problem_mark.line + 1,
                        parser.problem_mark.column + 1, parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return rc;
    }
    root = yaml_document_get_root_node(&doc);
    rc = root ? convert(&c, root, 0, out) : olive_fail(OLIVE_EFORMAT, "%s: the YAML document is empty", source);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

#else

int wf_yaml_to_json(json_t **out, const char *text, const char *source)
{
    (void)out;
    (void)text;
    return olive_fail(OLIVE_EUNSUPPORTED, "%s: YAML configs need libyaml, which this build was made without", source);
}

#endif
