/* safetensors reader: validates the JSON header fully before any tensor is added, so a file
 * is either listed whole and consistent or refused with the entry at fault named. */
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

static const struct {
    const char *name;
    int32_t dtype;
} st_dtypes[] = {
    {"F64", OIR_DOUBLE},         {"F32", OIR_FLOAT},
    {"F16", OIR_FLOAT16},        {"BF16", OIR_BFLOAT16},
    {"I64", OIR_INT64},          {"I32", OIR_INT32},
    {"I16", OIR_INT16},          {"I8", OIR_INT8},
    {"U64", OIR_UINT64},         {"U32", OIR_UINT32},
    {"U16", OIR_UINT16},         {"U8", OIR_UINT8},
    {"BOOL", OIR_BOOL},          {"F8_E4M3", OIR_FLOAT8E4M3FN},
    {"F8_E5M2", OIR_FLOAT8E5M2},
};

/* Dtypes the format defines that have no ONNX counterpart here. */
static const char *const st_known_unsupported[] = {"F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"};

int32_t ofmt_safetensors_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(name, st_dtypes[i].name))
            return st_dtypes[i].dtype;
    return 0;
}

typedef struct st_entry {
    const char *name; /* borrowed from the header JSON */
    int32_t dtype;
    size_t rank;
    int64_t dims[OFMT_MAX_RANK];
    uint64_t begin, end;
} st_entry;

static int by_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int parse_entry(st_entry *e, const char *path, const char *name, json_t *v, uint64_t data_size)
{
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
    json_t *offs = json_object_get(v, "data_offsets");
    uint64_t n = 1, bytes;
    json_int_t b, en;
    e->name = name;
    if (!json_is_object(v))
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': header entry is not an object", path, name);
    if (!json_is_string(dt))
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': missing or non-string \"dtype\"", path, name);
    if (!(e->dtype = ofmt_safetensors_dtype(json_string_value(dt)))) {
        for (size_t i = 0; i < sizeof st_known_unsupported / sizeof st_known_unsupported[0]; i++)
            if (!strcmp(json_string_value(dt), st_known_unsupported[i]))
                return olive_fail(OLIVE_EUNSUPPORTED, "'%s': tensor '%s': dtype '%s' is not supported", path, name,
                                  json_string_value(dt));
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': unknown dtype '%s'", path, name, json_string_value(dt));
    }
    if (!json_is_array(shape))
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': missing or non-array \"shape\"", path, name);
    if (json_array_size(shape) > OFMT_MAX_RANK)
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': rank %zu is more than %d", path, name,
                          json_array_size(shape), OFMT_MAX_RANK);
    e->rank = json_array_size(shape);
    for (size_t i = 0; i < e->rank; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': shape entry %zu is not a non-negative integer", path,
                              name, i);
        e->dims[i] = (int64_t)json_integer_value(d);
        if (!olive_mul_ok(n, (uint64_t)e->dims[i], &n) || n > ((uint64_t)1 << 62))
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': shape has too many elements", path, name);
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
        !json_is_integer(json_array_get(offs, 1)))
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': \"data_offsets\" is not [begin, end]", path, name);
    b = json_integer_value(json_array_get(offs, 0));
    en = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || en < b || (uint64_t)en > data_size)
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': data_offsets [%lld, %lld] are outside the %llu data bytes",
                          path, name, (long long)b, (long long)en, (unsigned long long)data_size);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (!olive_mul_ok(n, oir_dtype_bits(e->dtype) / 8, &bytes) || bytes != e->end - e->begin)
        return olive_fail(OLIVE_EFORMAT,
                          "'%s': tensor '%s': data_offsets span %llu bytes, dtype %s and shape need %llu", path, name,
                          (unsigned long long)(e->end - e->begin), json_string_value(dt), (unsigned long long)bytes);
    return OLIVE_OK;
}

static int parse_header(json_t **out, const olive_blob *blob, const char *path, uint64_t *data_start)
{
    uint64_t hlen = 0;
    json_error_t err;
    json_t *h;
    if (blob->size < 8)
        return olive_fail(OLIVE_EFORMAT, "'%s': %zu bytes is too short for a safetensors file", path, blob->size);
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | blob->data[i];
    if (hlen > blob->size - 8)
        return olive_fail(OLIVE_EFORMAT, "'%s': header length %llu is beyond the end of the file (%zu bytes)", path,
                          (unsigned long long)hlen, blob->size);
    if (hlen > ST_MAX_HEADER)
        return olive_fail(OLIVE_EFORMAT, "'%s': header length %llu is larger than %u bytes", path,
                          (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen < 2 || blob->data[8] != '{')
        return olive_fail(OLIVE_EFORMAT, "'%s': header is not a JSON object", path);
    h = json_loadb((const char *)blob->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!h)
        return olive_fail(OLIVE_EFORMAT, "'%s': header is not valid JSON: %s (line %d, column %d)", path, err.text,
                          err.line, err.column);
    if (!json_is_object(h)) {
        json_decref(h);
        return olive_fail(OLIVE_EFORMAT, "'%s': header is not a JSON object", path);
    }
    *out = h;
    *data_start = 8 + hlen;
    return OLIVE_OK;
}

int ofmt_safetensors_add_file(ofmt_checkpoint *c, const char *path)
{
    olive_blob *blob = NULL;
    json_t *h = NULL, *v;
    const char *key;
    st_entry *entries = NULL;
    size_t n = 0;
    uint64_t data_start = 0, data_size;
    int rc = olive_blob_map_file(&blob, path);
    if (rc != OLIVE_OK)
        return rc;
    if ((rc = parse_header(&h, blob, path, &data_start)) != OLIVE_OK)
        goto done;
    data_size = blob->size - data_start;
    if (!(entries = olive_calloc(json_object_size(h) + 1, sizeof *entries))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    json_object_foreach(h, key, v)
    {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v)) {
                rc = olive_fail(OLIVE_EFORMAT, "'%s': \"__metadata__\" is not an object", path);
                goto done;
            }
            continue;
        }
        if (!*key) {
            rc = olive_fail(OLIVE_EFORMAT, "'%s': a tensor has an empty name", path);
            goto done;
        }
        if ((rc = parse_entry(&entries[n], path, key, v, data_size)) != OLIVE_OK)
            goto done;
        n++;
    }
    /* Sorted by position, neighbours must not overlap (empty tensors occupy nothing). */
    qsort(entries, n, sizeof *entries, by_begin);
    for (size_t i = 1, last = (size_t)-1; i <= n; i++) {
        const st_entry *e = &entries[i - 1];
        if (e->begin == e->end)
            continue;
        if (last != (size_t)-1 && e->begin < entries[last].end) {
            rc = olive_fail(OLIVE_EFORMAT, "'%s': tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu)",
                            path, entries[last].name, e->name, (unsigned long long)entries[last].begin,
                            (unsigned long long)entries[last].end, (unsigned long long)e->begin,
                            (unsigned long long)e->end);
            goto done;
        }
        last = i - 1;
    }
    if ((rc = ofmt_checkpoint_keep_blob(c, blob)) != OLIVE_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = &entries[i];
        if ((rc = ofmt_checkpoint_add_plain(c, e->name, blob, e->dtype, e->rank, e->dims, data_start + e->begin,
                                            e->end - e->begin)) != OLIVE_OK)
            goto done;
    }
done:
    free(entries);
    json_decref(h);
    olive_blob_unref(blob);
    return rc;
}
