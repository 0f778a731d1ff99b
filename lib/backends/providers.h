/* Accelerator devices and ONNX Runtime execution providers, and which provider may target
 * which device, following Olive's device-to-provider table. */
#ifndef OLIVE_BACKENDS_PROVIDERS_H
#define OLIVE_BACKENDS_PROVIDERS_H

#include <stddef.h>

enum {
    OLIVE_DEVICE_CPU = 1u << 0,
    OLIVE_DEVICE_GPU = 1u << 1,
    OLIVE_DEVICE_NPU = 1u << 2,
};

typedef struct olive_provider_info {
    const char *name; /* "CUDAExecutionProvider": exact, case-sensitive as ORT has it */
    unsigned devices; /* OLIVE_DEVICE_* bits */
} olive_provider_info;

/* Devices: "cpu", "gpu", "npu" in that order. */
size_t olive_device_count(void);
const char *olive_device_name(size_t index);
/* The canonical (lowercase, static) device name for `name` in any case, or NULL. */
const char *olive_device_lookup(const char *name);
/* OLIVE_DEVICE_* bit of a canonical device name; 0 for anything else. */
unsigned olive_device_bit(const char *device);
/* The provider used when none is named: CPU for cpu, CUDA for gpu, QNN for npu. */
const char *olive_device_default_provider(const char *device);

/* Providers, in a fixed order. */
size_t olive_provider_count(void);
const olive_provider_info *olive_provider_get(size_t index);
/* The provider whose name is exactly `name`, or NULL. */
const olive_provider_info *olive_provider_lookup(const char *name);
/* The provider whose name matches `name` ignoring case (for "did you mean"), or NULL. */
const olive_provider_info *olive_provider_lookup_nocase(const char *name);

/* Why ONNX Runtime's `provider` cannot run a model whose weights and compute are in `precision`
 * ("fp32", "fp16", "bf16", "int4", "int8"): a sentence naming the missing kernels, or NULL when
 * the pair runs or nothing is known against it. The facts are in providers.c's table. */
const char *olive_provider_precision_gap(const char *provider, const char *precision);
/* Providers that run `precision` where others do not, for a hint ("CUDAExecutionProvider"), or
 * NULL. */
const char *olive_precision_runs_on(const char *precision);

#endif
