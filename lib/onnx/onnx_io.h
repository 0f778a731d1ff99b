/* Loading and saving ONNX model files (.onnx plus external data files) to and from the IR.
 *
 * Loading maps the model file and every external data file once (olive_blob_map_file):
 * initializer bytes, embedded or external, stay in those mappings and are never copied.
 * Tensors stored in typed fields (float_data, int32_data, ...) are converted to raw
 * little-endian bytes in heap blobs. Every mapped file is registered as a source of the model
 * (oir_model_add_source), so that a save never overwrites it.
 *
 * Saving writes the model file and at most one external data file, each under a temporary
 * name renamed into place at the end; on failure nothing is left behind. Initializers of the
 * main graph go external according to the options; initializers of subgraphs and tensors in
 * attributes always stay embedded. */
#ifndef OLIVE_ONNX_IO_H
#define OLIVE_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Message nesting (model > graph > node > attribute > graph ...) refused beyond this depth. */
#define ONNX_MAX_DEPTH 64

enum {
    ONNX_EXTERNAL_AUTO = 0, /* main-graph initializers of size_threshold bytes or more */
    ONNX_EXTERNAL_ALWAYS,   /* every non-empty, non-string main-graph initializer */
    ONNX_EXTERNAL_NEVER     /* all embedded: the model file must stay under 2 GiB */
};

typedef struct onnx_save_options {
    int external;            /* ONNX_EXTERNAL_AUTO (default), _ALWAYS, _NEVER */
    uint64_t size_threshold; /* default 1024: tensors with at least this many bytes go external */
    uint64_t align;          /* default 4096; offsets in the data file are multiples of it */
    const char *data_file;   /* default NULL = "<model file name>.data", relative to the model's folder */
    /* Called after each external tensor is written, and once more when the model file is
     * written, with the bytes of main-graph initializer data written so far and their total.
     * A non-zero return cancels: the save fails with OLIVE_ECANCELLED, nothing left behind. */
    int (*progress)(uint64_t bytes_written, uint64_t bytes_total, void *user);
    void *user;
    /* 1: the files are a working copy read back at once and then removed (calibration's
     * augmented model): written without forcing them to disk (no fsync), 0 (default): durable. */
    int scratch;
    char data_file_storage[1024]; /* holds the name parsed by onnx_save_options_parse */
} onnx_save_options;

void onnx_save_options_init(onnx_save_options *o);

/* Parses "external_data=auto|always|never size_threshold=N align=N data_file=NAME" (any
 * subset, space separated; NULL or "" changes nothing). On failure `o` is unchanged.
 * Errors: OLIVE_EINVALID (bad value, naming the key), OLIVE_ENOTFOUND (unknown key). */
int onnx_save_options_parse(onnx_save_options *o, const char *text);

/* Loads the model at `path`; external data is resolved against its folder.
 * Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND, OLIVE_EFORMAT, OLIVE_EUNSUPPORTED, OLIVE_EIO,
 * OLIVE_ENOMEM, each with a message naming the file and the tensor, node or field at fault. */
int onnx_load_file(oir_model **out, const char *path);

/* Loads from memory (the bytes are copied once, so `data` may be released afterwards).
 * External data is resolved against `base_dir`; with NULL a model that uses external data is
 * refused (OLIVE_EUNSUPPORTED). */
int onnx_load_buffer(oir_model **out, const void *data, size_t size, const char *base_dir);

/* Saves `m` to `path` (options NULL: defaults). Refuses (OLIVE_EINVALID) a destination, model
 * or data file, that is one of the model's source files.
 * Errors: OLIVE_EINVALID, OLIVE_EUNSUPPORTED (a model file of 2 GiB or more), OLIVE_ECANCELLED,
 * OLIVE_EIO, OLIVE_ENOMEM. */
int onnx_save_file(const oir_model *m, const char *path, const onnx_save_options *o);

#endif
