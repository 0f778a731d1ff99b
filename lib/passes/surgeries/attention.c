/* Surgeons: attention. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_attention[] = {
    SG_END,
};
