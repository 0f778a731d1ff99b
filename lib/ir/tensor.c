#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

int oir_tensor_numel(const oir_tensor *t, uint64_t *out)
{
    uint64_t n = 1;
    for (size_t i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return olive_fail(OLIVE_EFORMAT, "tensor '%s' has negative dimension %lld at axis %zu",
                              t->name ? t->name : "", (long long)t->dims[i], i);
        if (!olive_mul_ok(n, (uint64_t)t->dims[i], &n))
            return olive_fail(OLIVE_EFORMAT, "tensor '%s' has a shape whose element count overflows",
                              t->name ? t->name : "");
    }
    *out = n;
    return OLIVE_OK;
}

int oir_tensor_expected_bytes(const oir_tensor *t, uint64_t *out)
{
    uint64_t n, bits;
    unsigned b = oir_dtype_bits(t->dtype);
    OLIVE_TRY(oir_tensor_numel(t, &n));
    if (b == 0)
        return olive_fail(OLIVE_EFORMAT, "tensor '%s' has data type %d (%s) without a fixed size",
                          t->name ? t->name : "", (int)t->dtype, oir_dtype_name(t->dtype));
    if (!olive_mul_ok(n, b, &bits) || bits > UINT64_MAX - 7)
        return olive_fail(OLIVE_EFORMAT, "tensor '%s' is too large", t->name ? t->name : "");
    *out = (bits + 7) / 8;
    return OLIVE_OK;
}

oir_tensor *oir_tensor_new(const char *name, int32_t dtype, size_t rank, const int64_t *dims)
{
    oir_tensor *t = olive_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dtype = dtype;
    t->rank = rank;
    if (!(t->name = olive_strdup(name ? name : "")) || (rank && !(t->dims = olive_memdup(dims, rank * sizeof *dims)))) {
        oir_tensor_free(t);
        return NULL;
    }
    return t;
}

int oir_tensor_set_blob(oir_tensor *t, olive_blob *blob, uint64_t offset, uint64_t nbytes)
{
    uint64_t want;
    OLIVE_TRY(oir_tensor_expected_bytes(t, &want));
    if (want != nbytes)
        return olive_fail(OLIVE_EFORMAT, "tensor '%s' (%s, %llu bytes expected for its shape) has %llu bytes of data",
                          t->name, oir_dtype_name(t->dtype), (unsigned long long)want, (unsigned long long)nbytes);
    if (blob && (offset > blob->size || nbytes > blob->size - offset))
        return olive_fail(OLIVE_EFORMAT, "tensor '%s': bytes %llu..%llu lie outside their %zu-byte storage", t->name,
                          (unsigned long long)offset, (unsigned long long)(offset + nbytes), blob->size);
    olive_blob_ref(blob);
    olive_blob_unref(t->blob);
    t->blob = blob;
    t->offset = offset;
    t->nbytes = nbytes;
    return OLIVE_OK;
}

int oir_tensor_set_copy(oir_tensor *t, const void *data, uint64_t nbytes)
{
    olive_blob *b;
    int rc;
    if (nbytes > SIZE_MAX)
        return olive_fail(OLIVE_ENOMEM, "tensor '%s' is too large for memory", t->name);
    OLIVE_TRY(olive_blob_alloc(&b, (size_t)nbytes));
    if (nbytes)
        memcpy((void *)b->data, data, (size_t)nbytes);
    rc = oir_tensor_set_blob(t, b, 0, nbytes);
    olive_blob_unref(b);
    return rc;
}

static void bytes_list_free(oir_bytes *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].data);
    free(list);
}

static int bytes_copy(oir_bytes *dst, const oir_bytes *src)
{
    dst->len = src->len;
    dst->data = NULL;
    if (!src->data)
        return OLIVE_OK;
    dst->data = olive_malloc(src->len + 1);
    if (!dst->data)
        return OLIVE_ENOMEM;
    memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    return OLIVE_OK;
}

oir_tensor *oir_tensor_clone(const oir_tensor *t)
{
    oir_tensor *c = oir_tensor_new(t->name, t->dtype, t->rank, t->dims);
    if (!c)
        return NULL;
    if (t->doc_string && !(c->doc_string = olive_strdup(t->doc_string)))
        goto fail;
    c->blob = olive_blob_ref(t->blob);
    c->offset = t->offset;
    c->nbytes = t->nbytes;
    if (t->n_strings) {
        c->strings = olive_calloc(t->n_strings, sizeof *c->strings);
        if (!c->strings)
            goto fail;
        c->n_strings = t->n_strings;
        for (size_t i = 0; i < t->n_strings; i++)
            if (bytes_copy(&c->strings[i], &t->strings[i]))
                goto fail;
    }
    if (bytes_copy(&c->passthrough, &t->passthrough))
        goto fail;
    return c;
fail:
    oir_tensor_free(c);
    return NULL;
}

void oir_tensor_free(oir_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->doc_string);
    free(t->dims);
    olive_blob_unref(t->blob);
    bytes_list_free(t->strings, t->n_strings);
    free(t->passthrough.data);
    free(t);
}
