/* See calib_data.h. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "passes/calibrate/calib_data.h"

void olive_calib_data_close(olive_calib_data *d)
{
    for (size_t i = 0; i < d->n_inputs; i++) {
        free(d->names[i]);
        olive_npy_clear(&d->arrays[i]);
    }
    free(d->names);
    free(d->arrays);
    free(d->empty_past);
    memset(d, 0, sizeof *d);
}

/* 1 when `file` (a directory entry) is "<name>.npy" for one of the inputs. */
static int names_an_input(const olive_calib_data *d, const char *file)
{
    for (size_t i = 0; i < d->n_inputs; i++) {
        size_t n = strlen(d->names[i]);
        if (!strncmp(file, d->names[i], n) && !strcmp(file + n, ".npy"))
            return 1;
    }
    return 0;
}

/* A decoder's past key/value input that may be fed empty; its shape goes to a->dims (dim 0 and
 * the past dim set per batch / to 0), dtype to a->dtype. */
static int empty_past_input(const oir_value_info *vi, olive_npy *a)
{
    const oir_type *t = vi->type;
    int past_dim = 0;
    if (strncmp(vi->name, "past_key_values.", 16) && strncmp(vi->name, "past_", 5))
        return 0;
    if (!t || !t->has_shape || t->rank < 2 || t->rank > OLIVE_NPY_MAX_RANK ||
        (t->elem_type != OIR_FLOAT && t->elem_type != OIR_FLOAT16) || t->dims[0].has_value)
        return 0;
    memset(a, 0, sizeof *a);
    a->dtype = t->elem_type;
    a->elem_size = t->elem_type == OIR_FLOAT ? 4 : 2;
    a->rank = t->rank;
    for (size_t d = 1; d < t->rank; d++) {
        const oir_dim *dim = &t->dims[d];
        if (dim->has_value) {
            a->dims[d] = dim->value;
        } else if (dim->param && (strstr(dim->param, "past") || strstr(dim->param, "sequence"))) {
            a->dims[d] = 0;
            past_dim = 1;
        } else {
            return 0;
        }
    }
    return past_dim;
}

static int check_extra_files(const olive_calib_data *d, const char *folder, const char *pass)
{
    DIR *dir = opendir(folder);
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!dir)
        return errno == ENOENT || errno == ENOTDIR
                   ? olive_fail(OLIVE_ENOTFOUND, "%s: calibration data folder '%s' does not exist", pass, folder)
                   : olive_fail_errno(errno, "cannot read the calibration data folder", folder);
    while (rc == OLIVE_OK && (e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".npy") && !names_an_input(d, e->d_name))
            rc = olive_fail(OLIVE_EINVALID,
                            "%s: calibration file '%s/%s' does not fit the model: it has no input named '%.*s'", pass,
                            folder, e->d_name, (int)(n - 4), e->d_name);
    }
    closedir(dir);
    return rc;
}

int olive_calib_data_open(olive_calib_data *out, const oir_graph *g, const char *folder, const char *pass)
{
    olive_calib_data d;
    int rc = OLIVE_OK;
    memset(&d, 0, sizeof d);
    if (!folder || !folder[0])
        return olive_fail(OLIVE_EINVALID,
                          "%s: no calibration data: set calibration_data to a folder of <input>.npy "
                          "files",
                          pass);
    d.names = olive_calloc(g->n_inputs ? g->n_inputs : 1, sizeof *d.names);
    d.arrays = olive_calloc(g->n_inputs ? g->n_inputs : 1, sizeof *d.arrays);
    d.empty_past = olive_calloc(g->n_inputs ? g->n_inputs : 1, 1);
    if (!d.names || !d.arrays || !d.empty_past) {
        free(d.names);
        free(d.arrays);
        free(d.empty_past);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++) {
        const char *name = g->inputs[i].name;
        char *file, *path;
        olive_npy *a = &d.arrays[d.n_inputs];
        if (oir_graph_initializer(g, name))
            continue;
        if (!(d.names[d.n_inputs] = olive_strdup(name)) || !(file = olive_asprintf("%s.npy", name))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        d.n_inputs++;
        path = olive_path_join(folder, file);
        free(file);
        if (!path) {
            rc = OLIVE_ENOMEM;
            break;
        }
        rc = olive_npy_load(a, path);
        if (rc == OLIVE_ENOTFOUND && empty_past_input(&g->inputs[i], a)) {
            olive_error_clear();
            d.empty_past[d.n_inputs - 1] = 1;
            rc = OLIVE_OK;
            free(path);
            continue;
        }
        if (rc == OLIVE_ENOTFOUND)
            rc = olive_fail(OLIVE_EINVALID, "%s: the calibration data has no values for model input '%s' (%s)", pass,
                            name, path);
        else if (rc == OLIVE_OK && a->rank < 1)
            rc = olive_fail(OLIVE_EINVALID, "%s: calibration file %s is a scalar: its first axis must count samples",
                            pass, path);
        else if (rc == OLIVE_OK && d.n_samples > 0 && a->dims[0] != d.n_samples)
            rc = olive_fail(OLIVE_EINVALID, "%s: calibration file %s holds %lld samples, %s.npy %lld", pass, path,
                            (long long)a->dims[0], d.names[0], (long long)d.n_samples);
        else if (rc == OLIVE_OK)
            d.n_samples = a->dims[0];
        free(path);
    }
    if (rc == OLIVE_OK && !d.n_inputs)
        rc = olive_fail(OLIVE_EINVALID, "%s: the model has no inputs to calibrate with", pass);
    for (size_t i = 0; rc == OLIVE_OK && i < d.n_inputs; i++)
        if (!d.empty_past[i] && d.arrays[i].dims[0] != d.n_samples)
            rc = olive_fail(OLIVE_EINVALID, "%s: calibration files %s.npy and %s.npy hold different numbers of samples",
                            pass, d.names[i], d.names[0]);
    if (rc == OLIVE_OK && d.n_samples < 1)
        rc = olive_fail(OLIVE_EINVALID, "%s: the calibration data in '%s' is empty (0 samples)", pass, folder);
    if (rc == OLIVE_OK)
        rc = check_extra_files(&d, folder, pass);
    if (rc != OLIVE_OK) {
        olive_calib_data_close(&d);
        return rc;
    }
    *out = d;
    return OLIVE_OK;
}

int olive_calib_data_batch(const olive_calib_data *d, int64_t start, int64_t count, olive_tensor **tensors)
{
    if (start < 0 || count < 1 || start > d->n_samples - count)
        return olive_fail(OLIVE_EINVALID, "calibration batch [%lld, %lld) is outside the %lld samples",
                          (long long)start, (long long)(start + count), (long long)d->n_samples);
    for (size_t i = 0; i < d->n_inputs; i++) {
        const olive_npy *a = &d->arrays[i];
        int64_t shape[OLIVE_NPY_MAX_RANK];
        size_t row = a->elem_size;
        int rc;
        if (d->empty_past[i]) { /* [count, ..., 0, ...]: no data */
            memcpy(shape, a->dims, a->rank * sizeof *shape);
            shape[0] = count;
            rc = olive_tensor_new(&tensors[i], (olive_dtype)a->dtype, shape, a->rank);
            if (rc != OLIVE_OK) {
                for (size_t k = 0; k < i; k++)
                    olive_tensor_free(tensors[k]);
                return rc;
            }
            continue;
        }
        for (size_t k = 1; k < a->rank; k++)
            row *= (size_t)a->dims[k];
        memcpy(shape, a->dims, a->rank * sizeof *shape);
        shape[0] = count;
        rc = olive_tensor_wrap(&tensors[i], (olive_dtype)a->dtype, shape, a->rank,
                               (void *)(a->data + (size_t)start * row), (size_t)count * row);
        if (rc != OLIVE_OK) {
            for (size_t k = 0; k < i; k++)
                olive_tensor_free(tensors[k]);
            return rc;
        }
    }
    return OLIVE_OK;
}
