/* Running a pass definition directly on an IR model in C unit tests, with chosen parameters
 * (the others keep their defaults). */
#ifndef OLIVE_TEST_PASS_UTIL_H
#define OLIVE_TEST_PASS_UTIL_H

#include <string.h>

#include "passes/registry.h"

typedef struct {
    const char *key, *value;
} setting;

/* `set` is NULL or an array ending with {NULL, NULL}; `ctx` may be NULL. */
static inline int pass_run_with(const olive_pass_def *d, oir_model *m, const setting *set, olive_pass_ctx *ctx)
{
    char *values[32];
    olive_pass_args args = {d, values};
    if (d->n_params > 32)
        return OLIVE_EINTERNAL;
    for (size_t i = 0; i < d->n_params; i++) {
        values[i] = (char *)d->params[i].default_value;
        for (const setting *s = set; s && s->key; s++)
            if (!strcmp(s->key, d->params[i].name))
                values[i] = (char *)s->value;
    }
    return olive_pass_run_def(d, &args, m, ctx);
}

#endif
