/* Surgeons: cleanup. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_cleanup[] = {
    {NULL, NULL, NULL, NULL},
};
