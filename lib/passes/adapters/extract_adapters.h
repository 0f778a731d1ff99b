/* The extract_adapters pass (Olive's ExtractAdapters): LoRA weights taken out of a model into
 * an adapter file beside it, and fed back as graph inputs. */
#ifndef OLIVE_PASSES_EXTRACT_ADAPTERS_H
#define OLIVE_PASSES_EXTRACT_ADAPTERS_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_extract_adapters;

#endif
