/* Surgeons: qdq. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_qdq[] = {
    {NULL, NULL, NULL, NULL},
};
