/* See npy.h. The header is a Python dict literal; its keys are looked up by name and the
 * values parsed strictly, so a hostile header can only be refused, never misread. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/npy.h"

static const char *find_key(const char *h, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k + 2 <= n; i++) {
        if ((h[i] == '\'' || h[i] == '"') && !memcmp(h + i + 1, key, k) && h[i + 1 + k] == h[i]) {
            const char *p = h + i + k + 2, *end = h + n;
            while (p < end && (*p == ' ' || *p == ':'))
                p++;
            return p < end ? p : NULL;
        }
    }
    return NULL;
}

static int parse_descr(olive_npy *out, const char *p, const char *end, const char *name)
{
    static const struct {
        const char *descr;
        int32_t dtype;
        size_t size;
    } types[] = {
        {"<f4", 1, 4}, {"<f2", 10, 2}, {"<f8", 11, 8}, {"<i8", 7, 8},  {"<i4", 6, 4}, {"|i1", 3, 1},
        {"|u1", 2, 1}, {"|b1", 9, 1},  {"<u8", 13, 8}, {"<u4", 12, 4}, {"<i2", 5, 2}, {"<u2", 4, 2},
    };
    char q;
    const char *s;
    if (!p || p >= end || (*p != '\'' && *p != '"'))
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy header has no 'descr' string", name);
    q = *p++;
    for (s = p; s < end && *s != q; s++)
        ;
    if (s >= end)
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy header's 'descr' is not terminated", name);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        if ((size_t)(s - p) == 3 && !memcmp(p, types[i].descr, 3)) {
            out->dtype = types[i].dtype;
            out->elem_size = types[i].size;
            return OLIVE_OK;
        }
    }
    return olive_fail(OLIVE_EFORMAT, "%s: .npy dtype '%.*s' is not supported (little-endian numbers and bool only)",
                      name, (int)(s - p) > 32 ? 32 : (int)(s - p), p);
}

static int parse_shape(olive_npy *out, const char *p, const char *end, const char *name)
{
    if (!p || p >= end || *p != '(')
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy header has no 'shape' tuple", name);
    p++;
    out->rank = 0;
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p == ')')
            break;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return olive_fail(OLIVE_EFORMAT, "%s: a .npy dimension is too large", name);
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits)
            return olive_fail(OLIVE_EFORMAT, "%s: the .npy 'shape' is not a tuple of integers", name);
        if (out->rank == OLIVE_NPY_MAX_RANK)
            return olive_fail(OLIVE_EFORMAT, "%s: the .npy array has more than %d dimensions", name,
                              OLIVE_NPY_MAX_RANK);
        out->dims[out->rank++] = v;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ')')
            break;
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy 'shape' is not a tuple of integers", name);
    }
    return OLIVE_OK;
}

int olive_npy_parse(olive_npy *out, const uint8_t *bytes, size_t size, const char *name)
{
    olive_npy r;
    size_t hlen, start;
    const char *h, *fo;
    uint64_t count = 1, nbytes;
    memset(&r, 0, sizeof r);
    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6))
        return olive_fail(OLIVE_EFORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
    if (bytes[6] == 1) {
        hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        start = 10;
    } else if (bytes[6] == 2 || bytes[6] == 3) {
        if (size < 12)
            return olive_fail(OLIVE_EFORMAT, "%s: truncated .npy header", name);
        hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 | (size_t)bytes[11] << 24;
        start = 12;
    } else {
        return olive_fail(OLIVE_EFORMAT, "%s: .npy format version %u is not supported", name, bytes[6]);
    }
    if (hlen > size - start)
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy header runs past the end of the file", name);
    h = (const char *)bytes + start;
    OLIVE_TRY(parse_descr(&r, find_key(h, hlen, "descr"), h + hlen, name));
    fo = find_key(h, hlen, "fortran_order");
    if (!fo || (size_t)(h + hlen - fo) < 5 || memcmp(fo, "False", 5))
        return olive_fail(OLIVE_EFORMAT, "%s: only C-order .npy arrays are read (fortran_order must be False)", name);
    OLIVE_TRY(parse_shape(&r, find_key(h, hlen, "shape"), h + hlen, name));
    for (size_t d = 0; d < r.rank; d++)
        if (!olive_mul_ok(count, (uint64_t)r.dims[d], &count))
            return olive_fail(OLIVE_EFORMAT, "%s: the .npy shape overflows", name);
    if (!olive_mul_ok(count, r.elem_size, &nbytes) || nbytes != size - start - hlen)
        return olive_fail(OLIVE_EFORMAT, "%s: the .npy data holds %zu bytes, its shape needs %llu", name,
                          size - start - hlen, (unsigned long long)nbytes);
    r.count = count;
    r.data = bytes + start + hlen;
    *out = r;
    return OLIVE_OK;
}

int olive_npy_load(olive_npy *out, const char *path)
{
    olive_blob *b;
    int rc;
    OLIVE_TRY(olive_blob_map_file(&b, path));
    rc = olive_npy_parse(out, b->data, b->size, path);
    if (rc != OLIVE_OK) {
        olive_blob_unref(b);
        return rc;
    }
    out->blob = b;
    return OLIVE_OK;
}

void olive_npy_clear(olive_npy *npy)
{
    if (npy->blob)
        olive_blob_unref(npy->blob);
    memset(npy, 0, sizeof *npy);
}
