/* Resolving external data locations to mapped files inside the model's folder. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "onnx/onnx_load_ctx.h"

int onnx_external_file(onnx_load_ctx *ctx, const char *location, const char *tensor, olive_blob **out)
{
    char what[512];
    char *joined, *real, *key;
    olive_blob *blob;
    int rc;

    if (!ctx->base_dir)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: tensor '%s' uses external data '%s', which a model loaded "
                          "from memory without a folder cannot reach",
                          ctx->what, tensor, location);
    snprintf(what, sizeof what, "%s: tensor '%s' external data", ctx->what, tensor);
    OLIVE_TRY(olive_path_check_inside(location, what));

    if (!(joined = olive_path_join(ctx->base_dir, location)))
        return OLIVE_ENOMEM;
    real = realpath(joined, NULL);
    if (!real) {
        int e = errno;
        if (e == ENOENT)
            rc = olive_fail(OLIVE_ENOTFOUND, "%s: tensor '%s': external data file '%s' not found", ctx->what, tensor,
                            joined);
        else
            rc = olive_fail_errno(e, "cannot resolve external data file", joined);
        free(joined);
        return rc;
    }
    /* The same containment as every file of a model folder (the hub cache's links included). */
    rc = olive_path_check_contained(ctx->base_dir, joined, "external data file");
    free(joined);
    if (rc != OLIVE_OK) {
        free(real);
        return olive_fail_context(rc, "%s: tensor '%s' (location '%s')", ctx->what, tensor, location);
    }
    if ((blob = olive_strmap_get(&ctx->files, real))) {
        free(real);
        *out = blob;
        return OLIVE_OK;
    }
    if ((rc = olive_blob_map_file(&blob, real)) != OLIVE_OK) {
        free(real);
        return olive_fail_context(rc, "%s: tensor '%s'", ctx->what, tensor);
    }
    key = real;
    if ((rc = OLIVE_PUSH(ctx->file_keys, ctx->n_files, ctx->cap_files, key)) != OLIVE_OK) {
        free(key);
        olive_blob_unref(blob);
        return rc;
    }
    if ((rc = olive_strmap_put(&ctx->files, key, blob)) != OLIVE_OK) {
        olive_blob_unref(blob);
        return rc;
    }
    /* The context keeps its reference until release; the model takes its own. */
    if ((rc = oir_model_add_source(ctx->model, blob)) != OLIVE_OK)
        return rc;
    *out = blob;
    return OLIVE_OK;
}

void onnx_load_ctx_release(onnx_load_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_files; i++) {
        olive_blob *b = olive_strmap_get(&ctx->files, ctx->file_keys[i]);
        olive_blob_unref(b);
        free(ctx->file_keys[i]);
    }
    free(ctx->file_keys);
    olive_strmap_free(&ctx->files);
    ctx->file_keys = NULL;
    ctx->n_files = ctx->cap_files = 0;
}
