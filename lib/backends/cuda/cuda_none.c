/* Builds without CUDA have no CUDA backend. */
#include "backends/backend.h"

#include <stddef.h>

const olive_backend *olive_cuda_backend(void)
{
    return NULL;
}
