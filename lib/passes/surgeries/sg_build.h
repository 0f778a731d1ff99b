/* A small node builder for surgeons that write many nodes: node "<base>/<op>_<k>" writes
 * "<base>/<op>_<k>_output". Errors stick in `rc` (later calls do nothing and return ""), so a
 * surgeon writes its graph straight and checks once. */
#ifndef OLIVE_PASSES_SURGERIES_SG_BUILD_H
#define OLIVE_PASSES_SURGERIES_SG_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

typedef struct sg_bld {
    oir_graph *g;
    const char *base;
    int k, rc;
    size_t n, cap;
    char **names;            /* outputs made, freed with the builder */
    oir_node *last;          /* the node added last */
    const char *next_domain; /* the domain of the next sg_op's node (then back to ""), or NULL */
} sg_bld;

/* Adds sg_op(inputs...) (at most 8; "" for an omitted one) in the default domain; its output name
 * (owned by the builder). */
const char *sg_op(sg_bld *b, const char *type, size_t n_in, ...);
/* Attributes of the node added last. */
void sg_attr_int(sg_bld *b, const char *name, int64_t v);
void sg_attr_ints(sg_bld *b, const char *name, const int64_t *v, size_t n);
/* Constant nodes: int64 [1], float scalar, int64 [n] (or a scalar when `scalar`). */
const char *sg_const_i64(sg_bld *b, int64_t v);
const char *sg_const_f32(sg_bld *b, float v);
const char *sg_const_i64v(sg_bld *b, const int64_t *v, size_t n, int scalar);
/* Shorthands: int64 [1] and int64 scalar Constants. */
const char *sg_c1(sg_bld *b, int64_t v);
const char *sg_c0(sg_bld *b, int64_t v);
void sg_bld_free(sg_bld *b);

#endif
