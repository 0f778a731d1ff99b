/* The list of backends built into this library. */
#include "backends/backend.h"

#include <string.h>

/* Fixed order: the CPU backend first (it is the reference), then the optional ones. */
static const olive_backend *backend_at(size_t index)
{
    size_t i = 0;
    const olive_backend *all[] = {olive_cpu_backend(), olive_cuda_backend()};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        if (!all[k])
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

const olive_backend *olive_backend_get(size_t index) { return backend_at(index); }

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
