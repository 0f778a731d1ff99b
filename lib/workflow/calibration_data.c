/* See calibration_data.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "workflow/calibration_data.h"
#include "workflow/data/dataset.h"

static const char *npy_descr(olive_dtype t)
{
    switch (t) {
    case OLIVE_DTYPE_FLOAT32: return "<f4";
    case OLIVE_DTYPE_FLOAT16: return "<f2";
    case OLIVE_DTYPE_DOUBLE: return "<f8";
    case OLIVE_DTYPE_INT64: return "<i8";
    case OLIVE_DTYPE_INT32: return "<i4";
    case OLIVE_DTYPE_INT8: return "|i1";
    case OLIVE_DTYPE_UINT8: return "|u1";
    case OLIVE_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

/* One input across all batches, as <dir>/<name>.npy. */
static int write_input(const wf_dataset *d, size_t slot, const char *dir, const char *where)
{
    const wf_batch *b0 = &d->batches[0];
    const char *name = b0->names[slot];
    const olive_tensor *t0 = b0->inputs[slot];
    olive_dtype dt = olive_tensor_dtype(t0);
    size_t rank = olive_tensor_rank(t0);
    int64_t rows = 0;
    char header[512], *file = NULL, *path = NULL;
    olive_strbuf shape = {0};
    int len, rc = OLIVE_OK;
    olive_outfile f;
    if (!npy_descr(dt) || rank < 1)
        return olive_fail(OLIVE_EINVALID,
                          "%s: calibration input '%s' is a %s of rank %zu: an array of samples is "
                          "needed",
                          where, name, olive_dtype_name(dt) ? olive_dtype_name(dt) : "value", rank);
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return olive_fail(OLIVE_EINVALID, "%s: input name '%s' cannot name a calibration file", where, name);
    for (size_t i = 0; i < d->n_batches; i++) {
        const wf_batch *b = &d->batches[i];
        const olive_tensor *t = slot < b->n_inputs && !strcmp(b->names[slot], name) ? b->inputs[slot] : NULL;
        if (!t || olive_tensor_dtype(t) != dt || olive_tensor_rank(t) != rank)
            return olive_fail(OLIVE_EINVALID, "%s: batch %zu of the data config has no '%s' like the first batch's",
                              where, i, name);
        for (size_t k = 1; k < rank; k++)
            if (olive_tensor_dim(t, k) != olive_tensor_dim(t0, k))
                return olive_fail(OLIVE_EINVALID,
                                  "%s: batches of the data config give '%s' different shapes (dim %zu: "
                                  "%lld and %lld); pad them to one length",
                                  where, name, k, (long long)olive_tensor_dim(t0, k),
                                  (long long)olive_tensor_dim(t, k));
        rows += olive_tensor_dim(t, 0);
    }
    olive_strbuf_printf(&shape, "%lld,", (long long)rows);
    for (size_t k = 1; k < rank; k++)
        olive_strbuf_printf(&shape, " %lld,", (long long)olive_tensor_dim(t0, k));
    len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", npy_descr(dt),
                   shape.data ? shape.data : "");
    olive_strbuf_free(&shape);
    if (len < 0 || (size_t)len + 11 > sizeof header - 64)
        return olive_fail(OLIVE_EINVALID, "%s: calibration input '%s' has too many dims", where, name);
    /* Pad with spaces so the data starts on a 64-byte boundary, newline last (format 1.0). */
    {
        size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64;
        memset(header + len, ' ', pad);
        len += (int)pad;
        header[len++] = '\n';
    }
    if (!(file = olive_asprintf("%s.npy", name)) || !(path = olive_path_join(dir, file))) {
        free(file);
        return OLIVE_ENOMEM;
    }
    if ((rc = olive_outfile_open(&f, path)) == OLIVE_OK) {
        unsigned char magic[10] = {
            0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
        rc = olive_outfile_write(&f, magic, sizeof magic);
        if (rc == OLIVE_OK)
            rc = olive_outfile_write(&f, header, (size_t)len);
        for (size_t i = 0; rc == OLIVE_OK && i < d->n_batches; i++) {
            const olive_tensor *t = d->batches[i].inputs[slot];
            rc = olive_outfile_write(&f, olive_tensor_data(t), olive_tensor_byte_size(t));
        }
        if (rc == OLIVE_OK)
            rc = olive_outfile_commit(&f);
        else
            olive_outfile_abort(&f);
    }
    free(file);
    free(path);
    return rc;
}

int wf_calibration_folder(char **dir, const json_t *config, const char *where)
{
    wf_dataset *d = NULL;
    const char *base = getenv("TMPDIR");
    char *tmp;
    int rc;
    OLIVE_TRY(wf_dataset_build(&d, config, where));
    if (!d->n_batches) {
        wf_dataset_free(d);
        return olive_fail(OLIVE_EINVALID, "%s: the data config gives no calibration samples", where);
    }
    tmp = olive_asprintf("%s/olive-calibration-XXXXXX", base && base[0] ? base : "/tmp");
    if (!tmp || !mkdtemp(tmp)) {
        rc = tmp ? olive_fail_errno(errno, "cannot create a folder for calibration data", tmp) : OLIVE_ENOMEM;
        free(tmp);
        wf_dataset_free(d);
        return rc;
    }
    rc = OLIVE_OK;
    for (size_t i = 0; rc == OLIVE_OK && i < d->batches[0].n_inputs; i++)
        rc = write_input(d, i, tmp, where);
    wf_dataset_free(d);
    if (rc != OLIVE_OK) {
        olive_rmtree(tmp);
        free(tmp);
        return rc;
    }
    *dir = tmp;
    return OLIVE_OK;
}
