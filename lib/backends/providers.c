/* The device/provider table. Olive lets each device use the providers below plus
 * CPUExecutionProvider, which every device may fall back to. CoreML is not in Olive's table;
 * ONNX Runtime's CoreML provider targets Apple GPUs and the Neural Engine. */
#include "backends/providers.h"

#include <string.h>
#include <strings.h>

#define CPU OLIVE_DEVICE_CPU
#define GPU OLIVE_DEVICE_GPU
#define NPU OLIVE_DEVICE_NPU

static const char *const devices[] = {"cpu", "gpu", "npu"};

static const olive_provider_info providers[] = {
    {"CPUExecutionProvider", CPU | GPU | NPU},
    {"CUDAExecutionProvider", GPU},
    {"TensorrtExecutionProvider", GPU},
    {"NvTensorRTRTXExecutionProvider", GPU},
    {"ROCMExecutionProvider", GPU},
    {"MIGraphXExecutionProvider", GPU},
    {"DmlExecutionProvider", GPU | NPU},
    {"OpenVINOExecutionProvider", CPU | GPU | NPU},
    {"QNNExecutionProvider", GPU | NPU},
    {"VitisAIExecutionProvider", NPU},
    {"WebGpuExecutionProvider", GPU},
    {"JsExecutionProvider", GPU},
    {"CoreMLExecutionProvider", GPU | NPU},
};

size_t olive_device_count(void)
{
    return sizeof devices / sizeof devices[0];
}

const char *olive_device_name(size_t index)
{
    return index < olive_device_count() ? devices[index] : NULL;
}

const char *olive_device_lookup(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < olive_device_count(); i++)
        if (strcasecmp(name, devices[i]) == 0)
            return devices[i];
    return NULL;
}

unsigned olive_device_bit(const char *device)
{
    for (size_t i = 0; device && i < olive_device_count(); i++)
        if (strcmp(device, devices[i]) == 0)
            return 1u << i;
    return 0;
}

const char *olive_device_default_provider(const char *device)
{
    switch (olive_device_bit(device)) {
    case CPU: return "CPUExecutionProvider";
    case GPU: return "CUDAExecutionProvider";
    case NPU: return "QNNExecutionProvider";
    default: return NULL;
    }
}

size_t olive_provider_count(void)
{
    return sizeof providers / sizeof providers[0];
}

const olive_provider_info *olive_provider_get(size_t index)
{
    return index < olive_provider_count() ? &providers[index] : NULL;
}

const olive_provider_info *olive_provider_lookup(const char *name)
{
    for (size_t i = 0; name && i < olive_provider_count(); i++)
        if (strcmp(name, providers[i].name) == 0)
            return &providers[i];
    return NULL;
}

const olive_provider_info *olive_provider_lookup_nocase(const char *name)
{
    for (size_t i = 0; name && i < olive_provider_count(); i++)
        if (strcasecmp(name, providers[i].name) == 0)
            return &providers[i];
    return NULL;
}

/* Precision/provider pairs that ONNX Runtime cannot run, with the reason. Only facts are listed:
 * - CPUExecutionProvider has MatMul, Gemm, Add and Mul kernels for float, double and the integer
 *   types, none for bfloat16; session creation fails with "Could not find an implementation for
 *   MatMul(13)" (onnxruntime 1.32; tests/integration/test_workflow.py checks it on the installed
 *   onnxruntime). float16 does run: ONNX Runtime inserts Casts to float around CPU nodes
 *   without a float16 kernel.
 * - DmlExecutionProvider: DirectML's tensor data types have no bfloat16.
 * - WebGpuExecutionProvider and JsExecutionProvider: WGSL shaders have f16 and f32, no bfloat16. */
static const struct {
    const char *provider, *precision, *why;
} gaps[] = {
    {"CPUExecutionProvider", "bf16", "ONNX Runtime's CPU provider has no bfloat16 MatMul, Gemm, Add or Mul kernels"},
    {"DmlExecutionProvider", "bf16", "DirectML has no bfloat16 tensors"},
    {"WebGpuExecutionProvider", "bf16", "WebGPU shaders have no bfloat16 type"},
    {"JsExecutionProvider", "bf16", "WebGPU shaders have no bfloat16 type"},
};

const char *olive_provider_precision_gap(const char *provider, const char *precision)
{
    for (size_t i = 0; provider && precision && i < sizeof gaps / sizeof gaps[0]; i++)
        if (!strcmp(gaps[i].provider, provider) && !strcmp(gaps[i].precision, precision))
            return gaps[i].why;
    return NULL;
}

const char *olive_precision_runs_on(const char *precision)
{
    return precision && !strcmp(precision, "bf16") ? "CUDAExecutionProvider" : NULL;
}
