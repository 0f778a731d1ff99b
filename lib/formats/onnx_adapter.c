/* The .onnx_adapter writer. The FlatBuffers buffer is laid out front to back: every table's
 * vtable just before it (a positive soffset), every string and vector after what refers to it
 * (uoffsets only point forward), int64 and raw data 8-byte aligned from the buffer's start. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/onnx_adapter.h"

#define FORMAT_VERSION 1

typedef struct fb {
    uint8_t *data;
    size_t len, cap;
    int failed;
} fb;

static size_t fb_reserve(fb *b, size_t n)
{
    size_t at = b->len;
    if (b->failed)
        return 0;
    if (olive_grow((void **)&b->data, &b->cap, b->len + n, 1) != OLIVE_OK) {
        b->failed = 1;
        return 0;
    }
    memset(b->data + at, 0, n);
    b->len += n;
    return at;
}

static void put_u32(fb *b, size_t at, uint32_t v)
{
    if (!b->failed)
        for (int i = 0; i < 4; i++)
            b->data[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void put_u16(fb *b, size_t at, uint16_t v)
{
    if (!b->failed) {
        b->data[at] = (uint8_t)v;
        b->data[at + 1] = (uint8_t)(v >> 8);
    }
}

/* Pads so that a 4-byte length written next is followed by data aligned to `align`. */
static void align_for(fb *b, size_t align)
{
    while (!b->failed && (b->len + 4) % align)
        fb_reserve(b, 1);
}

/* A vtable of n fields (each 4 bytes wide, in order) and its table; returns the table's place. */
static size_t table(fb *b, uint16_t fields)
{
    uint16_t vt_size = (uint16_t)(4 + 2 * fields), tbl_size = (uint16_t)(4 + 4 * fields);
    size_t vt, t;
    while (!b->failed && (b->len + vt_size) % 4)
        fb_reserve(b, 1);
    vt = fb_reserve(b, vt_size);
    put_u16(b, vt, vt_size);
    put_u16(b, vt + 2, tbl_size);
    for (uint16_t i = 0; i < fields; i++)
        put_u16(b, vt + 4 + 2 * i, (uint16_t)(4 + 4 * i));
    t = fb_reserve(b, tbl_size);
    put_u32(b, t, (uint32_t)(t - vt));
    return t;
}

/* Writes a uoffset at `field` to the data that starts at b->len after alignment. */
static size_t vector(fb *b, size_t field, size_t align, uint32_t count, const void *data, size_t nbytes, int nul)
{
    size_t at;
    align_for(b, align);
    at = fb_reserve(b, 4 + nbytes + (nul ? 1 : 0));
    put_u32(b, field, (uint32_t)(at - field));
    put_u32(b, at, count);
    if (!b->failed && data && nbytes)
        memcpy(b->data + at + 4, data, nbytes);
    return at;
}

int ofmt_adapter_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n,
                        int adapter_version, int model_version)
{
    fb b = {0};
    size_t root, vec;
    uint64_t total = 0;
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        total += params[i].nbytes + 64 + strlen(params[i].name) + 8 * params[i].rank;
    if (total > 0x7fffffffu || n > 0xffffffu)
        return olive_fail(OLIVE_EINVALID, "%s: the adapter's %zu parameters exceed the 2 GiB a FlatBuffers file holds",
                          what, n);
    fb_reserve(&b, 8);
    if (!b.failed)
        memcpy(b.data + 4, "TORT", 4); /* the file identifier */
    root = table(&b, 4);
    put_u32(&b, 0, (uint32_t)root);
    put_u32(&b, root + 4, FORMAT_VERSION);
    put_u32(&b, root + 8, (uint32_t)adapter_version);
    put_u32(&b, root + 12, (uint32_t)model_version);
    vec = vector(&b, root + 16, 4, (uint32_t)n, NULL, 4 * n, 0);
    for (size_t i = 0; i < n && !b.failed; i++) {
        const ofmt_adapter_param *p = &params[i];
        size_t t = table(&b, 4), slot = vec + 4 + 4 * i;
        put_u32(&b, slot, (uint32_t)(t - slot));
        vector(&b, t + 4, 4, (uint32_t)strlen(p->name), p->name, strlen(p->name), 1);
        vector(&b, t + 8, 8, (uint32_t)p->rank, p->dims, 8 * p->rank, 0);
        put_u32(&b, t + 12, (uint32_t)p->dtype);
        vector(&b, t + 16, 8, (uint32_t)p->nbytes, p->data, p->nbytes, 0);
    }
    if (b.failed) {
        free(b.data);
        return OLIVE_ENOMEM;
    }
    return olive_blob_from_heap(out, b.data, b.len); /* frees b.data on failure */
}

int ofmt_adapter_write(const char *path, const ofmt_adapter_param *params, size_t n, int adapter_version,
                       int model_version)
{
    olive_blob *b;
    olive_outfile f;
    int rc = ofmt_adapter_encode(&b, path, params, n, adapter_version, model_version);
    if (rc != OLIVE_OK)
        return rc;
    rc = olive_outfile_open(&f, path);
    if (rc == OLIVE_OK && (rc = olive_outfile_write(&f, b->data, b->size)) == OLIVE_OK)
        rc = olive_outfile_commit(&f);
    else if (rc == OLIVE_OK)
        olive_outfile_abort(&f);
    olive_blob_unref(b);
    return rc;
}
