"""Loads the libolive shared library and declares the C signatures of its public functions.

This module is the only place that knows the C ABI (include/olive/*.h). Every public function
is declared with its argument and result types, so a wrong call raises a ctypes error in Python
instead of corrupting memory. Handles are distinct opaque pointer types, so passing a pass
where a model is expected is caught too.
"""

import ctypes
import ctypes.util
import glob
import os

ENV_VAR = "LIBOLIVE_LIBRARY"

# Status codes (common.h); the values are pinned by the ABI.
OLIVE_OK = 0
OLIVE_EINVALID = -1
OLIVE_ENOTFOUND = -2
OLIVE_EFORMAT = -3
OLIVE_EUNSUPPORTED = -4
OLIVE_EIO = -5
OLIVE_ENOMEM = -6
OLIVE_ECANCELLED = -7
OLIVE_EEXISTS = -8
OLIVE_EINTERNAL = -9

# Log levels (common.h).
OLIVE_LOG_DEBUG = 0
OLIVE_LOG_INFO = 1
OLIVE_LOG_WARNING = 2
OLIVE_LOG_ERROR = 3
OLIVE_LOG_SILENT = 4

# Progress events (engine.h).
OLIVE_PROGRESS_PASS_STARTED = 0
OLIVE_PROGRESS_PASS_PROGRESS = 1
OLIVE_PROGRESS_PASS_FINISHED = 2
OLIVE_PROGRESS_SAVING = 3
OLIVE_PROGRESS_DONE = 4

# Parameter types (pass.h).
OLIVE_PARAM_BOOL = 0
OLIVE_PARAM_INT = 1
OLIVE_PARAM_FLOAT = 2
OLIVE_PARAM_STRING = 3
OLIVE_PARAM_CHOICE = 4
OLIVE_PARAM_LIST = 5


class LibraryNotFoundError(ImportError):
    """The libolive shared library could not be found or loaded."""


# Opaque handle types: never dereferenced, only passed back to the library.
class _OliveModel(ctypes.Structure):
    pass


class _OlivePass(ctypes.Structure):
    pass


class _OliveAccelerator(ctypes.Structure):
    pass


class _OliveEngine(ctypes.Structure):
    pass


class _OliveWorkflow(ctypes.Structure):
    pass


class _OliveTokenizer(ctypes.Structure):
    pass


class _OliveEncoding(ctypes.Structure):
    pass


class _OliveTensor(ctypes.Structure):
    pass


class _OliveSession(ctypes.Structure):
    pass


class _OliveGenerator(ctypes.Structure):
    pass


ModelPtr = ctypes.POINTER(_OliveModel)
PassPtr = ctypes.POINTER(_OlivePass)
AcceleratorPtr = ctypes.POINTER(_OliveAccelerator)
EnginePtr = ctypes.POINTER(_OliveEngine)
WorkflowPtr = ctypes.POINTER(_OliveWorkflow)
TokenizerPtr = ctypes.POINTER(_OliveTokenizer)
EncodingPtr = ctypes.POINTER(_OliveEncoding)
TensorPtr = ctypes.POINTER(_OliveTensor)
SessionPtr = ctypes.POINTER(_OliveSession)
GeneratorPtr = ctypes.POINTER(_OliveGenerator)

# Callback types. The `void *user` argument is unused from Python: closures carry the state.
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                               ctypes.c_size_t, ctypes.c_double, ctypes.c_uint64, ctypes.c_void_p)

_c_int = ctypes.c_int
_c_str = ctypes.c_char_p
_c_size = ctypes.c_size_t
METRIC_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_char_p, ctypes.c_char_p,
                             ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
EVALUATE_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint64,
                                        ctypes.c_double, ctypes.c_double, ctypes.c_void_p)
_c_u64 = ctypes.c_uint64
# `char **out` results: received as a raw address so that they can be released with olive_free
# after copying (a c_char_p out-parameter would copy and lose the address).
_c_out_str = ctypes.POINTER(ctypes.c_void_p)

# name: (restype, [argtypes]) for every function declared OLIVE_API in include/olive/*.h.
SIGNATURES = {
    # common.h
    "olive_error_last": (_c_str, []),
    "olive_error_code": (_c_int, []),
    "olive_strerror": (_c_str, [_c_int]),
    "olive_error_clear": (None, []),
    "olive_free": (None, [ctypes.c_void_p]),
    "olive_version": (ctypes.c_uint32, []),
    "olive_version_string": (_c_str, []),
    "olive_log_set_level": (_c_int, [_c_int]),
    "olive_log_set_callback": (None, [LOG_FN, ctypes.c_void_p]),
    # model.h
    "olive_model_load": (_c_int, [ctypes.POINTER(ModelPtr), _c_str]),
    "olive_model_free": (None, [ModelPtr]),
    "olive_model_save": (_c_int, [ModelPtr, _c_str, _c_str]),
    "olive_model_summary_json": (_c_int, [_c_out_str, ModelPtr]),
    "olive_model_node_count": (_c_size, [ModelPtr]),
    "olive_model_initializer_count": (_c_size, [ModelPtr]),
    "olive_model_parameter_count": (_c_u64, [ModelPtr]),
    "olive_model_input_count": (_c_size, [ModelPtr]),
    "olive_model_output_count": (_c_size, [ModelPtr]),
    "olive_model_input_name": (_c_str, [ModelPtr, _c_size]),
    "olive_model_output_name": (_c_str, [ModelPtr, _c_size]),
    "olive_model_opset": (ctypes.c_int64, [ModelPtr, _c_str]),
    "olive_model_path": (_c_str, [ModelPtr]),
    "olive_model_inference_settings": (_c_str, [ModelPtr]),
    "olive_model_validate": (_c_int, [ModelPtr]),
    # pass.h
    "olive_pass_registry_count": (_c_size, []),
    "olive_pass_registry_name": (_c_str, [_c_size]),
    "olive_pass_describe_json": (_c_int, [_c_out_str, _c_str]),
    "olive_pass_new": (_c_int, [ctypes.POINTER(PassPtr), _c_str]),
    "olive_pass_new_olive": (_c_int, [ctypes.POINTER(PassPtr), _c_str, _c_str]),
    "olive_pass_free": (None, [PassPtr]),
    "olive_pass_name": (_c_str, [PassPtr]),
    "olive_pass_set": (_c_int, [PassPtr, _c_str, _c_str]),
    "olive_pass_set_int": (_c_int, [PassPtr, _c_str, ctypes.c_int64]),
    "olive_pass_set_float": (_c_int, [PassPtr, _c_str, ctypes.c_double]),
    "olive_pass_set_bool": (_c_int, [PassPtr, _c_str, _c_int]),
    "olive_pass_set_many": (_c_int, [PassPtr, _c_str]),
    "olive_pass_get": (_c_int, [PassPtr, _c_str, ctypes.POINTER(_c_str)]),
    "olive_pass_apply": (_c_int, [ctypes.POINTER(ModelPtr), PassPtr, ModelPtr]),
    "olive_pass_get_int": (_c_int, [PassPtr, _c_str, ctypes.POINTER(ctypes.c_int64)]),
    "olive_pass_get_float": (_c_int, [PassPtr, _c_str, ctypes.POINTER(ctypes.c_double)]),
    "olive_pass_get_bool": (_c_int, [PassPtr, _c_str, ctypes.POINTER(_c_int)]),
    "olive_pass_param_type": (_c_int, [PassPtr, _c_str, ctypes.POINTER(_c_int)]),
    # accelerator.h
    "olive_accelerator_new": (_c_int, [ctypes.POINTER(AcceleratorPtr), _c_str, _c_str]),
    "olive_accelerator_free": (None, [AcceleratorPtr]),
    "olive_accelerator_device": (_c_str, [AcceleratorPtr]),
    "olive_accelerator_provider": (_c_str, [AcceleratorPtr]),
    "olive_accelerator_has_feature": (_c_int, [AcceleratorPtr, _c_str]),
    "olive_accelerator_describe_json": (_c_int, [_c_out_str, AcceleratorPtr]),
    "olive_accelerator_cpu_model": (_c_str, [AcceleratorPtr]),
    "olive_accelerator_cpu_cores": (_c_int, [AcceleratorPtr]),
    "olive_accelerator_memory_bytes": (_c_u64, [AcceleratorPtr]),
    "olive_accelerator_cuda_device_count": (_c_int, [AcceleratorPtr]),
    # engine.h
    "olive_engine_new": (_c_int, [ctypes.POINTER(EnginePtr), AcceleratorPtr]),
    "olive_engine_free": (None, [EnginePtr]),
    "olive_engine_add_pass": (_c_int, [EnginePtr, PassPtr]),
    "olive_engine_add_pipeline": (_c_int, [EnginePtr, _c_str]),
    "olive_engine_pass_count": (_c_size, [EnginePtr]),
    "olive_engine_pass_at": (PassPtr, [EnginePtr, _c_size]),
    "olive_engine_pipeline_text": (_c_int, [_c_out_str, EnginePtr]),
    "olive_engine_set_progress": (None, [EnginePtr, PROGRESS_FN, ctypes.c_void_p]),
    "olive_engine_set_options": (_c_int, [EnginePtr, _c_str]),
    "olive_engine_cancel": (None, [EnginePtr]),
    "olive_engine_run": (_c_int, [EnginePtr, ModelPtr, _c_str, ctypes.POINTER(ModelPtr)]),
    # workflow.h
    "olive_workflow_new": (_c_int, [ctypes.POINTER(WorkflowPtr), _c_str, _c_str]),
    "olive_workflow_load": (_c_int, [ctypes.POINTER(WorkflowPtr), _c_str, _c_str]),
    "olive_workflow_free": (None, [WorkflowPtr]),
    "olive_workflow_pipeline_text": (_c_int, [_c_out_str, WorkflowPtr]),
    "olive_workflow_config_text": (_c_int, [_c_out_str, _c_out_str, WorkflowPtr]),
    "olive_workflow_set_progress": (None, [WorkflowPtr, PROGRESS_FN, ctypes.c_void_p]),
    "olive_workflow_cancel": (None, [WorkflowPtr]),
    "olive_workflow_run": (_c_int, [WorkflowPtr, _c_out_str]),
    "olive_workflow_auto_opt_config": (_c_int, [_c_out_str, _c_str, _c_str]),
    # tokenizer.h
    "olive_tokenizer_load": (_c_int, [ctypes.POINTER(TokenizerPtr), _c_str]),
    "olive_tokenizer_free": (None, [TokenizerPtr]),
    "olive_tokenizer_encode": (_c_int, [ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)), ctypes.POINTER(_c_size),
                                        TokenizerPtr, _c_str, _c_size, _c_str, _c_size, ctypes.c_uint]),
    "olive_tokenizer_encode_batch": (_c_int, [ctypes.POINTER(EncodingPtr), TokenizerPtr,
                                              ctypes.POINTER(_c_str), ctypes.POINTER(_c_size),
                                              ctypes.POINTER(_c_str), ctypes.POINTER(_c_size), _c_size,
                                              ctypes.c_uint]),
    "olive_encoding_count": (_c_size, [EncodingPtr]),
    "olive_encoding_ids": (ctypes.POINTER(ctypes.c_int32), [EncodingPtr, _c_size, ctypes.POINTER(_c_size)]),
    "olive_encoding_type_ids": (ctypes.POINTER(ctypes.c_int32), [EncodingPtr, _c_size, ctypes.POINTER(_c_size)]),
    "olive_encoding_attention_mask": (ctypes.POINTER(ctypes.c_int32),
                                      [EncodingPtr, _c_size, ctypes.POINTER(_c_size)]),
    "olive_encoding_free": (None, [EncodingPtr]),
    "olive_tokenizer_decode": (_c_int, [_c_out_str, ctypes.POINTER(_c_size), TokenizerPtr, ctypes.POINTER(ctypes.c_int32), _c_size,
                                        ctypes.c_uint]),
    "olive_tokenizer_token_to_id": (_c_int, [ctypes.POINTER(ctypes.c_int32), TokenizerPtr, _c_str]),
    "olive_tokenizer_id_to_token": (_c_str, [TokenizerPtr, ctypes.c_int32]),
    "olive_tokenizer_vocab_size": (_c_size, [TokenizerPtr, _c_int]),
    "olive_tokenizer_set_truncation": (_c_int, [TokenizerPtr, ctypes.c_int64, _c_str, _c_str]),
    "olive_tokenizer_set_padding": (_c_int, [TokenizerPtr, ctypes.c_int64, ctypes.c_uint32, _c_str, _c_str]),
    # session.h
    "olive_dtype_name": (_c_str, [_c_int]),
    "olive_dtype_size": (_c_size, [_c_int]),
    "olive_tensor_new": (_c_int, [ctypes.POINTER(TensorPtr), _c_int, ctypes.POINTER(ctypes.c_int64), _c_size]),
    "olive_tensor_wrap": (_c_int, [ctypes.POINTER(TensorPtr), _c_int, ctypes.POINTER(ctypes.c_int64), _c_size,
                                   ctypes.c_void_p, _c_size]),
    "olive_tensor_free": (None, [TensorPtr]),
    "olive_tensor_dtype": (_c_int, [TensorPtr]),
    "olive_tensor_rank": (_c_size, [TensorPtr]),
    "olive_tensor_dim": (ctypes.c_int64, [TensorPtr, _c_size]),
    "olive_tensor_element_count": (_c_u64, [TensorPtr]),
    "olive_tensor_byte_size": (_c_size, [TensorPtr]),
    "olive_tensor_data": (ctypes.c_void_p, [TensorPtr]),
    "olive_runtime_load": (_c_int, [_c_str]),
    "olive_runtime_info_json": (_c_int, [_c_out_str]),
    "olive_session_new": (_c_int, [ctypes.POINTER(SessionPtr), ModelPtr, AcceleratorPtr, _c_str]),
    "olive_session_new_from_path": (_c_int, [ctypes.POINTER(SessionPtr), _c_str, AcceleratorPtr, _c_str]),
    "olive_session_free": (None, [SessionPtr]),
    "olive_session_provider": (_c_str, [SessionPtr]),
    "olive_session_input_count": (_c_size, [SessionPtr]),
    "olive_session_output_count": (_c_size, [SessionPtr]),
    "olive_session_input_name": (_c_str, [SessionPtr, _c_size]),
    "olive_session_output_name": (_c_str, [SessionPtr, _c_size]),
    "olive_session_input_dtype": (_c_int, [SessionPtr, _c_size]),
    "olive_session_output_dtype": (_c_int, [SessionPtr, _c_size]),
    "olive_session_input_rank": (_c_size, [SessionPtr, _c_size]),
    "olive_session_output_rank": (_c_size, [SessionPtr, _c_size]),
    "olive_session_input_dim": (ctypes.c_int64, [SessionPtr, _c_size, _c_size]),
    "olive_session_output_dim": (ctypes.c_int64, [SessionPtr, _c_size, _c_size]),
    "olive_session_input_dim_name": (_c_str, [SessionPtr, _c_size, _c_size]),
    "olive_session_output_dim_name": (_c_str, [SessionPtr, _c_size, _c_size]),
    "olive_session_describe_json": (_c_int, [_c_out_str, SessionPtr]),
    "olive_session_run": (_c_int, [ctypes.POINTER(TensorPtr), SessionPtr, ctypes.POINTER(_c_str),
                                   ctypes.POINTER(TensorPtr), _c_size, ctypes.POINTER(_c_str), _c_size]),
    "olive_session_cancel": (None, [SessionPtr]),
    "olive_generator_new": (_c_int, [ctypes.POINTER(GeneratorPtr), _c_str, AcceleratorPtr, _c_str]),
    "olive_generator_free": (None, [GeneratorPtr]),
    "olive_generator_generate_json": (_c_int, [_c_out_str, GeneratorPtr, _c_str, _c_size]),
    # evaluate.h
    "olive_metric_register": (_c_int, [_c_str, METRIC_FN, ctypes.c_void_p]),
    "olive_metric_unregister": (_c_int, [_c_str]),
    "olive_evaluate": (_c_int, [_c_out_str, _c_str, _c_str, AcceleratorPtr, EVALUATE_PROGRESS_FN, ctypes.c_void_p]),
    "olive_lm_eval": (_c_int, [_c_out_str, _c_str, _c_str, AcceleratorPtr, EVALUATE_PROGRESS_FN, ctypes.c_void_p]),
    "olive_adapter_convert": (_c_int, [_c_str, _c_str, _c_str]),
}


def _candidates():
    """Where the library may be, in the order it is looked for (see README.md)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [("environment variable " + ENV_VAR, env)]
    found = []
    here = os.path.dirname(os.path.abspath(__file__))
    beside = sorted(glob.glob(os.path.join(here, "libolive.so.*")), reverse=True)
    beside += glob.glob(os.path.join(here, "libolive.so"))
    beside += glob.glob(os.path.join(here, "libolive*.dylib"))
    beside += glob.glob(os.path.join(here, "olive*.dll"))
    found += [("package folder", p) for p in beside]
    system = ctypes.util.find_library("olive")
    if system:
        found.append(("system library path", system))
    return found


def _load():
    candidates = _candidates()
    if not candidates:
        raise LibraryNotFoundError(
            "libolive shared library not found: set %s to the path of libolive.so, put "
            "libolive.so.* in %s, or install it where the system linker finds it"
            % (ENV_VAR, os.path.dirname(os.path.abspath(__file__))))
    errors = []
    for where, path in candidates:
        if where.startswith("environment") and not os.path.exists(path):
            raise LibraryNotFoundError("%s=%s: no such file" % (ENV_VAR, path))
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            errors.append("%s (%s): %s" % (path, where, exc))
            if where.startswith("environment"):
                break
    raise LibraryNotFoundError("libolive shared library could not be loaded: " + "; ".join(errors))


def _declare(cdll):
    missing = []
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise LibraryNotFoundError(
            "%s does not export %s: it is not a compatible libolive build"
            % (library_path, ", ".join(missing)))


lib, library_path = _load()
_declare(lib)


def take_string(address):
    """Copies a `char **out` string returned by the library and releases it with olive_free."""
    if not address:
        return None
    try:
        return ctypes.string_at(address).decode("utf-8", "replace")
    finally:
        lib.olive_free(address)


def encode(text):
    """Text argument → bytes for a `const char *` parameter (None stays NULL)."""
    if text is None:
        return None
    raw = text if isinstance(text, bytes) else str(text).encode("utf-8")
    return _no_nul(raw, text)


def encode_path(path):
    """A str, bytes or os.PathLike path → bytes in the file-system encoding."""
    return _no_nul(os.fsencode(path), path)


def _no_nul(raw, original):
    # C would silently stop at an embedded NUL and act on a different string.
    if b"\0" in raw:
        raise ValueError("embedded NUL character in %r" % (original,))
    return raw


def decode(raw):
    """A borrowed `const char *` result → str (None stays None)."""
    if raw is None:
        return None
    return raw.decode("utf-8", "replace")
