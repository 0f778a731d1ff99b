/* The list of backends built into this library. */
#include "backends/backend.h"

#include <string.h>

#include "core/status.h"

int olive_backend_check(const olive_backend *backend)
{
    if (!backend)
        return olive_fail(OLIVE_EINVALID, "backend table is NULL");
    if (backend->api_version != OLIVE_BACKEND_API_VERSION)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "backend '%s' has a table of API version %u; this libolive uses version %u",
                          backend->name ? backend->name : "?", backend->api_version, OLIVE_BACKEND_API_VERSION);
    return OLIVE_OK;
}

/* Fixed order: the CPU backend first (it is the reference), then the optional ones. A table of
 * another API version is left out rather than called through a layout it does not have. */
static const olive_backend *backend_at(size_t index)
{
    size_t i = 0;
    const olive_backend *all[] = {olive_cpu_backend(), olive_cuda_backend(), olive_ort_backend()};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        if (!all[k] || all[k]->api_version != OLIVE_BACKEND_API_VERSION)
            continue;
        if (i++ == index)
            return all[k];
    }
    return NULL;
}

size_t olive_backend_count(void)
{
    size_t n = 0;
    while (backend_at(n))
        n++;
    return n;
}

const olive_backend *olive_backend_get(size_t index)
{
    return backend_at(index);
}

const olive_backend *olive_backend_find(const char *name)
{
    const olive_backend *b;
    if (!name)
        return NULL;
    for (size_t i = 0; (b = backend_at(i)) != NULL; i++)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}
