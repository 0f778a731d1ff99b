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

/* The document is built from libyaml's events rather than its loader: the loader builds the
 * whole node tree first (quadratic in nesting depth inside libyaml), where the events let the
 * depth limit stop a deep document after its first levels. */

typedef struct yaml_frame {
    json_t *value; /* the array or object being filled */
    char *key;     /* mapping: the key waiting for its value, NULL when a key is next */
    yaml_mark_t key_mark;
    char *anchor;       /* the anchor named on this node, or NULL */
    size_t first_value; /* c->values when the node started, to count its size */
    int height;         /* nesting levels below this node so far */
} yaml_frame;

typedef struct yaml_anchor {
    char *name;
    json_t *value;
    size_t size; /* values it holds, counted again at every alias */
    int height;
} yaml_anchor;

typedef struct yaml_build {
    const char *source;
    size_t values;
    yaml_frame stack[YAML_MAX_DEPTH + 1];
    int depth;
    yaml_anchor *anchors;
    size_t n_anchors, cap_anchors;
    json_t *root;
} yaml_build;

static int fail_at(const yaml_build *c, yaml_mark_t mark, const char *what)
{
    return olive_fail(OLIVE_EFORMAT, "%s:%zu:%zu: %s", c->source, mark.line + 1, mark.column + 1, what);
}

static int remember_anchor(yaml_build *c, const char *name, json_t *value, size_t size, int height)
{
    yaml_anchor *a = NULL;
    for (size_t i = 0; i < c->n_anchors; i++)
        if (!strcmp(c->anchors[i].name, name))
            a = &c->anchors[i]; /* a later anchor of the same name replaces the earlier */
    if (!a) {
        if (c->n_anchors == c->cap_anchors) {
            size_t cap = c->cap_anchors ? 2 * c->cap_anchors : 8;
            yaml_anchor *grown = realloc(c->anchors, cap * sizeof *grown);
            if (!grown)
                return olive_fail(OLIVE_ENOMEM, "out of memory");
            c->anchors = grown;
            c->cap_anchors = cap;
        }
        a = &c->anchors[c->n_anchors];
        if (!(a->name = strdup(name)))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        a->value = NULL;
        c->n_anchors++;
    }
    json_decref(a->value);
    a->value = json_incref(value);
    a->size = size;
    a->height = height;
    return OLIVE_OK;
}

/* Places a finished value (of `size` values, `height` levels) into the node being filled. */
static int place(yaml_build *c, json_t *v, yaml_mark_t mark, int height)
{
    yaml_frame *f;
    if (!c->depth) {
        c->root = v;
        return OLIVE_OK;
    }
    f = &c->stack[c->depth - 1];
    if (height + 1 > f->height)
        f->height = height + 1;
    if (json_is_array(f->value)) {
        if (json_array_append_new(f->value, v))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        return OLIVE_OK;
    }
    if (!f->key) {
        json_decref(v);
        return fail_at(c, mark, "a mapping key must be a plain value");
    }
    if (json_object_get(f->value, f->key)) {
        json_decref(v);
        return fail_at(c, f->key_mark, "duplicate key");
    }
    if (json_object_set_new(f->value, f->key, v))
        return fail_at(c, f->key_mark, "a key is not valid UTF-8");
    free(f->key);
    f->key = NULL;
    return OLIVE_OK;
}

static int count_value(yaml_build *c, yaml_mark_t mark, size_t n)
{
    if (n > YAML_MAX_VALUES || (c->values += n) > YAML_MAX_VALUES)
        return fail_at(c, mark, "too many values (aliases expand to more than a million)");
    return OLIVE_OK;
}

static int on_scalar(yaml_build *c, const yaml_event_t *e)
{
    const char *text = (const char *)e->data.scalar.value;
    yaml_frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
    json_t *v;
    OLIVE_TRY(count_value(c, e->start_mark, 1));
    if (f && json_is_object(f->value) && !f->key) {
        if (!(f->key = strdup(text)))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        f->key_mark = e->start_mark;
        return OLIVE_OK;
    }
    v = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(text) : json_string(text);
    if (!v)
        return fail_at(c, e->start_mark, "a value is not valid UTF-8, or is inf/nan");
    if (e->data.scalar.anchor && remember_anchor(c, (const char *)e->data.scalar.anchor, v, 1, 0) != OLIVE_OK) {
        json_decref(v);
        return olive_error_code();
    }
    return place(c, v, e->start_mark, 0);
}

static int on_alias(yaml_build *c, const yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    const yaml_anchor *a = NULL;
    json_t *copy;
    for (size_t i = 0; i < c->n_anchors; i++)
        if (!strcmp(c->anchors[i].name, name))
            a = &c->anchors[i];
    if (!a)
        return fail_at(c, e->start_mark,
                       "an alias names an anchor that is not defined before it (or that "
                       "contains the alias)");
    OLIVE_TRY(count_value(c, e->start_mark, a->size));
    if (c->depth + a->height > YAML_MAX_DEPTH)
        return fail_at(c, e->start_mark, "nested too deeply");
    if (!(copy = json_deep_copy(a->value)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    return place(c, copy, e->start_mark, a->height);
}

static int on_start(yaml_build *c, const yaml_event_t *e, int is_map)
{
    const yaml_char_t *anchor = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
    yaml_frame *f;
    if (c->depth && json_is_object(c->stack[c->depth - 1].value) && !c->stack[c->depth - 1].key)
        return fail_at(c, e->start_mark, "a mapping key must be a plain value");
    if (c->depth >= YAML_MAX_DEPTH)
        return fail_at(c, e->start_mark, "nested too deeply");
    OLIVE_TRY(count_value(c, e->start_mark, 1));
    f = &c->stack[c->depth];
    memset(f, 0, sizeof *f);
    f->first_value = c->values - 1;
    if (!(f->value = is_map ? json_object() : json_array()) ||
        (anchor && !(f->anchor = strdup((const char *)anchor)))) {
        json_decref(f->value);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    c->depth++;
    return OLIVE_OK;
}

static int on_end(yaml_build *c, const yaml_event_t *e)
{
    yaml_frame f = c->stack[--c->depth];
    int rc = OLIVE_OK;
    free(f.key); /* a key without a value cannot reach here: libyaml gives it a null value */
    if (f.anchor)
        rc = remember_anchor(c, f.anchor, f.value, c->values - f.first_value, f.height);
    free(f.anchor);
    if (rc != OLIVE_OK) {
        json_decref(f.value);
        return rc;
    }
    return place(c, f.value, e->start_mark, f.height);
}

static void build_free(yaml_build *c)
{
    while (c->depth) {
        yaml_frame *f = &c->stack[--c->depth];
        json_decref(f->value);
        free(f->key);
        free(f->anchor);
    }
    for (size_t i = 0; i < c->n_anchors; i++) {
        free(c->anchors[i].name);
        json_decref(c->anchors[i].value);
    }
    free(c->anchors);
}

int wf_yaml_to_json(json_t **out, const char *text, const char *source)
{
    yaml_parser_t parser;
    yaml_build c;
    int rc = OLIVE_OK, done = 0;
    memset(&c, 0, sizeof c);
    c.source = source;
    if (!yaml_parser_initialize(&parser))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    /* The first document only, as a loader reads it. */
    while (rc == OLIVE_OK && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            rc = olive_fail(OLIVE_EFORMAT, "%s:%zu:%zu: invalid YAML: %s", source, parser.problem_mark.line + 1,
                            parser.problem_mark.column + 1, parser.problem ? parser.problem : "parse error");
            break;
        }
        switch (e.type) {
        case YAML_SCALAR_EVENT: rc = on_scalar(&c, &e); break;
        case YAML_ALIAS_EVENT: rc = on_alias(&c, &e); break;
        case YAML_SEQUENCE_START_EVENT: rc = on_start(&c, &e, 0); break;
        case YAML_MAPPING_START_EVENT: rc = on_start(&c, &e, 1); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: rc = on_end(&c, &e); break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    if (rc == OLIVE_OK && !c.root)
        rc = olive_fail(OLIVE_EFORMAT, "%s: the YAML document is empty", source);
    if (rc == OLIVE_OK)
        *out = c.root;
    else
        json_decref(c.root);
    build_free(&c);
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
