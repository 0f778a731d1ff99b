/* Reference-counted byte ranges: the storage behind tensor data.
 *
 * A blob is either a read-only memory mapping of a whole file (weights stay on disk until
 * touched, and can be copied file-to-file without entering this process), a heap buffer owned
 * by the blob, or foreign memory released through a callback. Tensors hold a reference to the
 * blob that keeps their bytes alive. */
#ifndef OLIVE_CORE_BLOB_H
#define OLIVE_CORE_BLOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct olive_blob {
    atomic_int refs; /* tensors in any thread share a blob */
    const uint8_t *data;
    size_t size;
    int fd;            /* open file for mapped blobs, -1 otherwise */
    char *path;        /* mapped file's path, NULL otherwise */
    uint64_t dev, ino; /* mapped file's identity, to refuse overwriting it */
    void (*release)(void *ctx);
    void *ctx;
    struct olive_blob *map_prev, *map_next; /* every mapped blob, for olive_blob_path_at */
} olive_blob;

/* Maps `path` read-only. Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_ENOMEM. An empty file gives
 * a blob of size 0. */
int olive_blob_map_file(olive_blob **out, const char *path);

/* Takes ownership of `data` (malloc'd; freed with the blob). On failure `data` is freed. */
int olive_blob_from_heap(olive_blob **out, void *data, size_t size);

/* Allocates a zeroed heap blob of `size` bytes (writable through (uint8_t *)blob->data). */
int olive_blob_alloc(olive_blob **out, size_t size);

/* Wraps foreign memory; `release(ctx)` runs when the last reference goes (may be NULL). */
int olive_blob_wrap(olive_blob **out, const void *data, size_t size, void (*release)(void *), void *ctx);

olive_blob *olive_blob_ref(olive_blob *b);
void olive_blob_unref(olive_blob *b);

/* For a mapped blob: OLIVE_OK while its file is still as long as when it was mapped, else
 * OLIVE_EIO naming the file and both sizes (reading the missing pages would raise SIGBUS).
 * Other blobs: OLIVE_OK. */
int olive_blob_check_size(const olive_blob *b);

/* Copies into `path` the name of the mapped file whose mapping holds `addr`; returns 1, or 0
 * when no mapped blob holds it. */
int olive_blob_path_at(const void *addr, char *path, size_t size);

/* Tells the kernel the mapped range is no longer needed, so resident pages of a mapped file
 * are dropped from this process (no effect on heap blobs). */
void olive_blob_drop_pages(const olive_blob *b, uint64_t offset, uint64_t size);

#endif
