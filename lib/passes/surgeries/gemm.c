/* Surgeons: gemm. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_gemm[] = {
    SG_END,
};
