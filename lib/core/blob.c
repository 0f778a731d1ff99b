#include "core/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

static void free_ctx(void *ctx) { free(ctx); }

int olive_blob_wrap(olive_blob **out, const void *data, size_t size, void (*release)(void *), void *ctx)
{
    olive_blob *b = olive_calloc(1, sizeof *b);
    if (!b)
        return OLIVE_ENOMEM;
    atomic_init(&b->refs, 1);
    b->data = data;
    b->size = size;
    b->fd = -1;
    b->release = release;
    b->ctx = ctx;
    *out = b;
    return OLIVE_OK;
}

int olive_blob_from_heap(olive_blob **out, void *data, size_t size)
{
    int rc = olive_blob_wrap(out, data, size, free_ctx, data);
    if (rc)
        free(data);
    return rc;
}

int olive_blob_alloc(olive_blob **out, size_t size)
{
    void *p = olive_calloc(1, size);
    if (!p)
        return OLIVE_ENOMEM;
    return olive_blob_from_heap(out, p, size);
}

int olive_blob_map_file(olive_blob **out, const char *path)
{
    struct stat st;
    void *map = NULL;
    olive_blob *b;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return olive_fail_errno(errno, "cannot open", path);
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return olive_fail_errno(e, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return olive_fail(OLIVE_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return olive_fail_errno(e, "cannot map", path);
        }
    }
    b = olive_calloc(1, sizeof *b);
    if (!b || !(b->path = olive_strdup(path))) {
        free(b);
        if (map)
            munmap(map, (size_t)st.st_size);
        close(fd);
        return OLIVE_ENOMEM;
    }
    atomic_init(&b->refs, 1);
    b->data = map;
    b->size = (size_t)st.st_size;
    b->fd = fd;
    b->dev = (uint64_t)st.st_dev;
    b->ino = (uint64_t)st.st_ino;
    *out = b;
    return OLIVE_OK;
}

olive_blob *olive_blob_ref(olive_blob *b)
{
    if (b)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

void olive_blob_unref(olive_blob *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    if (b->fd >= 0) {
        if (b->size)
            munmap((void *)b->data, b->size);
        close(b->fd);
    } else if (b->release) {
        b->release(b->ctx);
    }
    free(b->path);
    free(b);
}

void olive_blob_drop_pages(const olive_blob *b, uint64_t offset, uint64_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start, end;
    if (!b || b->fd < 0 || page <= 0 || offset >= b->size)
        return;
    if (size > b->size - offset)
        size = b->size - offset;
    start = offset & ~(uint64_t)(page - 1);
    end = offset + size;
    madvise((void *)(b->data + start), (size_t)(end - start), MADV_DONTNEED);
}
