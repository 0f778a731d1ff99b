#include <stdlib.h>

#include "olive/common.h"

void olive_free(void *ptr)
{
    free(ptr);
}

uint32_t olive_version(void)
{
    return OLIVE_VERSION_NUMBER;
}

const char *olive_version_string(void)
{
    return OLIVE_VERSION_STRING;
}
