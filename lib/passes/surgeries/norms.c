/* Surgeons: norms. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_norms[] = {
    SG_END,
};
