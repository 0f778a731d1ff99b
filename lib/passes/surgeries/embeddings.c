/* Surgeons: embeddings. */
#include "passes/surgeries/surgeon.h"

const sg_surgeon sg_family_embeddings[] = {
    {NULL, NULL, NULL, NULL},
};
