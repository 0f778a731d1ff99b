/* The structures behind the public opaque handles. */
#ifndef OLIVE_API_HANDLES_H
#define OLIVE_API_HANDLES_H

#include "ir/ir.h"
#include "olive/olive.h"
#include "passes/registry.h"

struct olive_model {
    oir_model *ir;
};

struct olive_pass {
    int refs;                  /* atomic; the engine holds references too */
    const olive_pass_def *def;
    char **values;             /* one text value per parameter spec */
};

/* Wraps an IR model in a new handle (takes ownership of `ir`, freeing it on failure). */
int olive_model_wrap(olive_model **out, oir_model *ir);

/* Pass instances. */
olive_pass *olive_pass_ref(olive_pass *pass);
/* Copies of the pass's parameter values as args for a run. */
static inline olive_pass_args olive_pass_args_of(const olive_pass *p)
{
    olive_pass_args a = {p->def, p->values};
    return a;
}
/* Sets several "key=value" settings given as separate strings; all or nothing. */
int olive_pass_set_pairs(olive_pass *pass, char **settings, size_t count);

#endif
