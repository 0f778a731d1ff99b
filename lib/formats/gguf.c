/* GGUF parsing: a bounds-checked cursor over the mapped file. Counts are checked against the
 * bytes left (each element needs a known minimum of bytes) before anything is allocated, so an
 * impossible count fails fast instead of exhausting memory. */
#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/ggml_dequant.h"

#define GGUF_MAGIC "GGUF"
#define MAX_ARRAY_DEPTH 8 /* nested arrays deeper than this are refused (stack bound) */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 4 + 8)

typedef struct cursor {
    const uint8_t *data;
    uint64_t pos, size;
    const char *path;
} cursor;

static uint64_t left(const cursor *c)
{
    return c->size - c->pos;
}

static uint64_t le_bytes(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte little-endian unsigned integer; `what` names the field for the error. */
static int rd_uint(cursor *c, int n, uint64_t *out, const char *what)
{
    if (left(c) < (uint64_t)n)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' is truncated: %s at byte %llu needs %d bytes, %llu left",
                          c->path, what, (unsigned long long)c->pos, n, (unsigned long long)left(c));
    *out = le_bytes(c->data + c->pos, n);
    c->pos += (uint64_t)n;
    return OLIVE_OK;
}

static int rd_u32(cursor *c, uint32_t *out, const char *what)
{
    uint64_t v = 0;
    OLIVE_TRY(rd_uint(c, 4, &v, what));
    *out = (uint32_t)v;
    return OLIVE_OK;
}

static int rd_str(cursor *c, ofmt_gguf_str *out, const char *what)
{
    uint64_t len = 0;
    OLIVE_TRY(rd_uint(c, 8, &len, what));
    if (len > left(c))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': %s has length %llu but only %llu bytes are left in the file",
                          c->path, what, (unsigned long long)len, (unsigned long long)left(c));
    out->ptr = (const char *)c->data + c->pos;
    out->len = len;
    c->pos += len;
    return OLIVE_OK;
}

int ofmt_gguf_utf8_next(const unsigned char *s, uint64_t len, uint64_t *i, uint32_t *cp)
{
    unsigned char c = s[*i];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 1, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len - *i < (uint64_t)n + 1)
        return 0;
    for (int k = 1; k <= n; k++) {
        if ((s[*i + (uint64_t)k] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[*i + (uint64_t)k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    *i += (uint64_t)n + 1;
    return 1;
}

int ofmt_gguf_str_utf8(const ofmt_gguf_str *s)
{
    uint64_t i = 0;
    uint32_t cp;
    while (i < s->len)
        if (!ofmt_gguf_utf8_next((const unsigned char *)s->ptr, s->len, &i, &cp))
            return 0;
    return 1;
}

int ofmt_gguf_str_quote_len(const ofmt_gguf_str *s, int max)
{
    if (!s || !ofmt_gguf_str_utf8(s))
        return 0;
    uint64_t n = s->len < (uint64_t)max ? s->len : (uint64_t)max;
    /* back off to the start of a character */
    while (n > 0 && n < s->len && (((const unsigned char *)s->ptr)[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* Names and tensor keys become C strings that error messages quote: refuse empty ones,
 * embedded NULs and bytes that are not UTF-8. */
static int str_to_name(const ofmt_gguf_str *s, char **out, const char *path, const char *what)
{
    if (s->len == 0)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': empty %s", path, what);
    if (!ofmt_gguf_str_utf8(s))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': %s is not valid UTF-8", path, what);
    if (memchr(s->ptr, 0, s->len))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': %s '%.*s' holds a NUL byte", path, what,
                          (int)strnlen(s->ptr, s->len), s->ptr);
    *out = olive_strndup(s->ptr, s->len);
    return *out ? OLIVE_OK : OLIVE_ENOMEM;
}

static int scalar_size(uint32_t type)
{
    switch (type) {
    case OFMT_GGUF_UINT8:
    case OFMT_GGUF_INT8:
    case OFMT_GGUF_BOOL: return 1;
    case OFMT_GGUF_UINT16:
    case OFMT_GGUF_INT16: return 2;
    case OFMT_GGUF_UINT32:
    case OFMT_GGUF_INT32:
    case OFMT_GGUF_FLOAT32: return 4;
    case OFMT_GGUF_UINT64:
    case OFMT_GGUF_INT64:
    case OFMT_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static void value_free(ofmt_gguf_value *v)
{
    if (v->type != OFMT_GGUF_ARRAY)
        return;
    free(v->v.arr.strs);
    if (v->v.arr.items) {
        for (uint64_t i = 0; i < v->v.arr.n; i++)
            value_free(&v->v.arr.items[i]);
        free(v->v.arr.items);
    }
}

/* Decodes one scalar already known to be in bounds. */
static void decode_scalar(uint32_t type, const uint8_t *p, ofmt_gguf_value *v)
{
    int n = scalar_size(type);
    uint64_t raw = le_bytes(p, n);
    v->type = type;
    switch (type) {
    case OFMT_GGUF_INT8: v->v.i = (int8_t)raw; break;
    case OFMT_GGUF_INT16: v->v.i = (int16_t)raw; break;
    case OFMT_GGUF_INT32: v->v.i = (int32_t)raw; break;
    case OFMT_GGUF_INT64: v->v.i = (int64_t)raw; break;
    case OFMT_GGUF_FLOAT32: {
        float f;
        uint32_t u = (uint32_t)raw;
        memcpy(&f, &u, 4);
        v->v.f = f;
        break;
    }
    case OFMT_GGUF_FLOAT64: memcpy(&v->v.f, &raw, 8); break;
    case OFMT_GGUF_BOOL: v->v.u = raw != 0; break;
    default: v->v.u = raw; break;
    }
}

static int read_value(cursor *c, uint32_t type, ofmt_gguf_value *v, const char *key, int depth);

static int read_array(cursor *c, ofmt_gguf_value *v, const char *key, int depth)
{
    uint32_t et = 0;
    uint64_t n = 0;
    ofmt_gguf_array *a = &v->v.arr;
    char what[64];

    if (depth >= MAX_ARRAY_DEPTH)
        return olive_fail(OLIVE_EUNSUPPORTED, "GGUF file '%s': key '%s' nests arrays more than %d deep", c->path, key,
                          MAX_ARRAY_DEPTH);
    int rc = rd_u32(c, &et, "array element type");
    if (!rc)
        rc = rd_uint(c, 8, &n, "array length");
    if (rc)
        return olive_fail_context(rc, "key '%s'", key);
    v->type = OFMT_GGUF_ARRAY;
    a->type = et;
    a->n = 0;
    if (et > OFMT_GGUF_FLOAT64)
        return olive_fail(OLIVE_EUNSUPPORTED, "GGUF file '%s': key '%s' is an array of unknown value type %u", c->path,
                          key, et);
    /* the least bytes one element can take: scalars their size, strings their length field,
     * arrays their type and length */
    uint64_t min_elem = et == OFMT_GGUF_STRING ? 8 : et == OFMT_GGUF_ARRAY ? 12 : (uint64_t)scalar_size(et);
    if (n > left(c) / min_elem)
        return olive_fail(OLIVE_EFORMAT,
                          "GGUF file '%s': key '%s' claims %llu array elements, more than the %llu bytes left can hold",
                          c->path, key, (unsigned long long)n, (unsigned long long)left(c));
    if (et == OFMT_GGUF_STRING) {
        a->strs = olive_calloc(n ? n : 1, sizeof *a->strs);
        if (!a->strs)
            return OLIVE_ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            snprintf(what, sizeof what, "string %llu of key", (unsigned long long)i);
            rc = rd_str(c, &a->strs[i], what);
            if (rc)
                return olive_fail_context(rc, "key '%s'", key);
        }
        a->n = n;
    } else if (et == OFMT_GGUF_ARRAY) {
        a->items = olive_calloc(n ? n : 1, sizeof *a->items);
        if (!a->items)
            return OLIVE_ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            a->n = i + 1; /* so a failure frees what was read */
            OLIVE_TRY(read_value(c, OFMT_GGUF_ARRAY, &a->items[i], key, depth + 1));
        }
        a->n = n;
    } else {
        a->data = c->data + c->pos;
        a->n = n;
        c->pos += n * min_elem;
    }
    return OLIVE_OK;
}

static int read_value(cursor *c, uint32_t type, ofmt_gguf_value *v, const char *key, int depth)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    if (type == OFMT_GGUF_STRING) {
        int rc = rd_str(c, &v->v.str, "string value");
        return rc ? olive_fail_context(rc, "key '%s'", key) : OLIVE_OK;
    }
    if (type == OFMT_GGUF_ARRAY)
        return read_array(c, v, key, depth);
    int n = scalar_size(type);
    if (!n)
        return olive_fail(OLIVE_EUNSUPPORTED, "GGUF file '%s': key '%s' has unknown value type %u", c->path, key, type);
    if (left(c) < (uint64_t)n)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' is truncated in the value of key '%s'", c->path, key);
    decode_scalar(type, c->data + c->pos, v);
    c->pos += (uint64_t)n;
    return OLIVE_OK;
}

void ofmt_gguf_free(ofmt_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        value_free(&g->kv[i].value);
    }
    free(g->kv);
    olive_strmap_free(&g->kv_by_key);
    for (size_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->tensors);
    olive_blob_unref(g->blob);
    free(g->path);
    free(g);
}

int ofmt_gguf_has_magic(const uint8_t *data, size_t size)
{
    return size >= 4 && memcmp(data, GGUF_MAGIC, 4) == 0;
}

static int read_header(cursor *c, ofmt_gguf *g, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (!ofmt_gguf_has_magic(c->data, c->size))
        return olive_fail(OLIVE_EFORMAT, "'%s' is not a GGUF file (no GGUF magic)", c->path);
    c->pos = 4;
    OLIVE_TRY(rd_u32(c, &g->version, "version"));
    if (g->version != 2 && g->version != 3) {
        if (g->version != 0 && (g->version & 0xffff) == 0)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "GGUF file '%s' is big-endian; only little-endian files are supported", c->path);
        if (g->version == 1)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "GGUF file '%s' is version 1 (32-bit counts); only versions 2 and 3 are supported",
                              c->path);
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "GGUF file '%s' has unknown version %u; only versions 2 and 3 are supported", c->path,
                          g->version);
    }
    OLIVE_TRY(rd_uint(c, 8, n_tensors, "tensor count"));
    OLIVE_TRY(rd_uint(c, 8, n_kv, "metadata key/value count"));
    if (*n_kv > left(c) / MIN_KV_BYTES)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' claims %llu metadata keys, more than its %llu bytes can hold",
                          c->path, (unsigned long long)*n_kv, (unsigned long long)c->size);
    /* the key/values come first, so this bound is loose here and tightened after them */
    if (*n_tensors > left(c) / MIN_TENSOR_INFO_BYTES)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s' claims %llu tensors, more than its %llu bytes can hold",
                          c->path, (unsigned long long)*n_tensors, (unsigned long long)c->size);
    return OLIVE_OK;
}

static int read_kvs(cursor *c, ofmt_gguf *g, uint64_t n_kv)
{
    g->kv = olive_calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    if (!g->kv)
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < n_kv; i++) {
        ofmt_gguf_kv *kv = &g->kv[i];
        ofmt_gguf_str key;
        uint32_t type = 0;
        char what[64];
        snprintf(what, sizeof what, "key of metadata entry %llu", (unsigned long long)i);
        OLIVE_TRY(rd_str(c, &key, what));
        OLIVE_TRY(str_to_name(&key, &kv->key, c->path, what));
        g->n_kv = i + 1; /* owned from here on: freed with g */
        if (olive_strmap_has(&g->kv_by_key, kv->key))
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': duplicate metadata key '%s'", c->path, kv->key);
        int rc = rd_u32(c, &type, "value type");
        if (rc)
            return olive_fail_context(rc, "key '%s'", kv->key);
        OLIVE_TRY(read_value(c, type, &kv->value, kv->key, 0));
        OLIVE_TRY(olive_strmap_put(&g->kv_by_key, kv->key, kv));
    }
    return OLIVE_OK;
}

static int read_alignment(ofmt_gguf *g)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, "general.alignment");
    g->alignment = OFMT_GGUF_DEFAULT_ALIGNMENT;
    if (!v)
        return OLIVE_OK;
    if (v->type != OFMT_GGUF_UINT32)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': key 'general.alignment' must be a uint32 (type %u found)",
                          g->path, v->type);
    if (v->v.u == 0 || (v->v.u & (v->v.u - 1)))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': key 'general.alignment' is %llu, not a power of two", g->path,
                          (unsigned long long)v->v.u);
    g->alignment = (uint32_t)v->v.u;
    return OLIVE_OK;
}

static int read_tensor_info(cursor *c, ofmt_gguf *g, uint64_t i)
{
    ofmt_gguf_tensor *t = &g->tensors[i];
    ofmt_gguf_str name;
    char what[64];

    snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)i);
    OLIVE_TRY(rd_str(c, &name, what));
    OLIVE_TRY(str_to_name(&name, &t->name, c->path, what));
    g->n_tensors = i + 1;
#define TFAIL(rc) olive_fail_context((rc), "tensor '%s'", t->name)
    int rc = rd_u32(c, &t->n_dims, "dimension count");
    if (rc)
        return TFAIL(rc);
    if (t->n_dims > OFMT_GGUF_MAX_DIMS)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tensor '%s' has %u dimensions (at most %d)", c->path, t->name,
                          t->n_dims, OFMT_GGUF_MAX_DIMS);
    for (int d = 0; d < OFMT_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        rc = rd_uint(c, 8, &t->ne[d], "dimension");
        if (rc)
            return TFAIL(rc);
        if (t->ne[d] > (uint64_t)INT64_MAX)
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tensor '%s' dimension %u is %llu (negative as int64)",
                              c->path, t->name, d, (unsigned long long)t->ne[d]);
    }
    rc = rd_u32(c, &t->type, "tensor type");
    if (!rc)
        rc = rd_uint(c, 8, &t->offset, "data offset");
    if (rc)
        return TFAIL(rc);
#undef TFAIL
    return OLIVE_OK;
}

/* Sizes and places each tensor now that the data section's start is known. */
static int place_tensor(ofmt_gguf *g, ofmt_gguf_tensor *t)
{
    uint32_t be = 1, bb = 1;
    uint64_t elems = 1, rows = 1, row_bytes, nbytes = 0, abs_off = 0;

    if (!ofmt_ggml_type_size(t->type, &be, &bb))
        return olive_fail(OLIVE_EUNSUPPORTED, "GGUF file '%s': tensor '%s' has unknown GGML type %u", g->path, t->name,
                          t->type);
    for (int d = 0; d < OFMT_GGUF_MAX_DIMS; d++)
        if (!olive_mul_ok(elems, t->ne[d], &elems) || elems > (uint64_t)INT64_MAX)
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tensor '%s' has an element count that overflows", g->path,
                              t->name);
    if (t->ne[0] % be)
        return olive_fail(
            OLIVE_EFORMAT,
            "GGUF file '%s': tensor '%s' of type %s has rows of %llu elements, not a multiple of its block size %u",
            g->path, t->name, ofmt_ggml_type_name(t->type), (unsigned long long)t->ne[0], be);
    row_bytes = (t->ne[0] / be) * bb; /* <= elems * 8: cannot overflow */
    for (int d = 1; d < OFMT_GGUF_MAX_DIMS; d++)
        rows *= t->ne[d];
    if (!olive_mul_ok(row_bytes, rows, &nbytes))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tensor '%s' byte size overflows", g->path, t->name);
    if (t->offset % g->alignment)
        return olive_fail(OLIVE_EFORMAT,
                          "GGUF file '%s': tensor '%s' data offset %llu is not a multiple of the alignment %u", g->path,
                          t->name, (unsigned long long)t->offset, g->alignment);
    if (__builtin_add_overflow(g->data_offset, t->offset, &abs_off) || abs_off > g->blob->size ||
        nbytes > g->blob->size - abs_off)
        return olive_fail(OLIVE_EFORMAT,
                          "GGUF file '%s': tensor '%s' data (%llu bytes at offset %llu of the data section) runs past "
                          "the end of the %llu-byte file",
                          g->path, t->name, (unsigned long long)nbytes, (unsigned long long)t->offset,
                          (unsigned long long)g->blob->size);
    t->offset = abs_off;
    t->nbytes = nbytes;
    return OLIVE_OK;
}

static int parse(ofmt_gguf *g)
{
    cursor c = {g->blob->data, 0, g->blob->size, g->path};
    uint64_t n_tensors = 0, n_kv = 0;

    OLIVE_TRY(read_header(&c, g, &n_tensors, &n_kv));
    OLIVE_TRY(read_kvs(&c, g, n_kv));
    OLIVE_TRY(read_alignment(g));
    if (n_tensors > left(&c) / MIN_TENSOR_INFO_BYTES)
        return olive_fail(OLIVE_EFORMAT,
                          "GGUF file '%s' claims %llu tensors, more than the %llu bytes after its metadata can hold",
                          c.path, (unsigned long long)n_tensors, (unsigned long long)left(&c));
    g->tensors = olive_calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors)
        return OLIVE_ENOMEM;
    olive_strmap names = {0};
    int rc = OLIVE_OK;
    for (uint64_t i = 0; i < n_tensors && !rc; i++) {
        rc = read_tensor_info(&c, g, i);
        if (!rc && olive_strmap_has(&names, g->tensors[i].name))
            rc = olive_fail(OLIVE_EFORMAT, "GGUF file '%s': duplicate tensor name '%s'", g->path, g->tensors[i].name);
        if (!rc)
            rc = olive_strmap_put(&names, g->tensors[i].name, &g->tensors[i]);
    }
    olive_strmap_free(&names);
    OLIVE_TRY(rc);
    /* the data section starts at the next multiple of the alignment (may be the file's end) */
    g->data_offset = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
    for (size_t i = 0; i < g->n_tensors; i++)
        OLIVE_TRY(place_tensor(g, &g->tensors[i]));
    return OLIVE_OK;
}

int ofmt_gguf_parse(ofmt_gguf **out, olive_blob *blob, const char *path)
{
    ofmt_gguf *g = olive_calloc(1, sizeof *g);
    if (!g)
        return OLIVE_ENOMEM;
    g->path = olive_strdup(path ? path : "(memory)");
    if (!g->path) {
        free(g);
        return OLIVE_ENOMEM;
    }
    g->blob = olive_blob_ref(blob);
    int rc = parse(g);
    if (rc) {
        ofmt_gguf_free(g);
        return rc;
    }
    *out = g;
    return OLIVE_OK;
}

int ofmt_gguf_read(ofmt_gguf **out, const char *path)
{
    olive_blob *blob;
    OLIVE_TRY(olive_blob_map_file(&blob, path));
    int rc = ofmt_gguf_parse(out, blob, path);
    olive_blob_unref(blob);
    return rc;
}

/* ---- look-ups ------------------------------------------------------------------------- */

const ofmt_gguf_value *ofmt_gguf_find(const ofmt_gguf *g, const char *key)
{
    const ofmt_gguf_kv *kv = olive_strmap_get(&g->kv_by_key, key);
    return kv ? &kv->value : NULL;
}

static int value_u64(const ofmt_gguf_value *v, uint64_t *out)
{
    switch (v->type) {
    case OFMT_GGUF_UINT8:
    case OFMT_GGUF_UINT16:
    case OFMT_GGUF_UINT32:
    case OFMT_GGUF_UINT64: *out = v->v.u; return 1;
    case OFMT_GGUF_INT8:
    case OFMT_GGUF_INT16:
    case OFMT_GGUF_INT32:
    case OFMT_GGUF_INT64:
        if (v->v.i < 0)
            return 0;
        *out = (uint64_t)v->v.i;
        return 1;
    default: return 0;
    }
}

static int value_i64(const ofmt_gguf_value *v, int64_t *out)
{
    uint64_t u;
    switch (v->type) {
    case OFMT_GGUF_INT8:
    case OFMT_GGUF_INT16:
    case OFMT_GGUF_INT32:
    case OFMT_GGUF_INT64: *out = v->v.i; return 1;
    default:
        if (!value_u64(v, &u) || u > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)u;
        return 1;
    }
}

static int value_f64(const ofmt_gguf_value *v, double *out)
{
    int64_t i;
    uint64_t u;
    if (v->type == OFMT_GGUF_FLOAT32 || v->type == OFMT_GGUF_FLOAT64) {
        *out = v->v.f;
        return 1;
    }
    if (value_i64(v, &i)) {
        *out = (double)i;
        return 1;
    }
    if (value_u64(v, &u)) {
        *out = (double)u;
        return 1;
    }
    return 0;
}

int ofmt_gguf_get_u64(const ofmt_gguf *g, const char *key, uint64_t *out)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    return v && value_u64(v, out);
}

int ofmt_gguf_get_i64(const ofmt_gguf *g, const char *key, int64_t *out)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    return v && value_i64(v, out);
}

int ofmt_gguf_get_f64(const ofmt_gguf *g, const char *key, double *out)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    return v && value_f64(v, out);
}

int ofmt_gguf_get_bool(const ofmt_gguf *g, const char *key, int *out)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    if (!v || v->type != OFMT_GGUF_BOOL)
        return 0;
    *out = (int)v->v.u;
    return 1;
}

const ofmt_gguf_str *ofmt_gguf_get_str(const ofmt_gguf *g, const char *key)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    return v && v->type == OFMT_GGUF_STRING ? &v->v.str : NULL;
}

const ofmt_gguf_array *ofmt_gguf_get_array(const ofmt_gguf *g, const char *key, uint32_t elem_type)
{
    const ofmt_gguf_value *v = ofmt_gguf_find(g, key);
    return v && v->type == OFMT_GGUF_ARRAY && v->v.arr.type == elem_type ? &v->v.arr : NULL;
}

static int array_elem(const ofmt_gguf_array *arr, uint64_t i, ofmt_gguf_value *v)
{
    int n = scalar_size(arr->type);
    if (!n || !arr->data || i >= arr->n)
        return 0;
    decode_scalar(arr->type, arr->data + i * (uint64_t)n, v);
    return 1;
}

int ofmt_gguf_array_u64(const ofmt_gguf_array *arr, uint64_t i, uint64_t *out)
{
    ofmt_gguf_value v;
    return array_elem(arr, i, &v) && value_u64(&v, out);
}

int ofmt_gguf_array_i64(const ofmt_gguf_array *arr, uint64_t i, int64_t *out)
{
    ofmt_gguf_value v;
    return array_elem(arr, i, &v) && value_i64(&v, out);
}

int ofmt_gguf_array_f64(const ofmt_gguf_array *arr, uint64_t i, double *out)
{
    ofmt_gguf_value v;
    return array_elem(arr, i, &v) && value_f64(&v, out);
}

int ofmt_gguf_str_eq(const ofmt_gguf_str *a, const char *s)
{
    size_t n = strlen(s);
    return a && a->len == n && memcmp(a->ptr, s, n) == 0;
}
