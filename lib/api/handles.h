/* The structures behind the public opaque handles. */
#ifndef OLIVE_API_HANDLES_H
#define OLIVE_API_HANDLES_H

#include "ir/ir.h"
#include "olive/olive.h"
#include "passes/instance.h"

struct olive_model {
    oir_model *ir;
};

/* Wraps an IR model in a new handle (takes ownership of `ir`, freeing it on failure). */
int olive_model_wrap(olive_model **out, oir_model *ir);

#endif
