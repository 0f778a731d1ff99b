/* Search spaces: the parameters a search chooses, each with the values it may take, in Olive's
 * forms. A parameter is categorical (a fixed list of values) or conditional (its values depend
 * on the values chosen for earlier parameters, its parents: Olive's Conditional and
 * ConditionalDefault). Values are kept in the text form olive_pass_set takes.
 *
 * Two special values come from Olive: WS_INVALID (a point holding it is not a candidate) and
 * WS_IGNORED (the parameter is left at the pass's default).
 *
 * A point is one index per parameter into the support that parameter has given its parents'
 * values. Points are visited in Olive's SequentialSampler order: the first parameter varies
 * fastest. */
#ifndef OLIVE_WORKFLOW_SEARCH_SPACE_H
#define OLIVE_WORKFLOW_SEARCH_SPACE_H

#include <stddef.h>

#include <jansson.h>

#define WS_INVALID "OLIVE_INVALID_PARAM_VALUE"
#define WS_IGNORED "OLIVE_IGNORED_PARAM_VALUE"
/* The most points a space may have (the searches here enumerate them). */
#define WS_MAX_POINTS 100000

typedef struct ws_support {
    size_t n;
    char **values; /* owned text forms */
} ws_support;

/* One row of a conditional parameter: the parents' values and the support they give. */
typedef struct ws_case {
    char **parent_values; /* one per parent (owned) */
    ws_support support;
} ws_case;

typedef struct ws_param {
    char *name; /* "slot.param", or "slot" for the choice of a slot's pass */
    size_t n_parents;
    size_t *parents; /* indices of earlier parameters */
    size_t n_cases;
    ws_case *cases;
    ws_support support; /* categorical: the values; conditional: the default */
} ws_param;

typedef struct ws_space {
    size_t n;
    ws_param *params;
} ws_space;

/* Appends a categorical parameter. Errors: OLIVE_EINVALID when `n` is 0 or a value repeats;
 * OLIVE_ENOMEM. */
int ws_space_add_categorical(ws_space *s, const char *name, const char *const *values, size_t n);

/* Appends a parameter from Olive's JSON: {"olive_parameter_type": "SearchParameter", "type":
 * "Categorical", "support": [...]}, or type "Conditional" / "ConditionalDefault" with "parents",
 * "support" nested by parent value and "default". Parent names are looked up as `prefix` +
 * name among the parameters already added. `where` names the value in messages.
 * Errors: OLIVE_EINVALID for a malformed or empty object, an unknown parent, a key that is
 * not one of the parent's values; OLIVE_ENOMEM. */
int ws_space_add_json(ws_space *s, const char *name, const json_t *v, const char *prefix, const char *where);

/* A copy of the parameters of `s` that `keep` marks (one flag per parameter), in their order,
 * into *out (owned; ws_space_clear). Errors: OLIVE_EINVALID naming a kept parameter whose parent
 * is not kept; OLIVE_ENOMEM. */
int ws_space_subset(ws_space *out, const ws_space *s, const unsigned char *keep);

/* 1 when `v` is one of Olive's search parameter objects. */
int ws_is_search_parameter(const json_t *v);

/* The support of parameter `p` given the values chosen for the earlier parameters. */
const ws_support *ws_space_support(const ws_space *s, size_t p, const size_t *idx);
/* The value of parameter `p` at a point (borrowed). */
const char *ws_space_value(const ws_space *s, size_t p, const size_t *idx);

/* Point iteration in the stable order. ws_space_first sets idx to the first valid point;
 * ws_space_next moves to the next. Both return 1 when idx holds a point, 0 at the end. */
int ws_space_first(const ws_space *s, size_t *idx);
int ws_space_next(const ws_space *s, size_t *idx);

/* The number of valid points (at most WS_MAX_POINTS + 1). */
size_t ws_space_count(const ws_space *s);

/* Checks the space: at least one valid point and at most WS_MAX_POINTS. Errors:
 * OLIVE_EINVALID ("empty" or contradictory: every point holds an invalid value; too large). */
int ws_space_check(const ws_space *s, const char *where);

/* "name=value name=value" for a point, leaving out ignored values (owned; NULL on ENOMEM). */
char *ws_space_describe(const ws_space *s, const size_t *idx);

void ws_space_clear(ws_space *s);

#endif
