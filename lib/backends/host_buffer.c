/* Backend buffers in host memory: what the CPU and ONNX Runtime backends hand out. */
#include "backends/backend.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

struct olive_backend_buffer {
    size_t size;
    unsigned char *bytes;
};

int olive_host_buffer_alloc(struct olive_backend_buffer **out, const olive_backend *backend, int device, size_t size)
{
    struct olive_backend_buffer *b;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "host buffer: out must not be NULL");
    if (device != 0)
        return olive_fail(OLIVE_EINVALID, "%s backend: device index %d out of range (1 device)",
                          backend ? backend->name : "host", device);
    if (!(b = olive_calloc(1, sizeof *b)) || !(b->bytes = olive_calloc(1, size ? size : 1))) {
        free(b);
        return olive_fail(OLIVE_ENOMEM, "host buffer: cannot allocate %zu bytes", size);
    }
    b->size = size;
    *out = b;
    return OLIVE_OK;
}

static int check_range(const struct olive_backend_buffer *b, size_t offset, size_t size, const void *p)
{
    if (!b || (!p && size))
        return olive_fail(OLIVE_EINVALID, "host buffer: NULL buffer or pointer");
    if (offset > b->size || size > b->size - offset)
        return olive_fail(OLIVE_EINVALID, "host buffer: range [%zu, +%zu) is outside the buffer of %zu bytes", offset,
                          size, b->size);
    return OLIVE_OK;
}

int olive_host_buffer_write(struct olive_backend_buffer *b, size_t offset, const void *src, size_t size)
{
    OLIVE_TRY(check_range(b, offset, size, src));
    if (size)
        memcpy(b->bytes + offset, src, size);
    return OLIVE_OK;
}

int olive_host_buffer_read(const struct olive_backend_buffer *b, size_t offset, void *dst, size_t size)
{
    OLIVE_TRY(check_range(b, offset, size, dst));
    if (size)
        memcpy(dst, b->bytes + offset, size);
    return OLIVE_OK;
}

void olive_host_buffer_free(struct olive_backend_buffer *b)
{
    if (!b)
        return;
    free(b->bytes);
    free(b);
}
