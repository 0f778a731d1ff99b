/* Surgeons: gemm. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_gemm[] = {
    {NULL, NULL, NULL, NULL},
};
