/* The GraphSurgeries pass (Olive's type name): a list of named graph surgeons, each with its
 * own parameters, applied in order. */
#ifndef OLIVE_PASSES_SURGERIES_H
#define OLIVE_PASSES_SURGERIES_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_graph_surgeries;

#endif
