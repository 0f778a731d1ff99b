/* The add_metadata pass (Olive's AddOliveMetadata): the graph's name and metadata_props. */
#ifndef OLIVE_PASSES_ADD_METADATA_H
#define OLIVE_PASSES_ADD_METADATA_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_add_metadata;

#endif
