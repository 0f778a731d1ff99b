/* libolive — accelerators.
 *
 * An accelerator is the target a pipeline optimizes for: a device (cpu, gpu, npu) and an
 * ONNX Runtime execution provider, named as Olive names them, together with what was detected
 * on this host (CPU model and ISA features, cores, memory, CUDA device).
 */
#ifndef OLIVE_ACCELERATOR_H
#define OLIVE_ACCELERATOR_H

#include "olive/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_accelerator olive_accelerator;

/* Creates an accelerator. `device` is "cpu", "gpu" or "npu" (case-insensitive); `provider`
 * is an ONNX Runtime execution provider name, spelled as ONNX Runtime spells it
 * ("CPUExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider", ...), or NULL for
 * the device's default: cpu -> CPUExecutionProvider, gpu -> CUDAExecutionProvider,
 * npu -> QNNExecutionProvider. The pair must be compatible (CUDAExecutionProvider runs on gpu,
 * not cpu); CPUExecutionProvider is accepted on every device, as the fallback ONNX Runtime
 * always has. Release with olive_accelerator_free.
 * Errors: OLIVE_EINVALID (unknown device or provider, or an incompatible pair: the message
 * lists the known names), OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_accelerator_new(olive_accelerator **out, const char *device, const char *provider);

/* Releases the caller's reference. Accepts NULL. Since 0.1. */
OLIVE_API void olive_accelerator_free(olive_accelerator *acc);

/* Accessors return their value and never fail: a NULL accelerator gives NULL or 0 and leaves
 * olive_error_last() as it was. */

/* Borrowed names: the device ("cpu"/"gpu"/"npu") and the provider ("CPUExecutionProvider"...).
 * Since 0.1. */
OLIVE_API const char *olive_accelerator_device(const olive_accelerator *acc);
OLIVE_API const char *olive_accelerator_provider(const olive_accelerator *acc);

/* 1 if the host CPU has the ISA feature, 0 if not or unknown. Feature names: "sse4_2",
 * "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
 * "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16" on x86-64;
 * "neon", "dotprod", "i8mm", "sve", "bf16" on aarch64. Since 0.1. */
OLIVE_API int olive_accelerator_has_feature(const olive_accelerator *acc, const char *feature);

/* Describes the accelerator and the detected host as JSON into *out (release with
 * olive_free): device, provider, cpu {arch, model, logical_cores, affinity_cores,
 * physical_cores, features[]}, memory_bytes, cuda {available, runtime_version,
 * devices[{name, memory_bytes, compute_capability}]}, cpu_backend {library, version,
 * available}, backends[] (names of the backends built in).
 * Errors: OLIVE_EINVALID, OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_accelerator_describe_json(char **out, const olive_accelerator *acc);

/* Host facts (the same for every accelerator): the CPU model (borrowed, "unknown" when not
 * detected), the logical cores, the physical memory in bytes (0 when unknown). Since 0.1. */
OLIVE_API const char *olive_accelerator_cpu_model(const olive_accelerator *acc);
OLIVE_API int olive_accelerator_cpu_cores(const olive_accelerator *acc);
OLIVE_API uint64_t olive_accelerator_memory_bytes(const olive_accelerator *acc);
/* The number of CUDA devices the driver reports: a count, never an error code (0 without a
 * driver, a GPU or CUDA support, and for a NULL accelerator). Since 0.1. */
OLIVE_API int olive_accelerator_cuda_device_count(const olive_accelerator *acc);

#ifdef __cplusplus
}
#endif
#endif
