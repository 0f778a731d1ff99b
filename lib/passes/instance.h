/* A pass instance: a registered pass with one text value per parameter. The public
 * `olive_pass` handle is this structure; the engine and workflows hold instances too. */
#ifndef OLIVE_PASSES_INSTANCE_H
#define OLIVE_PASSES_INSTANCE_H

#include <stdatomic.h>

#include "passes/registry.h"

struct olive_pass {
    atomic_int refs; /* the engine and workflows hold references too */
    const olive_pass_def *def;
    char **values; /* one text value per parameter spec, canonical form */
};

/* A new instance of `def` with every parameter at its default. Errors: OLIVE_ENOMEM. */
int olive_pass_instance_new(olive_pass **out, const olive_pass_def *def);
/* A new instance of the pass registered as `name` (a pass name or an Olive pass type); an Olive
 * type that is a setting of a more general pass ("OnnxMatMul4Quantizer": quantize bits=4) starts
 * from that setting. Errors: OLIVE_ENOTFOUND (listing the known passes), OLIVE_ENOMEM. */
int olive_pass_instance_new_named(olive_pass **out, const char *name);
/* An independent copy with the same parameter values (the engine freezes what it runs).
 * Errors: OLIVE_ENOMEM. */
int olive_pass_instance_clone(olive_pass **out, const olive_pass *pass);
/* Takes and drops a reference; the last drop frees the instance. Both accept NULL. */
olive_pass *olive_pass_ref(olive_pass *pass);
void olive_pass_unref(olive_pass *pass);

/* Checks and stores one value. Errors: OLIVE_ENOTFOUND (unknown key, listing the valid ones),
 * OLIVE_EINVALID (value refused, naming pass, key and what is accepted), OLIVE_ENOMEM. */
int olive_pass_instance_set(olive_pass *pass, const char *key, const char *value);
/* The current text value of `key` (borrowed from the instance). Errors: OLIVE_ENOTFOUND. */
int olive_pass_instance_get(const olive_pass *pass, const char *key, const char **value);
/* Sets several "key=value" settings given as separate strings; all or nothing. */
int olive_pass_set_pairs(olive_pass *pass, char **settings, size_t count);
/* The same from one string of space-separated "key=value" settings. */
int olive_pass_instance_set_many(olive_pass *pass, const char *settings);

/* The instance's parameter values as args for a run (borrowed from the instance). */
static inline olive_pass_args olive_pass_args_of(const olive_pass *p)
{
    olive_pass_args a = {p->def, p->values};
    return a;
}

#endif
