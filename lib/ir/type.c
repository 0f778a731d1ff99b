#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

oir_type *oir_type_new_tensor(int32_t elem_type, size_t rank, const int64_t *dims, const char *const *params)
{
    oir_type *t = olive_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = OIR_TYPE_TENSOR;
    t->elem_type = elem_type;
    t->has_shape = 1;
    t->rank = rank;
    if (rank && !(t->dims = olive_calloc(rank, sizeof *t->dims))) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < rank; i++) {
        if (params && params[i]) {
            if (!(t->dims[i].param = olive_strdup(params[i]))) {
                oir_type_free(t);
                return NULL;
            }
        } else if (dims && dims[i] >= 0) {
            t->dims[i].has_value = 1;
            t->dims[i].value = dims[i];
        }
    }
    return t;
}

oir_type *oir_type_clone(const oir_type *src)
{
    oir_type *t;
    if (!src)
        return NULL;
    t = olive_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    *t = *src;
    t->dims = NULL;
    t->inner = NULL;
    t->denotation = NULL;
    if (src->denotation && !(t->denotation = olive_strdup(src->denotation)))
        goto fail;
    if (src->rank) {
        if (!(t->dims = olive_calloc(src->rank, sizeof *t->dims)))
            goto fail;
        for (size_t i = 0; i < src->rank; i++) {
            t->dims[i].has_value = src->dims[i].has_value;
            t->dims[i].value = src->dims[i].value;
            if ((src->dims[i].param && !(t->dims[i].param = olive_strdup(src->dims[i].param))) ||
                (src->dims[i].denotation && !(t->dims[i].denotation = olive_strdup(src->dims[i].denotation))))
                goto fail;
        }
    }
    if (src->inner && !(t->inner = oir_type_clone(src->inner)))
        goto fail;
    return t;
fail:
    oir_type_free(t);
    return NULL;
}

void oir_type_free(oir_type *t)
{
    if (!t)
        return;
    if (t->dims)
        for (size_t i = 0; i < t->rank; i++) {
            free(t->dims[i].param);
            free(t->dims[i].denotation);
        }
    free(t->dims);
    free(t->denotation);
    oir_type_free(t->inner);
    free(t);
}

int oir_value_info_copy(oir_value_info *dst, const oir_value_info *src)
{
    dst->name = olive_strdup(src->name ? src->name : "");
    dst->doc_string = src->doc_string ? olive_strdup(src->doc_string) : NULL;
    dst->type = src->type ? oir_type_clone(src->type) : NULL;
    if (!dst->name || (src->doc_string && !dst->doc_string) || (src->type && !dst->type)) {
        oir_value_info_clear(dst);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

void oir_value_info_clear(oir_value_info *vi)
{
    free(vi->name);
    free(vi->doc_string);
    oir_type_free(vi->type);
    vi->name = vi->doc_string = NULL;
    vi->type = NULL;
}
