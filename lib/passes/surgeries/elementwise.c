/* Surgeons: elementwise. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_elementwise[] = {
    {NULL, NULL, NULL, NULL},
};
