/* The format-independent part of source checkpoints: building the tensor list, looking names
 * up, and reading rows as float32 whatever the stored type. */
#include "formats/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/ggml_codes.h"
#include "formats/ggml_dequant.h"
#include "ir/ir.h"


ofmt_checkpoint *ofmt_checkpoint_new(ofmt_kind kind, const char *path)
{
    ofmt_checkpoint *c = olive_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kind = kind;
    if (!(c->path = olive_strdup(path))) {
        free(c);
        return NULL;
    }
    return c;
}

void ofmt_checkpoint_free(ofmt_checkpoint *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_tensors; i++) {
        free(c->tensors[i].name);
        olive_blob_unref(c->tensors[i].blob);
    }
    free(c->tensors);
    olive_strmap_free(&c->by_name);
    for (size_t i = 0; i < c->n_copy_files; i++)
        free(c->copy_files[i]);
    free(c->copy_files);
    for (size_t i = 0; i < c->n_generated; i++) {
        free(c->generated[i].name);
        free(c->generated[i].text);
    }
    free(c->generated);
    for (size_t i = 0; i < c->n_blobs; i++)
        olive_blob_unref(c->blobs[i]);
    free(c->blobs);
    json_decref(c->config);
    json_decref(c->generation_config);
    free(c->path);
    free(c);
}

const ofmt_tensor *ofmt_checkpoint_find(const ofmt_checkpoint *c, const char *name)
{
    if (!c || !name)
        return NULL;
    return olive_strmap_get(&c->by_name, name);
}

uint64_t ofmt_tensor_elements(const ofmt_tensor *t)
{
    uint64_t n = 1;
    for (size_t i = 0; i < t->rank; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

uint64_t ofmt_tensor_row_length(const ofmt_tensor *t)
{
    return t->rank ? (uint64_t)t->dims[t->rank - 1] : 1;
}

/* Checks what a format reader filled in, so that the readers below can trust it. */
static int check_tensor(const ofmt_checkpoint *c, const ofmt_tensor *t)
{
    const char *file = t->file ? t->file : c->path;
    uint64_t n = 1, end;
    if (!t->name || !*t->name)
        return olive_fail(OLIVE_EFORMAT, "'%s': a tensor has an empty name", file);
    if (t->rank > OFMT_MAX_RANK)
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' has rank %zu, more than %d", file, t->name, t->rank,
                          OFMT_MAX_RANK);
    for (size_t i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' has a negative dimension", file, t->name);
        if (!olive_mul_ok(n, (uint64_t)t->dims[i], &n) || n > ((uint64_t)1 << 62))
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' has too many elements", file, t->name);
    }
    if (!t->blob)
        return olive_fail(OLIVE_EINVALID, "'%s': tensor '%s' has no storage", file, t->name);
    if (__builtin_add_overflow(t->offset, t->nbytes, &end) || end > t->blob->size)
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' lies outside its file (bytes %llu..+%llu of %zu)", file,
                          t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, t->blob->size);
    if (t->storage == OFMT_PLAIN) {
        unsigned bits = oir_dtype_bits(t->dtype);
        uint64_t want;
        if (bits == 0 || bits % 8)
            return olive_fail(OLIVE_EUNSUPPORTED, "'%s': tensor '%s' has unsupported dtype %s", file, t->name,
                              oir_dtype_name(t->dtype));
        if (!olive_mul_ok(n, bits / 8, &want) || want != t->nbytes)
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' has %llu bytes, its dtype and shape need %llu", file,
                              t->name, (unsigned long long)t->nbytes, (unsigned long long)want);
    } else if (t->storage == OFMT_GGML) {
        uint64_t row = ofmt_tensor_row_length(t), rows = row ? n / row : 0;
        if (rows && t->nbytes % rows)
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': %llu bytes do not split into %llu rows", file, t->name,
                              (unsigned long long)t->nbytes, (unsigned long long)rows);
    } else {
        return olive_fail(OLIVE_EINVALID, "'%s': tensor '%s' has an unknown storage kind", file, t->name);
    }
    if (t->unpermute_heads < 0)
        return olive_fail(OLIVE_EINVALID, "'%s': tensor '%s' has a negative head count", file, t->name);
    if (t->unpermute_heads > 0) {
        /* Heads split the rows (or, for a vector, its elements) into two halves each. */
        uint64_t row = ofmt_tensor_row_length(t), heads = (uint64_t)t->unpermute_heads;
        uint64_t len = t->rank >= 2 ? (row ? n / row : 0) : n;
        if (len % heads || (len / heads) % 2)
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': %llu rows do not split into %lld heads of even size",
                              file, t->name, (unsigned long long)len, (long long)t->unpermute_heads);
    }
    return OLIVE_OK;
}

/* by_name points into the tensor array: after the array moves, every entry is re-pointed. */
static int repoint_names(ofmt_checkpoint *c)
{
    for (size_t i = 0; i < c->n_tensors; i++)
        OLIVE_TRY(olive_strmap_put(&c->by_name, c->tensors[i].name, &c->tensors[i]));
    return OLIVE_OK;
}

/* The struct has no capacity field: the array holds the next power of two (at least 16) of
 * the count, so it grows exactly when the count reaches such a size. */
static int grow_tensors(ofmt_checkpoint *c)
{
    size_t n = c->n_tensors;
    ofmt_tensor *moved;
    if (n && (n < 16 || (n & (n - 1))))
        return OLIVE_OK;
    if (!(moved = olive_reallocarray(c->tensors, n ? n * 2 : 16, sizeof *moved)))
        return OLIVE_ENOMEM;
    c->tensors = moved;
    return OLIVE_OK;
}

int ofmt_checkpoint_add_tensor(ofmt_checkpoint *c, ofmt_tensor *t)
{
    ofmt_tensor *old = c->tensors;
    int rc = check_tensor(c, t);
    if (rc == OLIVE_OK && olive_strmap_has(&c->by_name, t->name)) {
        const ofmt_tensor *prev = olive_strmap_get(&c->by_name, t->name);
        rc = olive_fail(OLIVE_EFORMAT, "tensor '%s' appears twice: in '%s' and in '%s'", t->name,
                        prev->file ? prev->file : c->path, t->file ? t->file : c->path);
    }
    if (rc == OLIVE_OK)
        rc = grow_tensors(c);
    if (rc == OLIVE_OK) {
        c->tensors[c->n_tensors++] = *t;
        if (c->tensors != old)
            rc = repoint_names(c);
        else
            rc = olive_strmap_put(&c->by_name, t->name, &c->tensors[c->n_tensors - 1]);
        if (rc != OLIVE_OK) {
            c->n_tensors--;
            olive_strmap_remove(&c->by_name, t->name);
        }
    }
    if (rc != OLIVE_OK) {
        free(t->name);
        olive_blob_unref(t->blob);
        t->name = NULL;
        t->blob = NULL;
    }
    return rc;
}

int ofmt_checkpoint_add_plain(ofmt_checkpoint *c, const char *name, olive_blob *blob, int32_t dtype, size_t rank,
                              const int64_t dims[OFMT_MAX_RANK], uint64_t offset, uint64_t nbytes)
{
    ofmt_tensor t = {0};
    if (!(t.name = olive_strdup(name)))
        return OLIVE_ENOMEM;
    t.file = blob->path;
    t.storage = OFMT_PLAIN;
    t.dtype = dtype;
    t.rank = rank;
    memcpy(t.dims, dims, sizeof t.dims);
    t.blob = olive_blob_ref(blob);
    t.offset = offset;
    t.nbytes = nbytes;
    return ofmt_checkpoint_add_tensor(c, &t);
}

int ofmt_checkpoint_keep_blob(ofmt_checkpoint *c, olive_blob *blob)
{
    size_t cap = c->n_blobs;
    if (OLIVE_PUSH(c->blobs, c->n_blobs, cap, blob))
        return OLIVE_ENOMEM;
    olive_blob_ref(blob);
    return OLIVE_OK;
}

/* ---- opening ---- */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *dir, const char *name)
{
    struct stat st;
    char *p = olive_path_join(dir, name);
    int ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static int has_gguf_magic(const char *path)
{
    unsigned char magic[4];
    int fd = olive_open_regular(path, NULL);
    ssize_t n;
    if (fd < 0) {
        olive_error_clear();
        return 0;
    }
    n = read(fd, magic, 4);
    close(fd);
    return n == 4 && !memcmp(magic, "GGUF", 4);
}

int ofmt_checkpoint_probe(const char *path)
{
    if (!path)
        return 0;
    if (is_dir(path))
        return file_exists(path, "config.json") && !file_exists(path, "model.onnx");
    return has_gguf_magic(path);
}

int ofmt_checkpoint_open(ofmt_checkpoint **out, const char *path)
{
    struct stat st;
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "ofmt_checkpoint_open: out and path must not be NULL");
    if (stat(path, &st) != 0)
        return olive_fail_errno(errno, "cannot open checkpoint", path);
    if (S_ISDIR(st.st_mode))
        return ofmt_hf_open(out, path);
    if (!S_ISREG(st.st_mode))
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' is not a regular file", path);
    if (has_gguf_magic(path))
        return ofmt_gguf_open(out, path);
    return olive_fail(OLIVE_EFORMAT, "'%s' is neither a Hugging Face model folder nor a GGUF file", path);
}

/* ---- reading values ---- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float f;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man) {
        /* Subnormal: normalise the mantissa. */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    } else {
        bits = sign;
    }
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Converts `n` stored elements of a plain tensor (little-endian, as every supported format
 * stores them) to float32. */
static void plain_to_f32(int32_t dtype, const uint8_t *src, uint64_t n, float *dst)
{
    switch (dtype) {
    case OIR_FLOAT: memcpy(dst, src, n * 4); break;
    case OIR_FLOAT16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = half_to_float(h);
        }
        break;
    case OIR_BFLOAT16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = bf16_to_float(h);
        }
        break;
    case OIR_DOUBLE:
        for (uint64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    }
}

/* Stored rows [row, row + rows) as float32. `row_bytes` is the stored size of one row. */
static int read_stored_rows(const ofmt_tensor *t, const uint8_t *base, uint64_t row_bytes, uint64_t row, uint64_t rows,
                            uint64_t row_length, float *dst)
{
    const uint8_t *src = base + row * row_bytes;
    int rc;
    if (t->storage == OFMT_PLAIN) {
        plain_to_f32(t->dtype, src, rows * row_length, dst);
        return OLIVE_OK;
    }
    rc = ofmt_ggml_dequant_rows(t->ggml_type, src, row_length, rows, dst);
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "'%s': tensor '%s'", t->file ? t->file : "?", t->name);
    return OLIVE_OK;
}

/* llama.cpp's converter stored each head's rows reshaped [2, half] as [half, 2]: Hugging Face
 * row j*half + i of a head is stored as row 2*i + j. Returns the stored index of `index`. */
static uint64_t permuted_index(uint64_t index, uint64_t head_len)
{
    uint64_t half = head_len / 2, head = index / head_len, rem = index % head_len;
    return head * head_len + 2 * (rem % half) + rem / half;
}

int ofmt_tensor_read_f32(const ofmt_tensor *t, uint64_t first_row, uint64_t rows, float *dst)
{
    uint64_t row_length, total_rows, elements, end, row_bytes;
    const uint8_t *base;
    if (!t || (!dst && rows))
        return olive_fail(OLIVE_EINVALID, "ofmt_tensor_read_f32: tensor and dst must not be NULL");
    if (t->storage == OFMT_PLAIN && t->dtype != OIR_FLOAT && t->dtype != OIR_FLOAT16 && t->dtype != OIR_BFLOAT16 &&
        t->dtype != OIR_DOUBLE)
        return olive_fail(OLIVE_EUNSUPPORTED, "'%s': tensor '%s' has dtype %s, which has no float value",
                          t->file ? t->file : "?", t->name, oir_dtype_name(t->dtype));
    row_length = ofmt_tensor_row_length(t);
    elements = ofmt_tensor_elements(t);
    total_rows = row_length ? elements / row_length : 0;
    if (__builtin_add_overflow(first_row, rows, &end) || end > total_rows)
        return olive_fail(OLIVE_EINVALID, "tensor '%s': rows %llu..+%llu are outside its %llu rows", t->name,
                          (unsigned long long)first_row, (unsigned long long)rows, (unsigned long long)total_rows);
    if (!rows || !row_length)
        return OLIVE_OK;
    base = t->blob->data + t->offset;
    row_bytes = t->nbytes / total_rows;
    if (t->unpermute_heads <= 0)
        return read_stored_rows(t, base, row_bytes, first_row, rows, row_length, dst);
    if (t->rank >= 2) {
        uint64_t head_len = total_rows / (uint64_t)t->unpermute_heads;
        for (uint64_t r = 0; r < rows; r++)
            OLIVE_TRY(read_stored_rows(t, base, row_bytes, permuted_index(first_row + r, head_len), 1, row_length,
                                       dst + r * row_length));
        return OLIVE_OK;
    }
    /* A vector (a bias): the permutation moves its elements; read it whole, then reorder. */
    {
        uint64_t head_len = row_length / (uint64_t)t->unpermute_heads;
        float *tmp = olive_reallocarray(NULL, row_length, sizeof *tmp);
        int rc;
        if (!tmp)
            return OLIVE_ENOMEM;
        rc = read_stored_rows(t, base, row_bytes, 0, 1, row_length, tmp);
        if (rc == OLIVE_OK)
            for (uint64_t i = 0; i < row_length; i++)
                dst[i] = tmp[permuted_index(i, head_len)];
        free(tmp);
        return rc;
    }
}

int ofmt_tensor_read_codes(const ofmt_tensor *t, uint64_t first_row, uint64_t rows, int8_t *codes, float *scales,
                           float *offsets)
{
    ofmt_ggml_codes info;
    uint64_t row_length, total_rows, end, row_bytes, groups;
    const uint8_t *base;
    if (!t || (rows && (!codes || !scales)))
        return olive_fail(OLIVE_EINVALID, "ofmt_tensor_read_codes: tensor, codes and scales must not be NULL");
    if (t->storage != OFMT_GGML || !ofmt_ggml_codes_of(t->ggml_type, &info) || t->rank < 2)
        return olive_fail(OLIVE_EUNSUPPORTED, "'%s': tensor '%s' holds no GGML block codes", t->file ? t->file : "?",
                          t->name);
    row_length = ofmt_tensor_row_length(t);
    total_rows = row_length ? ofmt_tensor_elements(t) / row_length : 0;
    if (__builtin_add_overflow(first_row, rows, &end) || end > total_rows)
        return olive_fail(OLIVE_EINVALID, "tensor '%s': rows %llu..+%llu are outside its %llu rows", t->name,
                          (unsigned long long)first_row, (unsigned long long)rows, (unsigned long long)total_rows);
    if (!rows || !row_length)
        return OLIVE_OK;
    base = t->blob->data + t->offset;
    row_bytes = t->nbytes / total_rows;
    groups = row_length / info.group;
    for (uint64_t r = 0; r < rows; r++) {
        uint64_t stored = first_row + r;
        int rc;
        if (t->unpermute_heads > 0)
            stored = permuted_index(stored, total_rows / (uint64_t)t->unpermute_heads);
        rc = ofmt_ggml_read_codes(t->ggml_type, base + stored * row_bytes, row_length, 1, codes + r * row_length,
                                  scales + r * groups, offsets ? offsets + r * groups : NULL);
        if (rc != OLIVE_OK)
            return olive_fail_context(rc, "'%s': tensor '%s'", t->file ? t->file : "?", t->name);
    }
    return OLIVE_OK;
}
