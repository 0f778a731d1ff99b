/* The format-independent checkpoint layer: the tensor list, lookups after the list grows,
 * row reads with fp16 / GGML conversion, and undoing llama.cpp's q/k row permutation. The
 * permuted layouts are built here from the definition of llama.cpp's permute (reshape rows
 * to [heads, 2, half, ...], swap axes 1 and 2), independently of the reader's inverse. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "formats/checkpoint.h"
#include "formats/ggml_dequant.h"
#include "formats/pickle.h"
#include "ir/ir.h"
#include "olive/olive.h"

static olive_blob *heap_blob(const void *data, size_t size)
{
    olive_blob *b = NULL;
    void *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (olive_blob_from_heap(&b, copy, size) != OLIVE_OK)
        return NULL;
    return b;
}

static int add_plain(ofmt_checkpoint *c, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                     olive_blob *b, uint64_t offset, uint64_t nbytes, int64_t heads)
{
    ofmt_tensor t = {0};
    t.name = olive_strdup(name);
    t.file = "test";
    t.storage = OFMT_PLAIN;
    t.dtype = dtype;
    t.rank = rank;
    memcpy(t.dims, dims, rank * sizeof *dims);
    t.blob = olive_blob_ref(b);
    t.offset = offset;
    t.nbytes = nbytes;
    t.unpermute_heads = heads;
    return ofmt_checkpoint_add_tensor(c, &t);
}

/* llama.cpp's permute of `rows` rows of `cols` floats for `heads` heads. */
static void llama_permute(const float *hf, float *stored, int rows, int cols, int heads)
{
    int head_len = rows / heads, half = head_len / 2;
    for (int h = 0; h < heads; h++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < half; i++) {
                /* source index [h][j][i], destination index [h][i][j] */
                const float *src = hf + ((size_t)(h * 2 + j) * half + i) * cols;
                float *dst = stored + ((size_t)(h * half + i) * 2 + j) * cols;
                memcpy(dst, src, (size_t)cols * sizeof *dst);
            }
}

static void test_unpermute_rows(void)
{
    enum { ROWS = 12, COLS = 3, HEADS = 2 };
    float hf[ROWS * COLS], stored[ROWS * COLS], got[ROWS * COLS];
    int64_t dims[2] = {ROWS, COLS};
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_GGUF_FILE, "test");
    olive_blob *b;
    const ofmt_tensor *t;
    for (int i = 0; i < ROWS * COLS; i++)
        hf[i] = (float)i;
    llama_permute(hf, stored, ROWS, COLS, HEADS);
    b = heap_blob(stored, sizeof stored);
    CHECK_RC(add_plain(c, "q", OIR_FLOAT, 2, dims, b, 0, sizeof stored, HEADS), OLIVE_OK);
    CHECK((t = ofmt_checkpoint_find(c, "q")) != NULL);
    CHECK_RC(ofmt_tensor_read_f32(t, 0, ROWS, got), OLIVE_OK);
    CHECK(!memcmp(got, hf, sizeof hf));
    /* A range in the middle, crossing from one head into the next. */
    CHECK_RC(ofmt_tensor_read_f32(t, 4, 5, got), OLIVE_OK);
    CHECK(!memcmp(got, hf + 4 * COLS, 5 * COLS * sizeof *got));
    /* The same stored bytes without the flag come back as stored. */
    dims[0] = ROWS;
    CHECK_RC(add_plain(c, "raw", OIR_FLOAT, 2, dims, b, 0, sizeof stored, 0), OLIVE_OK);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "raw"), 0, ROWS, got), OLIVE_OK);
    CHECK(!memcmp(got, stored, sizeof stored));
    /* Heads that do not split the rows evenly are refused. */
    CHECK_RC(add_plain(c, "odd", OIR_FLOAT, 2, dims, b, 0, sizeof stored, 5), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("odd");
    olive_blob_unref(b);
    ofmt_checkpoint_free(c);
}

static void test_unpermute_vector(void)
{
    enum { N = 8, HEADS = 2 };
    float hf[N], stored[N], got[N];
    int64_t dims[1] = {N};
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_GGUF_FILE, "test");
    olive_blob *b;
    for (int i = 0; i < N; i++)
        hf[i] = 10.0f + (float)i;
    llama_permute(hf, stored, N, 1, HEADS);
    b = heap_blob(stored, sizeof stored);
    CHECK_RC(add_plain(c, "bias", OIR_FLOAT, 1, dims, b, 0, sizeof stored, HEADS), OLIVE_OK);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "bias"), 0, 1, got), OLIVE_OK);
    CHECK(!memcmp(got, hf, sizeof hf));
    olive_blob_unref(b);
    ofmt_checkpoint_free(c);
}

static void test_fp16_and_ranges(void)
{
    /* IEEE half: 1.0, -2.0, 0.5, 65504, smallest subnormal, +inf */
    static const uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00};
    const float want[6] = {1.0f, -2.0f, 0.5f, 65504.0f, 5.9604644775390625e-8f, __builtin_inff()};
    static const int64_t ids[2] = {1, 2};
    int64_t dims[2] = {3, 2}, idims[1] = {2};
    float got[6];
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_HF_FOLDER, "test");
    olive_blob *b = heap_blob(h, sizeof h), *bi = heap_blob(ids, sizeof ids);
    CHECK_RC(add_plain(c, "h", OIR_FLOAT16, 2, dims, b, 0, sizeof h, 0), OLIVE_OK);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "h"), 0, 3, got), OLIVE_OK);
    CHECK(!memcmp(got, want, sizeof want));
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "h"), 2, 2, got), OLIVE_EINVALID);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "h"), UINT64_MAX, 2, got), OLIVE_EINVALID);
    CHECK(ofmt_tensor_row_length(ofmt_checkpoint_find(c, "h")) == 2);
    CHECK(ofmt_tensor_elements(ofmt_checkpoint_find(c, "h")) == 6);
    CHECK_RC(add_plain(c, "ids", OIR_INT64, 1, idims, bi, 0, sizeof ids, 0), OLIVE_OK);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "ids"), 0, 1, got), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("ids");
    olive_blob_unref(b);
    olive_blob_unref(bi);
    ofmt_checkpoint_free(c);
}

static void test_add_checks_and_growth(void)
{
    float data[64] = {0};
    int64_t dims[1] = {4};
    char name[32];
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_HF_FOLDER, "test");
    olive_blob *b = heap_blob(data, sizeof data);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "t%d", i);
        CHECK_RC(add_plain(c, name, OIR_FLOAT, 1, dims, b, (uint64_t)i * 4, 16, 0), OLIVE_OK);
    }
    /* Lookups stay right after the array has moved. */
    for (int i = 0; i < 40; i++) {
        const ofmt_tensor *t;
        snprintf(name, sizeof name, "t%d", i);
        t = ofmt_checkpoint_find(c, name);
        CHECK(t && !strcmp(t->name, name) && t->offset == (uint64_t)i * 4);
    }
    CHECK(c->n_tensors == 40);
    CHECK_RC(add_plain(c, "t3", OIR_FLOAT, 1, dims, b, 0, 16, 0), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("appears twice");
    CHECK_RC(add_plain(c, "short", OIR_FLOAT, 1, dims, b, 0, 12, 0), OLIVE_EFORMAT);
    CHECK_RC(add_plain(c, "past_end", OIR_FLOAT, 1, dims, b, sizeof data - 8, 16, 0), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("past_end");
    CHECK_RC(add_plain(c, "wrap", OIR_FLOAT, 1, dims, b, UINT64_MAX - 4, 16, 0), OLIVE_EFORMAT);
    dims[0] = -1;
    CHECK_RC(add_plain(c, "negative", OIR_FLOAT, 1, dims, b, 0, 16, 0), OLIVE_EFORMAT);
    CHECK(c->n_tensors == 40);
    CHECK(ofmt_checkpoint_find(c, "short") == NULL);
    olive_blob_unref(b);
    ofmt_checkpoint_free(c);
}

/* Q8_0 blocks: an fp16 scale then 32 int8 values; each value is scale * q. */
static void test_ggml_rows_unpermuted(void)
{
    enum { ROWS = 4, COLS = 32, HEADS = 1, BLOCK = 34 };
    uint8_t stored[ROWS * BLOCK];
    float got[ROWS * COLS];
    const int perm_of_row[ROWS] = {0, 2, 1, 3}; /* llama.cpp order of rows 0..3 for one head */
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_GGUF_FILE, "test");
    olive_blob *b;
    ofmt_tensor t = {0};
    for (int r = 0; r < ROWS; r++) {
        /* HF row r is stored at position perm_of_row[r]; scale 0.5 (fp16 0x3800). */
        uint8_t *blk = stored + perm_of_row[r] * BLOCK;
        blk[0] = 0x00;
        blk[1] = 0x38;
        for (int i = 0; i < COLS; i++)
            blk[2 + i] = (uint8_t)(int8_t)(i - 16 + r);
    }
    b = heap_blob(stored, sizeof stored);
    t.name = olive_strdup("k");
    t.file = "test";
    t.storage = OFMT_GGML;
    t.ggml_type = OFMT_GGML_Q8_0;
    t.rank = 2;
    t.dims[0] = ROWS;
    t.dims[1] = COLS;
    t.blob = olive_blob_ref(b);
    t.nbytes = sizeof stored;
    t.unpermute_heads = HEADS;
    CHECK_RC(ofmt_checkpoint_add_tensor(c, &t), OLIVE_OK);
    CHECK_RC(ofmt_tensor_read_f32(ofmt_checkpoint_find(c, "k"), 0, ROWS, got), OLIVE_OK);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < COLS; i++)
            CHECK(got[r * COLS + i] == 0.5f * (float)(i - 16 + r));
    olive_blob_unref(b);
    ofmt_checkpoint_free(c);
}

/* Hostile pickle streams: each is refused with EFORMAT, never a crash. */
static void test_pickle_hostile(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *phrase;
    } cases[] = {
#define PK(s) s, sizeof(s) - 1
        {PK("\x80\x02t."), "MARK"},                /* TUPLE without MARK */
        {PK("\x80\x02R."), "underflow"},           /* REDUCE on an empty stack */
        {PK("\x80\x02h\x05."), "memo"},            /* BINGET of an unset id */
        {PK("\x80\x02}q\x01"), "truncated"},       /* no STOP */
        {PK("\x80\x02K\x01K\x02."), "unbalanced"}, /* two values left */
        {PK("\x80\x02"
            "cbuiltins\neval\n."),
         "builtins.eval"}, /* GLOBAL off the list */
        {PK("\x80\x02"
            "ctorch\nFloatStorage\n)R."),
         "storage type"},                                        /* calling a storage type */
        {PK("\x80\x02}K\x01K\x02s."), "not a non-empty string"}, /* int key */
        {PK("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."), "64 bits"},
        {PK("\x80\x02X\xff\xff\xff\xff"), "truncated"}, /* string longer than the stream */
        {PK("\x80\x09."), "protocol"},
        {PK("\x80\x02I1\n."), "not supported"},                  /* text opcode */
        {PK("\x80\x02}q\xff\xff."), "memo id"},                  /* BINPUT id beyond the stream */
        {PK("\x80\x02X\x02\x00\x00\x00\xc0\x80."), "UTF-8"},     /* overlong NUL */
        {PK("\x80\x02X\x03\x00\x00\x00\xed\xa0\x80."), "UTF-8"}, /* surrogate */
#undef PK
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ofmt_pickle_tensor *ts = NULL;
        size_t n = 0;
        CHECK_RC(ofmt_pickle_state_dict(&ts, &n, (const uint8_t *)cases[i].bytes, cases[i].len, "p.pkl"),
                 OLIVE_EFORMAT);
        CHECK_ERROR_HAS(cases[i].phrase);
        CHECK_ERROR_HAS("p.pkl");
        CHECK(ts == NULL);
    }
}

int main(void)
{
    test_unpermute_rows();
    test_unpermute_vector();
    test_fp16_and_ranges();
    test_add_checks_and_growth();
    test_ggml_rows_unpermuted();
    test_pickle_hostile();
    return check_summary("unit-formats");
}
