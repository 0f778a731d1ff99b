/* The peephole pass: local rewrites that make a graph smaller without changing its outputs
 * (Olive's OnnxPeepholeOptimizer). */
#ifndef OLIVE_PASSES_PEEPHOLE_H
#define OLIVE_PASSES_PEEPHOLE_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_peephole;

#endif
