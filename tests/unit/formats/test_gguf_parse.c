/* GGUF parser unit tests on files built byte by byte from the GGUF specification: every
 * metadata value type (nested arrays included), the typed look-ups, alignment and tensor
 * placement, and hostile counts found without reading past the buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "core/blob.h"
#include "core/status.h"
#include "formats/ggml_dequant.h"
#include "formats/gguf.h"

typedef struct buf {
    uint8_t data[4096];
    size_t len;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

static void str(buf *b, const char *s)
{
    le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

static void key(buf *b, const char *k, uint32_t type)
{
    str(b, k);
    le(b, type, 4);
}

static int parse(ofmt_gguf **g, const buf *b)
{
    olive_blob *blob;
    void *copy = malloc(b->len);
    memcpy(copy, b->data, b->len);
    if (olive_blob_from_heap(&blob, copy, b->len))
        return OLIVE_ENOMEM;
    int rc = ofmt_gguf_parse(g, blob, "test.gguf");
    olive_blob_unref(blob);
    return rc;
}

/* Header + 13 key/values of every type + one Q8_0 tensor at alignment 64. */
static void build_all_types(buf *b, size_t *n_tensors_at)
{
    float f32 = -1.5f;
    double f64 = 2.25;
    b->len = 0;
    put(b, "GGUF", 4);
    le(b, 3, 4);
    *n_tensors_at = b->len;
    le(b, 1, 8);  /* tensors */
    le(b, 14, 8); /* key/values */
    key(b, "u8", OFMT_GGUF_UINT8);
    le(b, 200, 1);
    key(b, "i8", OFMT_GGUF_INT8);
    le(b, (uint8_t)-5, 1);
    key(b, "u16", OFMT_GGUF_UINT16);
    le(b, 60000, 2);
    key(b, "i16", OFMT_GGUF_INT16);
    le(b, (uint16_t)-300, 2);
    key(b, "u32", OFMT_GGUF_UINT32);
    le(b, 4000000000u, 4);
    key(b, "i32", OFMT_GGUF_INT32);
    le(b, (uint32_t)-70000, 4);
    key(b, "f32", OFMT_GGUF_FLOAT32);
    put(b, &f32, 4);
    key(b, "bool", OFMT_GGUF_BOOL);
    le(b, 1, 1);
    key(b, "str", OFMT_GGUF_STRING);
    str(b, "h\xc3\xa9llo");
    key(b, "u64", OFMT_GGUF_UINT64);
    le(b, UINT64_MAX, 8);
    key(b, "i64", OFMT_GGUF_INT64);
    le(b, (uint64_t)INT64_MIN, 8);
    key(b, "f64", OFMT_GGUF_FLOAT64);
    put(b, &f64, 8);
    key(b, "arr", OFMT_GGUF_ARRAY); /* [[1, 2], ["x"]]: an array of two arrays */
    le(b, OFMT_GGUF_ARRAY, 4);
    le(b, 2, 8);
    le(b, OFMT_GGUF_INT16, 4);
    le(b, 2, 8);
    le(b, 1, 2);
    le(b, 2, 2);
    le(b, OFMT_GGUF_STRING, 4);
    le(b, 1, 8);
    str(b, "x");
    key(b, "general.alignment", OFMT_GGUF_UINT32);
    le(b, 64, 4);
    /* tensor "w": ne [32, 2] Q8_0 at offset 0 of the data section */
    str(b, "w");
    le(b, 2, 4);
    le(b, 32, 8);
    le(b, 2, 8);
    le(b, OFMT_GGML_Q8_0, 4);
    le(b, 0, 8);
    while (b->len % 64)
        b->data[b->len++] = 0;
    for (int blk = 0; blk < 2; blk++) {
        le(b, 0x3c00, 2); /* d = 1.0 */
        for (int j = 0; j < 32; j++)
            le(b, (uint8_t)(int8_t)(j - 16 + blk), 1);
    }
}

static void test_all_value_types(void)
{
    buf b;
    size_t nt_at;
    ofmt_gguf *g = NULL;
    uint64_t u;
    int64_t i;
    double d;
    int flag;
    build_all_types(&b, &nt_at);
    CHECK_RC(parse(&g, &b), OLIVE_OK);
    if (!g)
        return;
    CHECK(g->version == 3 && g->n_kv == 14 && g->alignment == 64);
    CHECK(ofmt_gguf_get_u64(g, "u8", &u) && u == 200);
    CHECK(ofmt_gguf_get_i64(g, "i8", &i) && i == -5);
    CHECK(!ofmt_gguf_get_u64(g, "i8", &u)); /* negative: no unsigned value */
    CHECK(ofmt_gguf_get_u64(g, "u16", &u) && u == 60000);
    CHECK(ofmt_gguf_get_i64(g, "i16", &i) && i == -300);
    CHECK(ofmt_gguf_get_u64(g, "u32", &u) && u == 4000000000u);
    CHECK(ofmt_gguf_get_i64(g, "i32", &i) && i == -70000);
    CHECK(ofmt_gguf_get_f64(g, "f32", &d) && d == -1.5);
    CHECK(ofmt_gguf_get_bool(g, "bool", &flag) && flag == 1);
    CHECK(ofmt_gguf_str_eq(ofmt_gguf_get_str(g, "str"), "h\xc3\xa9llo"));
    CHECK(ofmt_gguf_get_u64(g, "u64", &u) && u == UINT64_MAX);
    CHECK(!ofmt_gguf_get_i64(g, "u64", &i)); /* out of int64 range */
    CHECK(ofmt_gguf_get_i64(g, "i64", &i) && i == INT64_MIN);
    CHECK(ofmt_gguf_get_f64(g, "f64", &d) && d == 2.25);
    CHECK(ofmt_gguf_get_f64(g, "u8", &d) && d == 200.0);
    CHECK(!ofmt_gguf_get_str(g, "u8") && !ofmt_gguf_find(g, "missing"));
    const ofmt_gguf_array *outer = ofmt_gguf_get_array(g, "arr", OFMT_GGUF_ARRAY);
    CHECK(outer && outer->n == 2);
    if (outer && outer->n == 2) {
        const ofmt_gguf_array *a0 = &outer->items[0].v.arr, *a1 = &outer->items[1].v.arr;
        CHECK(a0->type == OFMT_GGUF_INT16 && a0->n == 2);
        CHECK(ofmt_gguf_array_i64(a0, 1, &i) && i == 2);
        CHECK(!ofmt_gguf_array_i64(a0, 2, &i)); /* past the end */
        CHECK(a1->type == OFMT_GGUF_STRING && a1->n == 1 && ofmt_gguf_str_eq(&a1->strs[0], "x"));
    }
    CHECK(g->n_tensors == 1);
    if (g->n_tensors == 1) {
        const ofmt_gguf_tensor *t = &g->tensors[0];
        float out[64];
        CHECK_STR(t->name, "w");
        CHECK(t->ne[0] == 32 && t->ne[1] == 2 && t->nbytes == 68);
        CHECK(t->offset % 64 == 0 && t->offset == g->data_offset);
        CHECK_RC(ofmt_ggml_dequant_rows(t->type, g->blob->data + t->offset, 32, 2, out), OLIVE_OK);
        CHECK(out[0] == -16.0f && out[31] == 15.0f && out[32] == -15.0f && out[63] == 16.0f);
    }
    ofmt_gguf_free(g);

    /* every prefix of the file is refused as malformed, never read past */
    for (size_t n = 0; n < b.len; n += 7) {
        buf cut = b;
        cut.len = n;
        g = NULL;
        int rc = parse(&g, &cut);
        CHECK(rc == OLIVE_EFORMAT);
        CHECK(g == NULL);
        if (rc != OLIVE_EFORMAT)
            fprintf(stderr, "prefix of %zu bytes: %d %s\n", n, rc, olive_error_last());
    }
    /* an impossible tensor count is refused before anything is allocated for it */
    memset(b.data + nt_at, 0xff, 7);
    g = NULL;
    CHECK_RC(parse(&g, &b), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("test.gguf");
}

static void test_deep_nesting_refused(void)
{
    buf b = {.len = 0};
    ofmt_gguf *g = NULL;
    put(&b, "GGUF", 4);
    le(&b, 2, 4);
    le(&b, 0, 8);
    le(&b, 1, 8);
    key(&b, "deep", OFMT_GGUF_ARRAY);
    for (int depth = 0; depth < 20; depth++) {
        le(&b, OFMT_GGUF_ARRAY, 4);
        le(&b, 1, 8);
    }
    le(&b, OFMT_GGUF_UINT8, 4);
    le(&b, 0, 8);
    CHECK_RC(parse(&g, &b), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("deep");
}

static void test_type_table(void)
{
    uint32_t be, bb;
    CHECK(ofmt_ggml_type_size(OFMT_GGML_Q4_K, &be, &bb) && be == 256 && bb == 144);
    CHECK(ofmt_ggml_type_size(OFMT_GGML_Q5_K, &be, &bb) && be == 256 && bb == 176);
    CHECK(ofmt_ggml_type_size(OFMT_GGML_Q6_K, &be, &bb) && be == 256 && bb == 210);
    CHECK(ofmt_ggml_type_size(OFMT_GGML_Q5_1, &be, &bb) && be == 32 && bb == 24);
    CHECK(!ofmt_ggml_type_size(99, &be, &bb));
    CHECK(ofmt_ggml_row_bytes(OFMT_GGML_Q8_0, 64) == 68);
    CHECK(ofmt_ggml_row_bytes(OFMT_GGML_Q8_0, 33) == 0);
    CHECK(ofmt_ggml_row_bytes(OFMT_GGML_F16, UINT64_MAX) == 0); /* overflow */
    CHECK(!ofmt_ggml_can_dequant(16));                          /* IQ2_XXS */
    float out[256];
    uint8_t block[110] = {0};
    CHECK_RC(ofmt_ggml_dequant_rows(16, block, 256, 1, out), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("IQ2_XXS");
    CHECK_RC(ofmt_ggml_dequant_rows(OFMT_GGML_Q8_0, block, 48, 1, out), OLIVE_EINVALID);
    /* fp16 edge values convert exactly */
    uint8_t halves[8] = {0x01, 0x00, 0x00, 0x80, 0xff, 0x7b, 0x00, 0x7c};
    CHECK_RC(ofmt_ggml_dequant_rows(OFMT_GGML_F16, halves, 4, 1, out), OLIVE_OK);
    CHECK(out[0] == 0x1p-24f && out[1] == 0.0f && signbit(out[1]) && out[2] == 65504.0f && isinf(out[3]));
}

int main(void)
{
    test_all_value_types();
    test_deep_nesting_refused();
    test_type_table();
    return check_summary("gguf_parse");
}
