/* Surgeons: shapes. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_shapes[] = {
    {NULL, NULL, NULL, NULL},
};
