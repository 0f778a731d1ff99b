/* TensorProto -> oir_tensor: raw bytes left in the mapped file where they lie, typed fields
 * converted to little-endian bytes, external data resolved, every size checked first. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onnx/onnx_load_ctx.h"
#include "onnx/onnx_wire.h"

#define TENSOR_SEGMENT 3 /* field number of TensorProto.segment, kept as passthrough */

static const char *str(const char *s)
{
    return s ? s : "";
}

static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (s && !(*dst = olive_strdup(s)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

int onnx_copy_bytes(oir_bytes *dst, const ProtobufCBinaryData *src)
{
    dst->data = olive_malloc(src->len + 1);
    if (!dst->data)
        return OLIVE_ENOMEM;
    if (src->len)
        memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    dst->len = src->len;
    return OLIVE_OK;
}

static int raw_to_blob(const oir_tensor *t, const uint8_t *data, size_t len, olive_blob **out)
{
    void *copy = olive_malloc(len ? len : 1);
    if (!copy)
        return olive_fail(OLIVE_ENOMEM, "tensor '%s': out of memory for %zu bytes", t->name, len);
    if (len)
        memcpy(copy, data, len);
    return olive_blob_from_heap(out, copy, len);
}

/* Which typed field holds elements of `dtype`, how many entries make one element, and the
 * little-endian width each entry is stored with. */
enum { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 };

static int typed_field(int32_t dtype, int *per_elem, unsigned *width)
{
    *per_elem = 1;
    switch (dtype) {
    case OIR_FLOAT: *width = 4; return F_FLOAT;
    case OIR_COMPLEX64:
        *width = 4;
        *per_elem = 2;
        return F_FLOAT;
    case OIR_DOUBLE: *width = 8; return F_DOUBLE;
    case OIR_COMPLEX128:
        *width = 8;
        *per_elem = 2;
        return F_DOUBLE;
    case OIR_INT64: *width = 8; return F_INT64;
    case OIR_UINT32: *width = 4; return F_UINT64;
    case OIR_UINT64: *width = 8; return F_UINT64;
    case OIR_INT32: *width = 4; return F_INT32;
    case OIR_INT16:
    case OIR_UINT16:
    case OIR_FLOAT16:
    case OIR_BFLOAT16: *width = 2; return F_INT32;
    case OIR_INT8:
    case OIR_UINT8:
    case OIR_BOOL:
    case OIR_FLOAT8E4M3FN:
    case OIR_FLOAT8E4M3FNUZ:
    case OIR_FLOAT8E5M2:
    case OIR_FLOAT8E5M2FNUZ: *width = 1; return F_INT32;
    case OIR_UINT4:
    case OIR_INT4:
    case OIR_FLOAT4E2M1:
        *width = 1;
        *per_elem = 0;
        return F_INT32; /* one entry per byte (two elements) */
    default: *width = 0; return F_NONE;
    }
}

static const char *field_name(int f)
{
    static const char *names[] = {"", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"};
    return names[f];
}

static size_t field_count(const Onnx__TensorProto *tp, int f)
{
    switch (f) {
    case F_FLOAT: return tp->n_float_data;
    case F_INT32: return tp->n_int32_data;
    case F_INT64: return tp->n_int64_data;
    case F_DOUBLE: return tp->n_double_data;
    case F_UINT64: return tp->n_uint64_data;
    default: return 0;
    }
}

/* Writes the typed entries as little-endian values of `width` bytes. */
static void encode_typed(uint8_t *out, const Onnx__TensorProto *tp, int f, unsigned width, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        switch (f) {
        case F_FLOAT: {
            uint32_t u;
            memcpy(&u, &tp->float_data[i], 4);
            v = u;
            break;
        }
        case F_DOUBLE: memcpy(&v, &tp->double_data[i], 8); break;
        case F_INT32: v = (uint64_t)(int64_t)tp->int32_data[i]; break;
        case F_INT64: v = (uint64_t)tp->int64_data[i]; break;
        case F_UINT64: v = tp->uint64_data[i]; break;
        }
        for (unsigned b = 0; b < width; b++)
            out[i * width + b] = (uint8_t)(v >> (8 * b));
    }
}

static int count_data_fields(const Onnx__TensorProto *tp, int has_raw)
{
    return !!has_raw + !!tp->n_float_data + !!tp->n_int32_data + !!tp->n_int64_data + !!tp->n_double_data +
           !!tp->n_uint64_data + !!tp->n_string_data;
}

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int tensor_external(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, oir_tensor *t, uint64_t need)
{
    const char *location = NULL, *off_s = NULL, *len_s = NULL;
    uint64_t offset = 0, length = need;
    olive_blob *file;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = str(tp->external_data[i]->key), *v = str(tp->external_data[i]->value);
        if (!strcmp(k, "location"))
            location = v;
        else if (!strcmp(k, "offset"))
            off_s = v;
        else if (!strcmp(k, "length"))
            len_s = v;
    }
    if (!location)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' is stored externally but has no location", ctx->what,
                          t->name);
    if (off_s && parse_u64(off_s, &offset))
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has an invalid external data offset '%s'", ctx->what, t->name,
                          off_s);
    if (len_s && parse_u64(len_s, &length))
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has an invalid external data length '%s'", ctx->what, t->name,
                          len_s);
    if (length != need)
        return olive_fail(OLIVE_EFORMAT,
                          "%s: tensor '%s': external data length %llu does not match the %llu bytes "
                          "its type and shape need",
                          ctx->what, t->name, (unsigned long long)length, (unsigned long long)need);
    OLIVE_TRY(onnx_external_file(ctx, location, t->name, &file));
    if (offset > file->size || length > file->size - offset)
        return olive_fail(OLIVE_EFORMAT,
                          "%s: tensor '%s': external data at offset %llu, length %llu lies past the "
                          "end of '%s' (%zu bytes)",
                          ctx->what, t->name, (unsigned long long)offset, (unsigned long long)length, location,
                          file->size);
    return oir_tensor_set_blob(t, file, offset, length);
}

static int tensor_strings(const Onnx__TensorProto *tp, oir_tensor *t, uint64_t numel, const char *what)
{
    if (tp->n_string_data != numel)
        return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' has %zu elements but its shape needs %llu", what,
                          t->name, tp->n_string_data, (unsigned long long)numel);
    if (!numel)
        return OLIVE_OK;
    t->strings = olive_calloc(numel, sizeof *t->strings);
    if (!t->strings)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < numel; i++) {
        OLIVE_TRY(onnx_copy_bytes(&t->strings[i], &tp->string_data[i]));
        t->n_strings = i + 1;
    }
    return OLIVE_OK;
}

static int tensor_data(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, oir_tensor *t, const onnx_raw_range *raw)
{
    int has_raw = tp->has_raw_data || (raw && raw->present);
    uint64_t numel, need;
    int f, per_elem;
    unsigned width;
    size_t count;
    olive_blob *blob;
    int rc;

    OLIVE_TRY(oir_tensor_numel(t, &numel));
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (t->dtype == OIR_STRING)
            return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' cannot be stored externally", ctx->what, t->name);
        OLIVE_TRY(oir_tensor_expected_bytes(t, &need));
        return tensor_external(ctx, tp, t, need);
    }
    if (count_data_fields(tp, has_raw) > 1)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' stores its data in more than one field", ctx->what, t->name);
    if (t->dtype == OIR_STRING) {
        if (has_raw || count_data_fields(tp, 0) > !!tp->n_string_data)
            return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' must keep its data in string_data", ctx->what,
                              t->name);
        return tensor_strings(tp, t, numel, ctx->what);
    }
    if (tp->n_string_data)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' of type %s has string_data", ctx->what, t->name,
                          oir_dtype_name(t->dtype));
    OLIVE_TRY(oir_tensor_expected_bytes(t, &need));
    if (has_raw) {
        uint64_t len = raw && raw->present ? raw->len : tp->raw_data.len;
        if (len != need)
            return olive_fail(OLIVE_EFORMAT,
                              "%s: tensor '%s' has %llu bytes of raw_data but %s with %llu elements "
                              "needs %llu",
                              ctx->what, t->name, (unsigned long long)len, oir_dtype_name(t->dtype),
                              (unsigned long long)numel, (unsigned long long)need);
        if (raw && raw->present)
            return oir_tensor_set_blob(t, ctx->model_blob, raw->offset, raw->len);
        if (!len)
            return OLIVE_OK;
        OLIVE_TRY(raw_to_blob(t, tp->raw_data.data, tp->raw_data.len, &blob));
        rc = oir_tensor_set_blob(t, blob, 0, len);
        olive_blob_unref(blob);
        return rc;
    }
    f = typed_field(t->dtype, &per_elem, &width);
    if (count_data_fields(tp, 0) && field_count(tp, f) == 0) {
        const char *used = tp->n_float_data    ? "float_data"
                           : tp->n_int32_data  ? "int32_data"
                           : tp->n_int64_data  ? "int64_data"
                           : tp->n_double_data ? "double_data"
                                               : "uint64_data";
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' of type %s stores its data in %s", ctx->what, t->name,
                          oir_dtype_name(t->dtype), used);
    }
    count = field_count(tp, f);
    /* Checked before allocating: huge declared shapes with little data fail here. */
    if ((per_elem ? (uint64_t)count != numel * (uint64_t)per_elem : (uint64_t)count != need) || need == 0) {
        if (need == 0 && count == 0)
            return OLIVE_OK;
        if (count == 0)
            return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' (%s, %llu elements) has no data", ctx->what, t->name,
                              oir_dtype_name(t->dtype), (unsigned long long)numel);
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has %zu entries in %s but %s with %llu elements needs %llu",
                          ctx->what, t->name, count, field_name(f), oir_dtype_name(t->dtype), (unsigned long long)numel,
                          (unsigned long long)(per_elem ? numel * (uint64_t)per_elem : need));
    }
    OLIVE_TRY(olive_blob_alloc(&blob, (size_t)need));
    encode_typed((uint8_t *)blob->data, tp, f, width, count);
    rc = oir_tensor_set_blob(t, blob, 0, need);
    olive_blob_unref(blob);
    return rc;
}

int onnx_tensor_from_proto(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, const onnx_raw_range *raw, oir_tensor **out)
{
    const char *name = str(tp->name);
    int32_t dtype = tp->has_data_type ? tp->data_type : OIR_UNDEFINED;
    oir_tensor *t;
    int rc;

    if (dtype <= OIR_UNDEFINED || dtype >= OIR_DTYPE_COUNT)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has unknown data type %d", ctx->what, name, (int)dtype);
    t = oir_tensor_new(name, dtype, tp->n_dims, tp->dims);
    if (!t)
        return OLIVE_ENOMEM;
    if ((rc = dup_opt(&t->doc_string, tp->doc_string)) != OLIVE_OK)
        goto fail;
    if ((rc = tensor_data(ctx, tp, t, raw)) != OLIVE_OK) {
        if (rc == OLIVE_EFORMAT && !strstr(olive_error_last(), ctx->what))
            olive_fail_context(rc, "%s", ctx->what);
        goto fail;
    }
    if (tp->segment && (rc = wire_append_message(&t->passthrough.data, &t->passthrough.len, TENSOR_SEGMENT,
                                                 &tp->segment->base)) != OLIVE_OK)
        goto fail;
    if ((rc = wire_append_unknown(&t->passthrough.data, &t->passthrough.len, &tp->base)) != OLIVE_OK)
        goto fail;
    *out = t;
    return OLIVE_OK;
fail:
    oir_tensor_free(t);
    return rc;
}
