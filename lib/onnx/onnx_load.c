/* Loading a model: map the file, check its nesting, take the main graph's weights and nodes out
 * of the bytes protobuf-c will copy, unpack the rest and convert it to the IR, then the nodes
 * one at a time. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "onnx/onnx_io.h"
#include "onnx/onnx_load_ctx.h"
#include "onnx/onnx_wire.h"

static int load_blob(oir_model **out, olive_blob *blob, const char *what, const char *base_dir, const char *path)
{
    onnx_load_ctx ctx;
    onnx_stripped stripped;
    Onnx__ModelProto *mp;
    oir_model *m;
    int rc;

    OLIVE_TRY(wire_check_depth(blob->data, blob->size, &onnx__model_proto__descriptor, ONNX_MAX_DEPTH, what));
    OLIVE_TRY(onnx_strip_raw_data(&stripped, blob->data, blob->size, what));
    mp = stripped.data ? onnx__model_proto__unpack(NULL, stripped.size, stripped.data)
                       : onnx__model_proto__unpack(NULL, blob->size, blob->data);
    if (!mp) {
        onnx_stripped_free(&stripped);
        return olive_fail(OLIVE_EFORMAT, "%s: not a valid ONNX model (protobuf decoding failed)", what);
    }
    if (!(m = oir_model_new())) {
        onnx__model_proto__free_unpacked(mp, NULL);
        onnx_stripped_free(&stripped);
        return OLIVE_ENOMEM;
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.what = what;
    ctx.model_blob = blob;
    ctx.base_dir = base_dir;
    ctx.ranges = stripped.ranges;
    ctx.n_ranges = stripped.n_ranges;
    ctx.nodes = stripped.nodes;
    ctx.n_nodes = stripped.n_nodes;
    ctx.model = m;
    rc = blob->fd >= 0 ? oir_model_add_source(m, blob) : OLIVE_OK;
    if (rc == OLIVE_OK)
        rc = onnx_model_from_proto(&ctx, mp, m);
    if (rc == OLIVE_OK && path && !(m->path = olive_strdup(path)))
        rc = OLIVE_ENOMEM;
    onnx_load_ctx_release(&ctx);
    onnx__model_proto__free_unpacked(mp, NULL);
    onnx_stripped_free(&stripped);
    if (rc != OLIVE_OK) {
        oir_model_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}

int onnx_load_file(oir_model **out, const char *path)
{
    olive_blob *blob;
    char *dir;
    int rc;
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "onnx_load_file: NULL argument");
    OLIVE_TRY(olive_blob_map_file(&blob, path));
    if (!(dir = olive_path_dirname(path))) {
        olive_blob_unref(blob);
        return OLIVE_ENOMEM;
    }
    rc = load_blob(out, blob, path, dir, path);
    free(dir);
    olive_blob_unref(blob);
    return rc;
}

int onnx_load_buffer(oir_model **out, const void *data, size_t size, const char *base_dir)
{
    olive_blob *blob;
    void *copy;
    int rc;
    if (!out || (!data && size))
        return olive_fail(OLIVE_EINVALID, "onnx_load_buffer: NULL argument");
    /* One copy, so that tensors can point into bytes the model owns. */
    if (!(copy = olive_malloc(size ? size : 1)))
        return OLIVE_ENOMEM;
    if (size)
        memcpy(copy, data, size);
    OLIVE_TRY(olive_blob_from_heap(&blob, copy, size));
    rc = load_blob(out, blob, "<buffer>", base_dir, NULL);
    olive_blob_unref(blob);
    return rc;
}
