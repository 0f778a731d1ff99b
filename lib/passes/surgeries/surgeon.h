/* How one graph surgeon describes itself to the GraphSurgeries pass: Olive's surgeon name, its
 * parameters (Olive's names and JSON types) and a function that rewrites the model.
 *
 * Each family file (io.c, norms.c, ...) exports a table of surgeons; surgeries.c lists the
 * tables. Adding a surgeon is one function and one line in its family's table. The pass checks
 * every entry of `surgeries` against these specs before any surgeon runs, so a surgeon may trust
 * its arguments' types; it checks the names they refer to itself, before it changes anything. */
#ifndef OLIVE_PASSES_SURGERIES_SURGEON_H
#define OLIVE_PASSES_SURGERIES_SURGEON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* JSON types a parameter accepts. */
enum {
    SG_STRING,  /* "text" */
    SG_STRINGS, /* ["a", "b"] */
    SG_INT,     /* 3 */
    SG_INTS,    /* [2, 0, 1] */
    SG_FLOAT,   /* 1.5 or 2 */
    SG_BOOL,    /* true / false */
};

typedef struct sg_param {
    const char *name;
    int type; /* SG_* */
    int required;
} sg_param;

struct sg_surgeon;

/* One checked entry of `surgeries`. */
typedef struct sg_args {
    const struct sg_surgeon *surgeon;
    const json_t *obj; /* the entry itself ({"surgeon": ..., params}) */
} sg_args;

typedef struct sg_surgeon {
    const char *name;       /* Olive's class name; matched without regard to case, as Olive does */
    const char *summary;    /* one line */
    const sg_param *params; /* terminated by an entry with a NULL name */
    /* 1 for surgeons that repair graphs the validator refuses (duplicate definitions): they run
     * on the model as loaded; the others only once it validates. */
    int repairs;
    /* Rewrites the model in place; OLIVE_OK or an error naming the surgeon and parameter. */
    int (*run)(oir_model *m, const sg_args *a);
} sg_surgeon;

/* Table rows: SG_SURGEON(name, summary, params, run) for ordinary surgeons. */
#define SG_SURGEON(name, summary, params, run)                                                                         \
    {                                                                                                                  \
        name, summary, params, 0, run                                                                                  \
    }
#define SG_REPAIR(name, summary, params, run)                                                                          \
    {                                                                                                                  \
        name, summary, params, 1, run                                                                                  \
    }
#define SG_END                                                                                                         \
    {                                                                                                                  \
        NULL, NULL, NULL, 0, NULL                                                                                      \
    }

/* A family's table, terminated by an entry with a NULL name. */
extern const sg_surgeon sg_family_io[];
extern const sg_surgeon sg_family_shapes[];
extern const sg_surgeon sg_family_elementwise[];
extern const sg_surgeon sg_family_norms[];
extern const sg_surgeon sg_family_gemm[];
extern const sg_surgeon sg_family_embeddings[];
extern const sg_surgeon sg_family_attention[];
extern const sg_surgeon sg_family_packed[];
extern const sg_surgeon sg_family_qdq[];
extern const sg_surgeon sg_family_cleanup[];
extern const sg_surgeon sg_family_dla[];
extern const sg_surgeon sg_family_newer[];

/* ---- argument access (types already checked) ---- */

/* 1 if the entry gives the parameter (null counts as absent). */
int sg_has(const sg_args *a, const char *name);
const char *sg_string(const sg_args *a, const char *name, const char *fallback);
int64_t sg_int(const sg_args *a, const char *name, int64_t fallback);
double sg_float(const sg_args *a, const char *name, double fallback);
int sg_bool(const sg_args *a, const char *name, int fallback);
/* Length of a list parameter (0 when absent) and its items. */
size_t sg_list_len(const sg_args *a, const char *name);
const char *sg_list_string(const sg_args *a, const char *name, size_t i);
int64_t sg_list_int(const sg_args *a, const char *name, size_t i);
/* Fails with OLIVE_EINVALID: "surgeon 'X' parameter 'p': <message>". */
int sg_fail(const sg_args *a, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
