#include "core/blob.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"

static void free_ctx(void *ctx)
{
    free(ctx);
}

/* Every mapped blob, so that a bus error's address can be traced to its file. */
static pthread_mutex_t mapped_lock = PTHREAD_MUTEX_INITIALIZER;
static olive_blob *mapped;

static void mapped_add(olive_blob *b)
{
    pthread_mutex_lock(&mapped_lock);
    b->map_prev = NULL;
    b->map_next = mapped;
    if (mapped)
        mapped->map_prev = b;
    mapped = b;
    pthread_mutex_unlock(&mapped_lock);
}

static void mapped_remove(olive_blob *b)
{
    pthread_mutex_lock(&mapped_lock);
    if (b->map_prev)
        b->map_prev->map_next = b->map_next;
    else if (mapped == b)
        mapped = b->map_next;
    if (b->map_next)
        b->map_next->map_prev = b->map_prev;
    pthread_mutex_unlock(&mapped_lock);
}

int olive_blob_path_at(const void *addr, char *path, size_t size)
{
    const uint8_t *a = addr;
    int found = 0;
    pthread_mutex_lock(&mapped_lock);
    for (olive_blob *b = mapped; b && !found; b = b->map_next) {
        /* the mapping spans whole pages: a fault lands past size, up to the page end */
        long page = sysconf(_SC_PAGESIZE);
        size_t span = page > 0 ? (b->size + (size_t)page - 1) / (size_t)page * (size_t)page : b->size;
        if (b->data && a >= b->data && (size_t)(a - b->data) < span) {
            snprintf(path, size, "%s", b->path ? b->path : "");
            found = 1;
        }
    }
    pthread_mutex_unlock(&mapped_lock);
    return found;
}

int olive_blob_check_size(const olive_blob *b)
{
    struct stat st;
    if (!b || b->fd < 0 || !b->size)
        return OLIVE_OK;
    if (fstat(b->fd, &st) != 0)
        return olive_fail_errno(errno, "cannot read", b->path);
    if ((uint64_t)st.st_size < (uint64_t)b->size)
        return olive_fail(OLIVE_EIO,
                          "'%s' shrank from %zu to %lld bytes since it was opened (another program "
                          "truncated or rewrote it)",
                          b->path, b->size, (long long)st.st_size);
    return OLIVE_OK;
}

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
    int fd = olive_open_regular(path, &st);
    if (fd < 0)
        return olive_error_code();
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
    if (map)
        mapped_add(b);
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
        if (b->size) {
            mapped_remove(b);
            munmap((void *)b->data, b->size);
        }
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
