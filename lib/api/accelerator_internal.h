/* Accelerator internals shared with the engine and passes. */
#ifndef OLIVE_API_ACCELERATOR_INTERNAL_H
#define OLIVE_API_ACCELERATOR_INTERNAL_H

#include "olive/accelerator.h"

/* Takes another reference (dropped with olive_accelerator_free). Accepts NULL, returns `acc`. */
olive_accelerator *olive_accelerator_ref(olive_accelerator *acc);

#endif
