/* The part of ONNX Runtime's C API that libolive calls, declared here from the documented ABI
 * so that ONNX Runtime is never needed to build libolive (it is loaded at run time, see
 * ort_loader.h).
 *
 * ONNX Runtime hands out one table of function pointers (OrtApi) through
 * OrtGetApiBase()->GetApi(version). The table is append-only: a member never moves, new ones are
 * added at the end, and a library returns NULL for a version newer than its own. We declare
 * the members in their ABI order up to the last one we call (index 216,
 * SessionOptionsAppendExecutionProvider, added in API version 12) and request that version.
 * Members we do not call are opaque `void *` slots that only keep the layout; each carries the
 * name ONNX Runtime gives it. The static assertions at the end pin the indices we rely on. */
#ifndef OLIVE_BACKENDS_ORT_API_H
#define OLIVE_BACKENDS_ORT_API_H

#include <stddef.h>
#include <stdint.h>

/* The API version whose table layout is declared below. */
#define OLIVE_ORT_API_VERSION 12u

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtSession OrtSession;
typedef struct OrtValue OrtValue;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtTypeInfo OrtTypeInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCUDAProviderOptionsV2 OrtCUDAProviderOptionsV2;
typedef struct OrtTensorRTProviderOptionsV2 OrtTensorRTProviderOptionsV2;

/* The allocator object ONNX Runtime returns: a version and three callbacks. We only hand it
 * back to AllocatorFree, so its members are never called directly. */
typedef struct OrtAllocator {
    uint32_t version;
    void *Alloc, *Free, *Info;
} OrtAllocator;

/* Element types: the values of ONNX's TensorProto.DataType. */
enum {
    ORT_ELEM_UNDEFINED = 0,
    ORT_ELEM_FLOAT = 1,
    ORT_ELEM_UINT8 = 2,
    ORT_ELEM_INT8 = 3,
    ORT_ELEM_UINT16 = 4,
    ORT_ELEM_INT16 = 5,
    ORT_ELEM_INT32 = 6,
    ORT_ELEM_INT64 = 7,
    ORT_ELEM_STRING = 8,
    ORT_ELEM_BOOL = 9,
    ORT_ELEM_FLOAT16 = 10,
    ORT_ELEM_DOUBLE = 11,
    ORT_ELEM_UINT32 = 12,
    ORT_ELEM_UINT64 = 13,
    ORT_ELEM_BFLOAT16 = 16,
};

/* ONNXType: what a value is (only tensors are run through sessions here). */
enum { ORT_TYPE_UNKNOWN = 0, ORT_TYPE_TENSOR = 1 };

/* OrtLoggingLevel, ExecutionMode, GraphOptimizationLevel, OrtAllocatorType, OrtMemType. */
enum { ORT_LOG_VERBOSE = 0, ORT_LOG_INFO, ORT_LOG_WARNING, ORT_LOG_ERROR, ORT_LOG_FATAL };
enum { ORT_EXEC_SEQUENTIAL = 0, ORT_EXEC_PARALLEL = 1 };
enum { ORT_OPT_DISABLE_ALL = 0, ORT_OPT_BASIC = 1, ORT_OPT_EXTENDED = 2, ORT_OPT_ALL = 99 };
enum { ORT_ALLOCATOR_DEVICE = 0, ORT_ALLOCATOR_ARENA = 1 };
enum { ORT_MEM_DEFAULT = 0 };

/* Every fallible call returns NULL on success or a status that must be released. */
typedef OrtStatus *ort_status;

typedef struct ort_api {
    /* 0-2: status */
    void *CreateStatus;
    int (*GetErrorCode)(const OrtStatus *status);
    const char *(*GetErrorMessage)(const OrtStatus *status);
    /* 3-6: environment */
    ort_status (*CreateEnv)(int log_severity_level, const char *logid, OrtEnv **out);
    void *CreateEnvWithCustomLogger;
    void *EnableTelemetryEvents;
    void *DisableTelemetryEvents;
    /* 7-9: sessions */
    ort_status (*CreateSession)(const OrtEnv *env, const char *model_path, const OrtSessionOptions *options,
                                OrtSession **out);
    void *CreateSessionFromArray;
    ort_status (*Run)(OrtSession *session, const OrtRunOptions *run_options, const char *const *input_names,
                      const OrtValue *const *inputs, size_t input_len, const char *const *output_names,
                      size_t output_names_len, OrtValue **outputs);
    /* 10-25: session options */
    ort_status (*CreateSessionOptions)(OrtSessionOptions **out);
    void *SetOptimizedModelFilePath;
    void *CloneSessionOptions;
    ort_status (*SetSessionExecutionMode)(OrtSessionOptions *options, int execution_mode);
    void *EnableProfiling;
    void *DisableProfiling;
    void *EnableMemPattern;
    void *DisableMemPattern;
    void *EnableCpuMemArena;
    void *DisableCpuMemArena;
    void *SetSessionLogId;
    void *SetSessionLogVerbosityLevel;
    void *SetSessionLogSeverityLevel;
    ort_status (*SetSessionGraphOptimizationLevel)(OrtSessionOptions *options, int level);
    ort_status (*SetIntraOpNumThreads)(OrtSessionOptions *options, int threads);
    ort_status (*SetInterOpNumThreads)(OrtSessionOptions *options, int threads);
    /* 26-29: custom operators */
    void *CreateCustomOpDomain;
    void *CustomOpDomain_Add;
    void *AddCustomOpDomain;
    void *RegisterCustomOpsLibrary;
    /* 30-38: session inputs and outputs */
    ort_status (*SessionGetInputCount)(const OrtSession *session, size_t *out);
    ort_status (*SessionGetOutputCount)(const OrtSession *session, size_t *out);
    void *SessionGetOverridableInitializerCount;
    ort_status (*SessionGetInputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);
    ort_status (*SessionGetOutputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);
    void *SessionGetOverridableInitializerTypeInfo;
    ort_status (*SessionGetInputName)(const OrtSession *session, size_t index, OrtAllocator *allocator, char **out);
    ort_status (*SessionGetOutputName)(const OrtSession *session, size_t index, OrtAllocator *allocator, char **out);
    void *SessionGetOverridableInitializerName;
    /* 39-47: run options */
    ort_status (*CreateRunOptions)(OrtRunOptions **out);
    void *RunOptionsSetRunLogVerbosityLevel;
    void *RunOptionsSetRunLogSeverityLevel;
    void *RunOptionsSetRunTag;
    void *RunOptionsGetRunLogVerbosityLevel;
    void *RunOptionsGetRunLogSeverityLevel;
    void *RunOptionsGetRunTag;
    ort_status (*RunOptionsSetTerminate)(OrtRunOptions *options);
    void *RunOptionsUnsetTerminate;
    /* 48-54: values */
    void *CreateTensorAsOrtValue;
    ort_status (*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo *info, void *data, size_t data_len,
                                                 const int64_t *shape, size_t shape_len, int elem_type, OrtValue **out);
    void *IsTensor;
    ort_status (*GetTensorMutableData)(OrtValue *value, void **out);
    void *FillStringTensor;
    void *GetStringTensorDataLength;
    void *GetStringTensorContent;
    /* 55-56: type information */
    ort_status (*CastTypeInfoToTensorInfo)(const OrtTypeInfo *type_info, const OrtTensorTypeAndShapeInfo **out);
    ort_status (*GetOnnxTypeFromTypeInfo)(const OrtTypeInfo *type_info, int *out);
    /* 57-64: tensor type and shape */
    void *CreateTensorTypeAndShapeInfo;
    void *SetTensorElementType;
    void *SetDimensions;
    ort_status (*GetTensorElementType)(const OrtTensorTypeAndShapeInfo *info, int *out);
    ort_status (*GetDimensionsCount)(const OrtTensorTypeAndShapeInfo *info, size_t *out);
    ort_status (*GetDimensions)(const OrtTensorTypeAndShapeInfo *info, int64_t *dims, size_t count);
    ort_status (*GetSymbolicDimensions)(const OrtTensorTypeAndShapeInfo *info, const char **names, size_t count);
    void *GetTensorShapeElementCount;
    /* 65-67: value type */
    ort_status (*GetTensorTypeAndShape)(const OrtValue *value, OrtTensorTypeAndShapeInfo **out);
    void *GetTypeInfo;
    void *GetValueType;
    /* 68-74: memory information */
    void *CreateMemoryInfo;
    ort_status (*CreateCpuMemoryInfo)(int allocator_type, int mem_type, OrtMemoryInfo **out);
    void *CompareMemoryInfo;
    void *MemoryInfoGetName;
    void *MemoryInfoGetId;
    void *MemoryInfoGetMemType;
    void *MemoryInfoGetType;
    /* 75-78: allocators */
    void *AllocatorAlloc;
    ort_status (*AllocatorFree)(OrtAllocator *allocator, void *p);
    void *AllocatorGetInfo;
    ort_status (*GetAllocatorWithDefaultOptions)(OrtAllocator **out);
    /* 79-91: free dimensions, maps and sequences, opaque values, custom-op kernels */
    void *AddFreeDimensionOverride;
    void *GetValue;
    void *GetValueCount;
    void *CreateValue;
    void *CreateOpaqueValue;
    void *GetOpaqueValue;
    void *KernelInfoGetAttribute_float;
    void *KernelInfoGetAttribute_int64;
    void *KernelInfoGetAttribute_string;
    void *KernelContext_GetInputCount;
    void *KernelContext_GetOutputCount;
    void *KernelContext_GetInput;
    void *KernelContext_GetOutput;
    /* 92-101: releases */
    void *ReleaseEnv; /* the environment lives as long as the process */
    void (*ReleaseStatus)(OrtStatus *p);
    void *ReleaseMemoryInfo; /* likewise the host memory description */
    void (*ReleaseSession)(OrtSession *p);
    void (*ReleaseValue)(OrtValue *p);
    void (*ReleaseRunOptions)(OrtRunOptions *p);
    void (*ReleaseTypeInfo)(OrtTypeInfo *p);
    void (*ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo *p);
    void (*ReleaseSessionOptions)(OrtSessionOptions *p);
    void *ReleaseCustomOpDomain;
    /* 102-109: map and sequence type information */
    void *GetDenotationFromTypeInfo;
    void *CastTypeInfoToMapTypeInfo;
    void *CastTypeInfoToSequenceTypeInfo;
    void *GetMapKeyType;
    void *GetMapValueType;
    void *GetSequenceElementType;
    void *ReleaseMapTypeInfo;
    void *ReleaseSequenceTypeInfo;
    /* 110-118: profiling and model metadata */
    void *SessionEndProfiling;
    void *SessionGetModelMetadata;
    void *ModelMetadataGetProducerName;
    void *ModelMetadataGetGraphName;
    void *ModelMetadataGetDomain;
    void *ModelMetadataGetDescription;
    void *ModelMetadataLookupCustomMetadataMap;
    void *ModelMetadataGetVersion;
    void *ReleaseModelMetadata;
    /* 119-124: global thread pools, metadata keys, free dimensions by name */
    void *CreateEnvWithGlobalThreadPools;
    void *DisablePerSessionThreads;
    void *CreateThreadingOptions;
    void *ReleaseThreadingOptions;
    void *ModelMetadataGetCustomMetadataMapKeys;
    void *AddFreeDimensionOverrideByName;
    /* 125-126: providers built into the library */
    ort_status (*GetAvailableProviders)(char ***out, int *count);
    ort_status (*ReleaseAvailableProviders)(char **providers, int count);
    /* 127-129: string tensor elements */
    void *GetStringTensorElementLength;
    void *GetStringTensorElement;
    void *FillStringTensorElement;
    /* 130: session configuration entries */
    ort_status (*AddSessionConfigEntry)(OrtSessionOptions *options, const char *key, const char *value);
    /* 131-146: allocators, I/O binding, language projection, profiling start */
    void *CreateAllocator;
    void *ReleaseAllocator;
    void *RunWithBinding;
    void *CreateIoBinding;
    void *ReleaseIoBinding;
    void *BindInput;
    void *BindOutput;
    void *BindOutputToDevice;
    void *GetBoundOutputNames;
    void *GetBoundOutputValues;
    void *ClearBoundInputs;
    void *ClearBoundOutputs;
    void *TensorAt;
    void *CreateAndRegisterAllocator;
    void *SetLanguageProjection;
    void *SessionGetProfilingStartTimeNs;
    /* 147-151: global thread pool settings, shared initializers, custom logger env */
    void *SetGlobalIntraOpNumThreads;
    void *SetGlobalInterOpNumThreads;
    void *SetGlobalSpinControl;
    void *AddInitializer;
    void *CreateEnvWithCustomLoggerAndGlobalThreadPools;
    /* 152-154: first-generation provider structs */
    void *SessionOptionsAppendExecutionProvider_CUDA;
    void *SessionOptionsAppendExecutionProvider_ROCM;
    void *SessionOptionsAppendExecutionProvider_OpenVINO;
    /* 155-169: denormals, arenas, graph description, TensorRT v1, GPU device, kernel arrays,
     * run config entries, prepacked weights */
    void *SetGlobalDenormalAsZero;
    void *CreateArenaCfg;
    void *ReleaseArenaCfg;
    void *ModelMetadataGetGraphDescription;
    void *SessionOptionsAppendExecutionProvider_TensorRT;
    void *SetCurrentGpuDeviceId;
    void *GetCurrentGpuDeviceId;
    void *KernelInfoGetAttributeArray_float;
    void *KernelInfoGetAttributeArray_int64;
    void *CreateArenaCfgV2;
    void *AddRunConfigEntry;
    void *CreatePrepackedWeightsContainer;
    void *ReleasePrepackedWeightsContainer;
    void *CreateSessionWithPrepackedWeightsContainer;
    void *CreateSessionFromArrayWithPrepackedWeightsContainer;
    /* 170-174: TensorRT with key/value options */
    ort_status (*SessionOptionsAppendExecutionProvider_TensorRT_V2)(OrtSessionOptions *options,
                                                                    const OrtTensorRTProviderOptionsV2 *trt);
    ort_status (*CreateTensorRTProviderOptions)(OrtTensorRTProviderOptionsV2 **out);
    ort_status (*UpdateTensorRTProviderOptions)(OrtTensorRTProviderOptionsV2 *trt, const char *const *keys,
                                                const char *const *values, size_t count);
    void *GetTensorRTProviderOptionsAsString;
    void (*ReleaseTensorRTProviderOptions)(OrtTensorRTProviderOptionsV2 *p);
    /* 175-203: custom ops, allocators, sparse tensors, optional values, GPU stream, memory info of
     * a tensor, provider-specific APIs, custom thread hooks, binding synchronisation */
    void *EnableOrtCustomOps;
    void *RegisterAllocator;
    void *UnregisterAllocator;
    void *IsSparseTensor;
    void *CreateSparseTensorAsOrtValue;
    void *FillSparseTensorCoo;
    void *FillSparseTensorCsr;
    void *FillSparseTensorBlockSparse;
    void *CreateSparseTensorWithValuesAsOrtValue;
    void *UseCooIndices;
    void *UseCsrIndices;
    void *UseBlockSparseIndices;
    void *GetSparseTensorFormat;
    void *GetSparseTensorValuesTypeAndShape;
    void *GetSparseTensorValues;
    void *GetSparseTensorIndicesTypeShape;
    void *GetSparseTensorIndices;
    void *HasValue;
    void *KernelContext_GetGPUComputeStream;
    void *GetTensorMemoryInfo;
    void *GetExecutionProviderApi;
    void *SessionOptionsSetCustomCreateThreadFn;
    void *SessionOptionsSetCustomThreadCreationOptions;
    void *SessionOptionsSetCustomJoinThreadFn;
    void *SetGlobalCustomCreateThreadFn;
    void *SetGlobalCustomThreadCreationOptions;
    void *SetGlobalCustomJoinThreadFn;
    void *SynchronizeBoundInputs;
    void *SynchronizeBoundOutputs;
    /* 204-208: CUDA with key/value options */
    ort_status (*SessionOptionsAppendExecutionProvider_CUDA_V2)(OrtSessionOptions *options,
                                                                const OrtCUDAProviderOptionsV2 *cuda);
    ort_status (*CreateCUDAProviderOptions)(OrtCUDAProviderOptionsV2 **out);
    ort_status (*UpdateCUDAProviderOptions)(OrtCUDAProviderOptionsV2 *cuda, const char *const *keys,
                                            const char *const *values, size_t count);
    void *GetCUDAProviderOptionsAsString;
    void (*ReleaseCUDAProviderOptions)(OrtCUDAProviderOptionsV2 *p);
    /* 209-215: MIGraphX, external initializers, operators created from kernels */
    void *SessionOptionsAppendExecutionProvider_MIGraphX;
    void *AddExternalInitializers;
    void *CreateOpAttr;
    void *ReleaseOpAttr;
    void *CreateOp;
    void *InvokeOp;
    void *ReleaseOp;
    /* 216: any provider by name with key/value options (QNN, OpenVINO, WebGPU, DML, ...) */
    ort_status (*SessionOptionsAppendExecutionProvider)(OrtSessionOptions *options, const char *provider_name,
                                                        const char *const *keys, const char *const *values,
                                                        size_t count);
} ort_api;

/* OrtApiBase: the two entries every ONNX Runtime exports through OrtGetApiBase(). */
typedef struct ort_api_base {
    const ort_api *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} ort_api_base;

typedef const ort_api_base *(*ort_get_api_base_fn)(void);

#define ORT_SLOT(member) (offsetof(ort_api, member) / sizeof(void *))
_Static_assert(sizeof(void (*)(void)) == sizeof(void *), "function and data pointers differ in size");
_Static_assert(ORT_SLOT(Run) == 9, "OrtApi::Run is member 9");
_Static_assert(ORT_SLOT(SessionGetInputCount) == 30, "OrtApi::SessionGetInputCount is member 30");
_Static_assert(ORT_SLOT(CreateRunOptions) == 39, "OrtApi::CreateRunOptions is member 39");
_Static_assert(ORT_SLOT(CreateTensorWithDataAsOrtValue) == 49, "OrtApi::CreateTensorWithDataAsOrtValue is member 49");
_Static_assert(ORT_SLOT(GetTensorTypeAndShape) == 65, "OrtApi::GetTensorTypeAndShape is member 65");
_Static_assert(ORT_SLOT(GetAllocatorWithDefaultOptions) == 78, "OrtApi::GetAllocatorWithDefaultOptions is member 78");
_Static_assert(ORT_SLOT(ReleaseEnv) == 92, "OrtApi::ReleaseEnv is member 92");
_Static_assert(ORT_SLOT(ReleaseSessionOptions) == 100, "OrtApi::ReleaseSessionOptions is member 100");
_Static_assert(ORT_SLOT(GetAvailableProviders) == 125, "OrtApi::GetAvailableProviders is member 125");
_Static_assert(ORT_SLOT(AddSessionConfigEntry) == 130, "OrtApi::AddSessionConfigEntry is member 130");
_Static_assert(ORT_SLOT(SessionOptionsAppendExecutionProvider_TensorRT_V2) == 170,
               "OrtApi::SessionOptionsAppendExecutionProvider_TensorRT_V2 is member 170");
_Static_assert(ORT_SLOT(SessionOptionsAppendExecutionProvider_CUDA_V2) == 204,
               "OrtApi::SessionOptionsAppendExecutionProvider_CUDA_V2 is member 204");
_Static_assert(ORT_SLOT(SessionOptionsAppendExecutionProvider) == 216,
               "OrtApi::SessionOptionsAppendExecutionProvider is member 216");
_Static_assert(sizeof(ort_api) == 217 * sizeof(void *), "OrtApi is declared up to member 216");

#endif
