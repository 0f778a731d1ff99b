/* DummyDataContainer (tensors of ones) and RawDataContainer (per-input folders of raw binary or
 * .npy files, read as numpy.fromfile / numpy.load would). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/tensor.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/npy.h"
#include "workflow/data/dataset.h"

/* Olive's type names ("float32", "int64", "torch.float16", "float", ...). */
static olive_dtype dtype_of(const char *name)
{
    static const struct {
        const char *name;
        olive_dtype dtype;
    } names[] = {{"float32", OLIVE_DTYPE_FLOAT32}, {"float", OLIVE_DTYPE_FLOAT32},     {"float16", OLIVE_DTYPE_FLOAT16},
                 {"half", OLIVE_DTYPE_FLOAT16},    {"bfloat16", OLIVE_DTYPE_BFLOAT16}, {"float64", OLIVE_DTYPE_DOUBLE},
                 {"double", OLIVE_DTYPE_DOUBLE},   {"int64", OLIVE_DTYPE_INT64},       {"long", OLIVE_DTYPE_INT64},
                 {"int32", OLIVE_DTYPE_INT32},     {"int", OLIVE_DTYPE_INT32},         {"int16", OLIVE_DTYPE_INT16},
                 {"int8", OLIVE_DTYPE_INT8},       {"uint8", OLIVE_DTYPE_UINT8},       {"bool", OLIVE_DTYPE_BOOL},
                 {"uint16", OLIVE_DTYPE_UINT16},   {"uint32", OLIVE_DTYPE_UINT32},     {"uint64", OLIVE_DTYPE_UINT64}};
    if (!strncmp(name, "torch.", 6))
        name += 6;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(names[i].name, name))
            return names[i].dtype;
    return OLIVE_DTYPE_UNDEFINED;
}

static int read_shape(int64_t *shape, size_t *rank, const json_t *v, const char *where, size_t index)
{
    if (!json_is_array(v) || json_array_size(v) > OLIVE_TENSOR_MAX_RANK)
        return olive_fail(OLIVE_EINVALID, "%s.input_shapes[%zu]: expected a list of dims", where, index);
    *rank = json_array_size(v);
    for (size_t j = 0; j < *rank; j++) {
        const json_t *d = json_array_get(v, j);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return olive_fail(OLIVE_EINVALID, "%s.input_shapes[%zu][%zu]: expected a dim >= 0", where, index, j);
        shape[j] = json_integer_value(d);
    }
    return OLIVE_OK;
}

static int read_types(olive_dtype *types, size_t n, const json_t *v, const char *where)
{
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(v, i);
        types[i] = OLIVE_DTYPE_FLOAT32;
        if (v && !json_is_null(v) && (!json_is_string(t) || !(types[i] = dtype_of(json_string_value(t)))))
            return olive_fail(OLIVE_EINVALID,
                              "%s.input_types[%zu]: expected a type name (float32, float16, int64, "
                              "int32, bool, ...)",
                              where, i);
    }
    return OLIVE_OK;
}

static void fill_ones(olive_tensor *t)
{
    unsigned char *p = olive_tensor_data(t);
    size_t es = olive_dtype_size(t->dtype);
    for (uint64_t i = 0; i < t->count; i++, p += es) {
        switch (t->dtype) {
        case OLIVE_DTYPE_FLOAT32: {
            float one = 1.0f;
            memcpy(p, &one, 4);
            break;
        }
        case OLIVE_DTYPE_DOUBLE: {
            double one = 1.0;
            memcpy(p, &one, 8);
            break;
        }
        case OLIVE_DTYPE_FLOAT16: {
            uint16_t one = 0x3C00;
            memcpy(p, &one, 2);
            break;
        }
        case OLIVE_DTYPE_BFLOAT16: {
            uint16_t one = 0x3F80;
            memcpy(p, &one, 2);
            break;
        }
        default: /* integers and bool: little-endian 1 */ memset(p, 0, es); p[0] = 1;
        }
    }
}

int wf_load_dummy(wf_dataset *d, const json_t *params, const char *where)
{
    const json_t *shapes = json_object_get(params, "input_shapes"), *names = json_object_get(params, "input_names"),
                 *types = json_object_get(params, "input_types"), *max_v = json_object_get(params, "max_samples");
    size_t n = json_array_size(shapes), max_samples = 32;
    olive_dtype dt[64];
    char w[300];
    snprintf(w, sizeof w, "%s.load_dataset_config", where);
    if (!json_is_array(shapes) || !n || n > 64)
        return olive_fail(OLIVE_EINVALID, "%s.input_shapes: expected a list of shapes, one per input", w);
    if (names && !json_is_null(names) && (!json_is_array(names) || json_array_size(names) != n))
        return olive_fail(OLIVE_EINVALID, "%s.input_names: expected one name per shape", w);
    if (types && !json_is_null(types) && (!json_is_array(types) || json_array_size(types) != n))
        return olive_fail(OLIVE_EINVALID, "%s.input_types: expected one type per shape", w);
    if (max_v && !json_is_null(max_v)) {
        if (!json_is_integer(max_v) || json_integer_value(max_v) < 1)
            return olive_fail(OLIVE_EINVALID, "%s.max_samples: expected a positive integer", w);
        max_samples = (size_t)json_integer_value(max_v);
    }
    OLIVE_TRY(read_types(dt, n, types, w));
    for (size_t s = 0; s < max_samples; s++) {
        wf_batch b = {0};
        for (size_t i = 0; i < n; i++) {
            int64_t shape[OLIVE_TENSOR_MAX_RANK];
            size_t rank;
            olive_tensor *t;
            const char *name = json_string_value(json_array_get(names, i));
            int rc = read_shape(shape, &rank, json_array_get(shapes, i), w, i);
            if (rc == OLIVE_OK && (rc = olive_tensor_new(&t, dt[i], shape, rank)) == OLIVE_OK) {
                fill_ones(t);
                rc = wf_batch_add(&b, name ? name : "", t);
            }
            if (rc != OLIVE_OK) {
                wf_batch_clear(&b);
                return rc;
            }
        }
        /* Olive's dummy label: tensor([0]). */
        if (olive_tensor_new(&b.labels, OLIVE_DTYPE_INT64, (int64_t[]){1}, 1) != OLIVE_OK) {
            wf_batch_clear(&b);
            return olive_error_code();
        }
        OLIVE_TRY(wf_dataset_push(d, &b));
    }
    return OLIVE_OK;
}

/* ---- .npy ---- */

/* The parsed array `npy` (formats/npy.h) copied into a tensor of its dtype and shape. */
static int npy_tensor(olive_tensor **out, const olive_npy *npy)
{
    olive_tensor *t;
    OLIVE_TRY(olive_tensor_new(&t, (olive_dtype)npy->dtype, npy->dims, npy->rank));
    memcpy(olive_tensor_data(t), npy->data, npy->count * npy->elem_size);
    *out = t;
    return OLIVE_OK;
}

/* Reads a .npy file: its dtype, shape and data (little-endian, C order). */
static int npy_read(olive_tensor **out, const char *path)
{
    olive_npy npy;
    int rc;
    OLIVE_TRY(olive_npy_load(&npy, path));
    rc = npy_tensor(out, &npy);
    olive_npy_clear(&npy);
    return rc;
}

/* A raw file (numpy.fromfile) reshaped, or a .npy file whose element count must fit the shape. */
static int read_input(olive_tensor **out, const char *path, olive_dtype dt, const int64_t *shape, size_t rank)
{
    char *buf = NULL;
    size_t size = 0;
    olive_tensor *t;
    int rc = OLIVE_OK;
    OLIVE_TRY(olive_tensor_new(&t, dt, shape, rank));
    if (olive_read_file(&buf, &size, path, (size_t)1 << 31) != OLIVE_OK) {
        olive_tensor_free(t);
        return olive_error_code();
    }
    if (size >= 6 && !memcmp(buf, "\x93NUMPY", 6)) {
        olive_npy npy;
        if ((rc = olive_npy_parse(&npy, (const uint8_t *)buf, size, path)) == OLIVE_OK &&
            ((olive_dtype)npy.dtype != dt || npy.count * npy.elem_size != olive_tensor_byte_size(t)))
            rc = olive_fail(OLIVE_EFORMAT, "%s: a %s array of %llu elements does not fit the input's %s shape", path,
                            olive_dtype_name((olive_dtype)npy.dtype), (unsigned long long)npy.count,
                            olive_dtype_name(dt));
        if (rc == OLIVE_OK)
            memcpy(olive_tensor_data(t), npy.data, olive_tensor_byte_size(t));
    } else if (size != olive_tensor_byte_size(t)) {
        rc = olive_fail(OLIVE_EFORMAT, "%s: %zu bytes, the input's shape and type need %zu", path, size,
                        olive_tensor_byte_size(t));
    } else {
        memcpy(olive_tensor_data(t), buf, size);
    }
    free(buf);
    if (rc != OLIVE_OK) {
        olive_tensor_free(t);
        return rc;
    }
    *out = t;
    return OLIVE_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of `dir` ending in `suffix`, sorted, other than the order and annotations files. */
static int list_files(char ***out, size_t *n_out, const char *dir, const char *suffix, const char *skip1,
                      const char *skip2)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!d)
        return olive_fail(OLIVE_ENOTFOUND, "input folder '%s' does not exist", dir);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
        char *copy;
        if (e->d_name[0] == '.' || (suffix && (len < sl || strcmp(e->d_name + len - sl, suffix))) ||
            (skip1 && !strcmp(e->d_name, skip1)) || (skip2 && !strcmp(e->d_name, skip2)))
            continue;
        if (!(copy = olive_strdup(e->d_name)) || OLIVE_PUSH(names, n, cap, copy) != OLIVE_OK) {
            free(copy);
            for (size_t i = 0; i < n; i++)
                free(names[i]);
            free(names);
            closedir(d);
            return OLIVE_ENOMEM;
        }
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *n_out = n;
    return OLIVE_OK;
}

int wf_load_raw(wf_dataset *d, const json_t *params, const char *where)
{
    const json_t *names = json_object_get(params, "input_names"), *shapes = json_object_get(params, "input_shapes"),
                 *dirs = json_object_get(params, "input_dirs");
    const char *data_dir = json_string_value(json_object_get(params, "data_dir")),
               *suffix = json_string_value(json_object_get(params, "input_suffix")),
               *order = json_string_value(json_object_get(params, "input_order_file")),
               *annotations = json_string_value(json_object_get(params, "annotations_file"));
    size_t n = json_array_size(names), n_files = 0;
    char **files = NULL, w[300], *first_dir;
    olive_dtype dt[64];
    olive_tensor *ann = NULL;
    int rc = OLIVE_OK;
    snprintf(w, sizeof w, "%s.load_dataset_config", where);
    if (!data_dir)
        return olive_fail(OLIVE_EINVALID, "%s.data_dir: missing (the folder with one sub-folder per input)", w);
    if (!json_is_array(names) || !n || n > 64 || json_array_size(shapes) != n)
        return olive_fail(OLIVE_EINVALID, "%s: input_names and input_shapes must be lists of the same length", w);
    if (dirs && !json_is_null(dirs) && json_array_size(dirs) != n)
        return olive_fail(OLIVE_EINVALID, "%s.input_dirs: expected one folder per input", w);
    OLIVE_TRY(read_types(dt, n, json_object_get(params, "input_types"), w));
    first_dir = olive_path_join(data_dir,
                                json_string_value(json_array_get(dirs && !json_is_null(dirs) ? dirs : names, 0)));
    if (!first_dir)
        return OLIVE_ENOMEM;
    if (order) {
        char *path = olive_path_join(data_dir, order), *text = NULL;
        size_t size = 0, cap = 0;
        rc = path ? olive_read_file(&text, &size, path, (size_t)1 << 26) : OLIVE_ENOMEM;
        for (char *line = text, *next; rc == OLIVE_OK && line && *line; line = next) {
            char *copy;
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            while (*line == ' ' || *line == '\t')
                line++;
            size_t len = strlen(line);
            while (len && (line[len - 1] == ' ' || line[len - 1] == '\r' || line[len - 1] == '\t'))
                line[--len] = '\0';
            if (!len)
                continue;
            if (!(copy = olive_strdup(line)) || OLIVE_PUSH(files, n_files, cap, copy) != OLIVE_OK) {
                free(copy);
                rc = OLIVE_ENOMEM;
            }
            if (!next)
                break;
        }
        free(path);
        free(text);
    } else {
        rc = list_files(&files, &n_files, first_dir, suffix, order, annotations);
    }
    free(first_dir);
    if (rc == OLIVE_OK && annotations) {
        char *path = olive_path_join(data_dir, annotations);
        rc = path ? npy_read(&ann, path) : OLIVE_ENOMEM;
        free(path);
        if (rc == OLIVE_OK && (ann->rank < 1 || (size_t)ann->shape[0] != n_files))
            rc = olive_fail(OLIVE_EFORMAT, "%s.annotations_file: %lld annotations for %zu input files", w,
                            ann->rank ? (long long)ann->shape[0] : 0LL, n_files);
    }
    if (rc == OLIVE_OK && !n_files)
        rc = olive_fail(OLIVE_ENOTFOUND, "%s: no input files in '%s'", w, data_dir);
    for (size_t f = 0; f < n_files && rc == OLIVE_OK; f++) {
        wf_batch b = {0};
        for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
            int64_t shape[OLIVE_TENSOR_MAX_RANK];
            size_t rank;
            olive_tensor *t = NULL;
            const char *sub = json_string_value(json_array_get(dirs && !json_is_null(dirs) ? dirs : names, i));
            char *folder = sub ? olive_path_join(data_dir, sub) : NULL,
                 *path = folder ? olive_path_join(folder, files[f]) : NULL;
            if (!sub || !json_is_string(json_array_get(names, i)))
                rc = olive_fail(OLIVE_EINVALID, "%s.input_names[%zu]: expected a name", w, i);
            else if (!path)
                rc = OLIVE_ENOMEM;
            else if ((rc = read_shape(shape, &rank, json_array_get(shapes, i), w, i)) == OLIVE_OK &&
                     (rc = read_input(&t, path, dt[i], shape, rank)) == OLIVE_OK)
                rc = wf_batch_add(&b, json_string_value(json_array_get(names, i)), t);
            free(folder);
            free(path);
        }
        if (rc == OLIVE_OK) {
            /* The label: annotations[f] (a row of the annotations array), or 0. */
            size_t row_bytes = ann ? ann->bytes / (size_t)ann->shape[0] : 0;
            int64_t one = 1;
            if (ann && (rc = olive_tensor_new(&b.labels, ann->dtype, ann->rank > 1 ? ann->shape + 1 : &one,
                                              ann->rank > 1 ? ann->rank - 1 : 1)) == OLIVE_OK)
                memcpy(olive_tensor_data(b.labels), (char *)olive_tensor_data(ann) + f * row_bytes, row_bytes);
            else if (!ann)
                rc = olive_tensor_new(&b.labels, OLIVE_DTYPE_INT64, &one, 1);
        }
        if (rc == OLIVE_OK)
            rc = wf_dataset_push(d, &b);
        else
            wf_batch_clear(&b);
    }
    for (size_t f = 0; f < n_files; f++)
        free(files[f]);
    free(files);
    olive_tensor_free(ann);
    return rc;
}
