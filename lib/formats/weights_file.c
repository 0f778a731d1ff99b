/* The .npz and .safetensors writers. An .npz is a zip of stored (uncompressed) entries
 * "<name>.npy", each a NumPy format 1.0 array whose header is padded to 64 bytes, as np.savez
 * writes them. A .safetensors file is an 8-byte little-endian header length, the JSON header
 * (dtype, shape and data_offsets of each tensor) padded with spaces to 8 bytes, and the data. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/weights_file.h"

typedef struct wbuf {
    uint8_t *data;
    size_t len, cap;
    int failed;
} wbuf;

static void put(wbuf *b, const void *p, size_t n)
{
    if (b->failed || !n)
        return;
    if (olive_grow((void **)&b->data, &b->cap, b->len + n, 1) != OLIVE_OK) {
        b->failed = 1;
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le(wbuf *b, uint64_t v, size_t bytes)
{
    uint8_t x[8];
    for (size_t i = 0; i < bytes; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, bytes);
}

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* NumPy's descr and safetensors' dtype of an ONNX dtype; NULL when neither has it. */
static const char *npy_descr(int32_t dtype)
{
    switch (dtype) {
    case 1: return "<f4";
    case 2: return "|u1";
    case 3: return "|i1";
    case 4: return "<u2";
    case 5: return "<i2";
    case 6: return "<i4";
    case 7: return "<i8";
    case 9: return "|b1";
    case 10: return "<f2";
    case 11: return "<f8";
    case 12: return "<u4";
    case 13: return "<u8";
    default: return NULL;
    }
}

static const char *st_dtype(int32_t dtype)
{
    switch (dtype) {
    case 1: return "F32";
    case 2: return "U8";
    case 3: return "I8";
    case 4: return "U16";
    case 5: return "I16";
    case 6: return "I32";
    case 7: return "I64";
    case 9: return "BOOL";
    case 10: return "F16";
    case 11: return "F64";
    case 12: return "U32";
    case 13: return "U64";
    case 16: return "BF16";
    default: return NULL;
    }
}

static int unsupported(const char *what, const ofmt_adapter_param *p, const char *format)
{
    return olive_fail(OLIVE_EUNSUPPORTED, "%s: tensor '%s' has a type (%d) that %s cannot hold", what, p->name,
                      (int)p->dtype, format);
}

/* The .npy image of one tensor. */
static void npy_image(wbuf *b, const ofmt_adapter_param *p)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_descr(p->dtype));
    for (size_t d = 0; d < p->rank && n > 0 && (size_t)n < sizeof head; d++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%lld,%s", (long long)p->dims[d], d + 1 < p->rank ? " " : "");
    if (n > 0 && (size_t)n < sizeof head && p->rank > 1)
        n--; /* "(2, 3)": the trailing comma only for one dimension */
    if (n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "), }");
    if (n <= 0 || (size_t)n + 64 >= sizeof head) {
        b->failed = 1;
        return;
    }
    while ((10 + (size_t)n + 1) % 64)
        head[n++] = ' ';
    head[n++] = '\n';
    put(b, "\x93NUMPY\x01\x00", 8);
    put_le(b, (uint64_t)n, 2);
    put(b, head, (size_t)n);
    put(b, p->data, p->nbytes);
}

int ofmt_npz_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n)
{
    wbuf z = {0}, central = {0};
    uint64_t entries = 0;
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (!npy_descr(params[i].dtype) || params[i].rank > 32)
            return unsupported(what, &params[i], "an .npz file");
    for (size_t i = 0; i < n && !z.failed; i++) {
        wbuf npy = {0};
        char *name = olive_asprintf("%s.npy", params[i].name);
        size_t offset = z.len, nl;
        uint32_t crc;
        npy_image(&npy, &params[i]);
        if (!name || npy.failed || npy.len > 0xffffffffu || z.len > 0xffffffffu || strlen(name) > 0xffff) {
            free(name);
            free(npy.data);
            free(z.data);
            free(central.data);
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: tensor '%s' does not fit an .npz file without zip64", what,
                              params[i].name);
        }
        nl = strlen(name);
        crc = crc32_of(npy.data, npy.len, 0);
        /* local file header: stored, no data descriptor, DOS time 1980-01-01 */
        put_le(&z, 0x04034b50, 4);
        put_le(&z, 20, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0x21, 2);
        put_le(&z, crc, 4);
        put_le(&z, npy.len, 4);
        put_le(&z, npy.len, 4);
        put_le(&z, nl, 2);
        put_le(&z, 0, 2);
        put(&z, name, nl);
        put(&z, npy.data, npy.len);
        /* its central directory entry */
        put_le(&central, 0x02014b50, 4);
        put_le(&central, 20, 2);
        put_le(&central, 20, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0x21, 2);
        put_le(&central, crc, 4);
        put_le(&central, npy.len, 4);
        put_le(&central, npy.len, 4);
        put_le(&central, nl, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 2);
        put_le(&central, 0, 4);
        put_le(&central, offset, 4);
        put(&central, name, nl);
        entries++;
        free(npy.data);
        free(name);
    }
    {
        size_t cd_offset = z.len;
        put(&z, central.data, central.len);
        put_le(&z, 0x06054b50, 4);
        put_le(&z, 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, entries, 2);
        put_le(&z, entries, 2);
        put_le(&z, central.len, 4);
        put_le(&z, cd_offset, 4);
        put_le(&z, 0, 2);
    }
    free(central.data);
    if (z.failed || central.failed || entries > 0xffff || z.len > 0xffffffffu) {
        free(z.data);
        return z.failed || central.failed ? OLIVE_ENOMEM
                                          : olive_fail(OLIVE_EUNSUPPORTED, "%s: too large for an .npz file", what);
    }
    return olive_blob_from_heap(out, z.data, z.len);
}

int ofmt_safetensors_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n)
{
    json_t *head = json_object();
    char *text = NULL;
    wbuf b = {0};
    uint64_t at = 0;
    size_t len;
    int rc = head ? OLIVE_OK : OLIVE_ENOMEM;
    *out = NULL;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        json_t *shape = json_array(), *entry;
        if (!st_dtype(params[i].dtype)) {
            json_decref(shape);
            rc = unsupported(what, &params[i], "a .safetensors file");
            break;
        }
        for (size_t d = 0; shape && d < params[i].rank; d++)
            json_array_append_new(shape, json_integer(params[i].dims[d]));
        entry = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype(params[i].dtype), "shape", shape, "data_offsets",
                          (json_int_t)at, (json_int_t)(at + params[i].nbytes));
        if (!entry || json_object_set_new(head, params[i].name, entry))
            rc = OLIVE_ENOMEM;
        at += params[i].nbytes;
    }
    if (rc == OLIVE_OK && !(text = json_dumps(head, JSON_COMPACT)))
        rc = OLIVE_ENOMEM;
    json_decref(head);
    if (rc != OLIVE_OK)
        return rc;
    len = strlen(text);
    put_le(&b, (len + 7) / 8 * 8, 8);
    put(&b, text, len);
    while (!b.failed && (b.len - 8) % 8)
        put(&b, " ", 1);
    free(text);
    for (size_t i = 0; i < n; i++)
        put(&b, params[i].data, params[i].nbytes);
    if (b.failed) {
        free(b.data);
        return OLIVE_ENOMEM;
    }
    return olive_blob_from_heap(out, b.data, b.len);
}
