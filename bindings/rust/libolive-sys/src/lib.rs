//! Raw FFI declarations for libolive's public C API (`include/olive/*.h`).
//!
//! Every function and constant of the public headers is declared here by hand, with the same
//! names and types. Handles are opaque: their layout is private to the library. All functions
//! are `unsafe` to call; the `libolive` crate wraps them in safe types.
//!
//! Conventions (from the headers): a fallible call returns [`OLIVE_OK`] or a negative `OLIVE_E*`
//! code and sets a thread-local message read with [`olive_error_last`]; `**out` results are
//! owned by the caller and released with the matching `_free` function; `char **out` strings are
//! released with [`olive_free`]; returned `const char *` are borrowed from their handle.

#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_double, c_int, c_uint, c_void};

// ---------------------------------------------------------------------------------------------
// Opaque handles
// ---------------------------------------------------------------------------------------------

/// An ONNX model in memory (`olive_model`). Immutable through the API.
#[repr(C)]
pub struct olive_model {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// One configured transformation created from the pass registry (`olive_pass`).
#[repr(C)]
pub struct olive_pass {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A target device and execution provider, with the detected host (`olive_accelerator`).
#[repr(C)]
pub struct olive_accelerator {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Runs a pipeline of passes for an accelerator (`olive_engine`).
#[repr(C)]
pub struct olive_engine {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// An optimization job parsed from a config in Olive's workflow schema (`olive_workflow`).
#[repr(C)]
pub struct olive_workflow {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A dtype, a shape and a host buffer (`olive_tensor`).
#[repr(C)]
pub struct olive_tensor {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A Hugging Face tokenizer.json in memory (`olive_tokenizer`).
#[repr(C)]
pub struct olive_tokenizer {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A model prepared by ONNX Runtime for an execution provider (`olive_session`).
#[repr(C)]
pub struct olive_session {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// The results of a batch encode (`olive_encoding`).
#[repr(C)]
pub struct olive_encoding {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A decoder folder loaded by ONNX Runtime GenAI (`olive_generator`).
#[repr(C)]
pub struct olive_generator {
    _private: [u8; 0],
    _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}
/// Encode flag: let the post-processor add its special tokens.
pub const OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS: c_uint = 0x1;
/// Decode flag: leave special added tokens out.
pub const OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS: c_uint = 0x2;
/// A text length meaning "up to the terminating NUL".
pub const OLIVE_TOKENIZER_NUL_TERMINATED: usize = usize::MAX;

// ---------------------------------------------------------------------------------------------
// common.h
// ---------------------------------------------------------------------------------------------

/// Success.
pub const OLIVE_OK: c_int = 0;
/// An argument or option value is invalid.
pub const OLIVE_EINVALID: c_int = -1;
/// A file, pass, parameter, tensor or value does not exist.
pub const OLIVE_ENOTFOUND: c_int = -2;
/// Input data is malformed (truncated file, bad protobuf, lying header).
pub const OLIVE_EFORMAT: c_int = -3;
/// Valid input that this build does not handle.
pub const OLIVE_EUNSUPPORTED: c_int = -4;
/// An operating-system I/O call failed.
pub const OLIVE_EIO: c_int = -5;
/// Memory allocation failed, or a size overflows.
pub const OLIVE_ENOMEM: c_int = -6;
/// The caller cancelled the operation.
pub const OLIVE_ECANCELLED: c_int = -7;
/// The destination exists and would be overwritten.
pub const OLIVE_EEXISTS: c_int = -8;
/// A bug in libolive.
pub const OLIVE_EINTERNAL: c_int = -9;

/// Log level: everything.
pub const OLIVE_LOG_DEBUG: c_int = 0;
/// Log level: informational messages and above.
pub const OLIVE_LOG_INFO: c_int = 1;
/// Log level: warnings and errors (the default).
pub const OLIVE_LOG_WARNING: c_int = 2;
/// Log level: errors only.
pub const OLIVE_LOG_ERROR: c_int = 3;
/// Log level: nothing.
pub const OLIVE_LOG_SILENT: c_int = 4;

/// Receives one log line (no trailing newline), from whichever thread logs.
pub type olive_log_fn =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user: *mut c_void)>;

// ---------------------------------------------------------------------------------------------
// pass.h
// ---------------------------------------------------------------------------------------------

/// Parameter type: boolean.
pub const OLIVE_PARAM_BOOL: c_int = 0;
/// Parameter type: integer.
pub const OLIVE_PARAM_INT: c_int = 1;
/// Parameter type: floating point.
pub const OLIVE_PARAM_FLOAT: c_int = 2;
/// Parameter type: string.
pub const OLIVE_PARAM_STRING: c_int = 3;
/// Parameter type: one of a fixed list of strings.
pub const OLIVE_PARAM_CHOICE: c_int = 4;
/// Parameter type: comma-separated strings.
pub const OLIVE_PARAM_LIST: c_int = 5;

// ---------------------------------------------------------------------------------------------
// engine.h
// ---------------------------------------------------------------------------------------------

/// Progress event: a pass starts.
pub const OLIVE_PROGRESS_PASS_STARTED: c_int = 0;
/// Progress event: a pass reports progress.
pub const OLIVE_PROGRESS_PASS_PROGRESS: c_int = 1;
/// Progress event: a pass finished.
pub const OLIVE_PROGRESS_PASS_FINISHED: c_int = 2;
/// Progress event: the result is being written.
pub const OLIVE_PROGRESS_SAVING: c_int = 3;
/// Progress event: the run is complete.
pub const OLIVE_PROGRESS_DONE: c_int = 4;

/// Progress callback of `olive_engine_run` and `olive_workflow_run`, called on the running
/// thread. Returning non-zero cancels the run (it then fails with [`OLIVE_ECANCELLED`]).
pub type olive_progress_fn = Option<
    unsafe extern "C" fn(
        event: c_int,
        pass_name: *const c_char,
        pass_index: usize,
        pass_count: usize,
        fraction: c_double,
        bytes_written: u64,
        user: *mut c_void,
    ) -> c_int,
>;

extern "C" {
    // ----- common.h -----

    /// The message of the last failed call on this thread, or "" (never NULL).
    pub fn olive_error_last() -> *const c_char;
    /// The code of the last failed call on this thread ([`OLIVE_OK`] if none).
    pub fn olive_error_code() -> c_int;
    /// A static name for a status code ("unknown error" for unknown codes; never NULL).
    pub fn olive_strerror(code: c_int) -> *const c_char;
    /// Forgets the thread's last error.
    pub fn olive_error_clear();
    /// Releases memory returned through a `char **out` parameter. Accepts NULL.
    pub fn olive_free(ptr: *mut c_void);
    /// The library's version number: MAJOR*10000 + MINOR*100 + PATCH.
    pub fn olive_version() -> u32;
    /// The library's version as "MAJOR.MINOR.PATCH" (static).
    pub fn olive_version_string() -> *const c_char;
    /// Sets the process-wide minimum log level (0..4).
    pub fn olive_log_set_level(level: c_int) -> c_int;
    /// Routes log lines to `fn_` (NULL restores stderr).
    pub fn olive_log_set_callback(fn_: olive_log_fn, user: *mut c_void);

    // ----- model.h -----

    /// Loads the ONNX model at `path`.
    pub fn olive_model_load(out: *mut *mut olive_model, path: *const c_char) -> c_int;
    /// Releases a model. Accepts NULL.
    pub fn olive_model_free(model: *mut olive_model);
    /// Saves the model to `path`; `options` is NULL or space-separated key=value settings.
    pub fn olive_model_save(
        model: *const olive_model,
        path: *const c_char,
        options: *const c_char,
    ) -> c_int;
    /// Writes a JSON description of the model into `*out` (release with [`olive_free`]).
    pub fn olive_model_summary_json(out: *mut *mut c_char, model: *const olive_model) -> c_int;
    /// Number of nodes in the main graph.
    pub fn olive_model_node_count(model: *const olive_model) -> usize;
    /// Number of initializers.
    pub fn olive_model_initializer_count(model: *const olive_model) -> usize;
    /// Total number of elements in all initializers.
    pub fn olive_model_parameter_count(model: *const olive_model) -> u64;
    /// Number of graph inputs.
    pub fn olive_model_input_count(model: *const olive_model) -> usize;
    /// Number of graph outputs.
    pub fn olive_model_output_count(model: *const olive_model) -> usize;
    /// Borrowed name of the `index`-th input, or NULL.
    pub fn olive_model_input_name(model: *const olive_model, index: usize) -> *const c_char;
    /// Borrowed name of the `index`-th output, or NULL.
    pub fn olive_model_output_name(model: *const olive_model, index: usize) -> *const c_char;
    /// Opset version imported for `domain`, or -1.
    pub fn olive_model_opset(model: *const olive_model, domain: *const c_char) -> i64;
    /// The path the model was loaded from, or "" (borrowed).
    pub fn olive_model_path(model: *const olive_model) -> *const c_char;
    /// The inference_settings a tuning pass recorded (JSON, borrowed), or NULL.
    pub fn olive_model_inference_settings(model: *const olive_model) -> *const c_char;
    /// Checks the graph's structure.
    pub fn olive_model_validate(model: *const olive_model) -> c_int;

    // ----- pass.h -----

    /// Number of registered passes.
    pub fn olive_pass_registry_count() -> usize;
    /// Name of the `index`-th registered pass, or NULL.
    pub fn olive_pass_registry_name(index: usize) -> *const c_char;
    /// Describes a registered pass as JSON into `*out` (release with [`olive_free`]).
    pub fn olive_pass_describe_json(out: *mut *mut c_char, name: *const c_char) -> c_int;
    /// Creates a pass by name or Olive alias.
    pub fn olive_pass_new(out: *mut *mut olive_pass, name: *const c_char) -> c_int;
    /// Creates a pass from an Olive pass type and its JSON config of Olive's parameter names
    /// (NULL or "" for the defaults).
    pub fn olive_pass_new_olive(
        out: *mut *mut olive_pass,
        type_: *const c_char,
        config_json: *const c_char,
    ) -> c_int;
    /// Releases the caller's reference. Accepts NULL.
    pub fn olive_pass_free(pass: *mut olive_pass);
    /// The pass's registry name (borrowed).
    pub fn olive_pass_name(pass: *const olive_pass) -> *const c_char;
    /// Sets a parameter from its text form.
    pub fn olive_pass_set(pass: *mut olive_pass, key: *const c_char, value: *const c_char)
        -> c_int;
    /// Sets an integer parameter.
    pub fn olive_pass_set_int(pass: *mut olive_pass, key: *const c_char, value: i64) -> c_int;
    /// Sets a floating-point parameter.
    pub fn olive_pass_set_float(
        pass: *mut olive_pass,
        key: *const c_char,
        value: c_double,
    ) -> c_int;
    /// Sets a boolean parameter (non-zero is true).
    pub fn olive_pass_set_bool(pass: *mut olive_pass, key: *const c_char, value: c_int) -> c_int;
    /// Applies space-separated key=value settings, all or nothing.
    pub fn olive_pass_set_many(pass: *mut olive_pass, settings: *const c_char) -> c_int;
    /// Current value of a parameter in text form (borrowed).
    pub fn olive_pass_get(
        pass: *const olive_pass,
        key: *const c_char,
        value: *mut *const c_char,
    ) -> c_int;
    /// Runs the pass on `model`, giving a new model in `*out`.
    pub fn olive_pass_apply(
        out: *mut *mut olive_model,
        pass: *const olive_pass,
        model: *const olive_model,
    ) -> c_int;
    /// Current value of an INT parameter (since 0.2).
    pub fn olive_pass_get_int(pass: *const olive_pass, key: *const c_char, value: *mut i64) -> c_int;
    /// Current value of a FLOAT parameter (since 0.2).
    pub fn olive_pass_get_float(
        pass: *const olive_pass,
        key: *const c_char,
        value: *mut c_double,
    ) -> c_int;
    /// Current value of a BOOL parameter, 0 or 1 (since 0.2).
    pub fn olive_pass_get_bool(pass: *const olive_pass, key: *const c_char, value: *mut c_int) -> c_int;
    /// The type of a parameter, one of the `OLIVE_PARAM_*` values (since 0.2).
    pub fn olive_pass_param_type(
        pass: *const olive_pass,
        key: *const c_char,
        param_type: *mut c_int,
    ) -> c_int;

    // ----- accelerator.h -----

    /// Creates an accelerator for `device` and `provider` (NULL: the device's default).
    pub fn olive_accelerator_new(
        out: *mut *mut olive_accelerator,
        device: *const c_char,
        provider: *const c_char,
    ) -> c_int;
    /// Releases the caller's reference. Accepts NULL.
    pub fn olive_accelerator_free(acc: *mut olive_accelerator);
    /// The device name (borrowed).
    pub fn olive_accelerator_device(acc: *const olive_accelerator) -> *const c_char;
    /// The execution provider name (borrowed).
    pub fn olive_accelerator_provider(acc: *const olive_accelerator) -> *const c_char;
    /// 1 if the host CPU has the ISA feature, 0 otherwise.
    pub fn olive_accelerator_has_feature(
        acc: *const olive_accelerator,
        feature: *const c_char,
    ) -> c_int;
    /// Describes the accelerator and host as JSON into `*out` (release with [`olive_free`]).
    pub fn olive_accelerator_describe_json(
        out: *mut *mut c_char,
        acc: *const olive_accelerator,
    ) -> c_int;
    /// The host CPU's model name (borrowed).
    pub fn olive_accelerator_cpu_model(acc: *const olive_accelerator) -> *const c_char;
    /// The host's number of logical cores.
    pub fn olive_accelerator_cpu_cores(acc: *const olive_accelerator) -> c_int;
    /// The host's physical memory in bytes.
    pub fn olive_accelerator_memory_bytes(acc: *const olive_accelerator) -> u64;
    /// Number of CUDA devices the driver reports.
    pub fn olive_accelerator_cuda_device_count(acc: *const olive_accelerator) -> c_int;

    // ----- engine.h -----

    /// Creates an engine for `acc` (NULL: cpu with CPUExecutionProvider).
    pub fn olive_engine_new(out: *mut *mut olive_engine, acc: *mut olive_accelerator) -> c_int;
    /// Releases the engine. Accepts NULL.
    pub fn olive_engine_free(engine: *mut olive_engine);
    /// Appends a pass; the engine takes its own reference.
    pub fn olive_engine_add_pass(engine: *mut olive_engine, pass: *mut olive_pass) -> c_int;
    /// Appends the passes of a pipeline in text form, all or nothing.
    pub fn olive_engine_add_pipeline(engine: *mut olive_engine, text: *const c_char) -> c_int;
    /// Number of passes in the pipeline.
    pub fn olive_engine_pass_count(engine: *const olive_engine) -> usize;
    /// The `index`-th pass (borrowed), or NULL.
    pub fn olive_engine_pass_at(engine: *const olive_engine, index: usize) -> *mut olive_pass;
    /// Writes the pipeline in text form into `*out` (release with [`olive_free`]).
    pub fn olive_engine_pipeline_text(out: *mut *mut c_char, engine: *const olive_engine) -> c_int;
    /// Sets the progress callback (NULL removes it).
    pub fn olive_engine_set_progress(
        engine: *mut olive_engine,
        fn_: olive_progress_fn,
        user: *mut c_void,
    );
    /// Sets engine options from space-separated key=value text.
    pub fn olive_engine_set_options(engine: *mut olive_engine, options: *const c_char) -> c_int;
    /// Asks a running `olive_engine_run` to stop; safe from any thread or a signal handler.
    pub fn olive_engine_cancel(engine: *mut olive_engine);
    /// Runs the pipeline on `model`, writing to `output_dir` (may be NULL) and/or `*out`.
    pub fn olive_engine_run(
        engine: *mut olive_engine,
        model: *const olive_model,
        output_dir: *const c_char,
        out: *mut *mut olive_model,
    ) -> c_int;

    // ----- workflow.h -----

    /// Parses a workflow config (JSON text in Olive's schema); `options` is NULL or
    /// space-separated key=value settings (`strict`, `output_dir`, `cache_dir`, `log_level`).
    pub fn olive_workflow_new(
        out: *mut *mut olive_workflow,
        config_json: *const c_char,
        options: *const c_char,
    ) -> c_int;
    /// The same, reading the config from the file at `path`.
    pub fn olive_workflow_load(
        out: *mut *mut olive_workflow,
        path: *const c_char,
        options: *const c_char,
    ) -> c_int;
    /// Releases a workflow. Accepts NULL.
    pub fn olive_workflow_free(workflow: *mut olive_workflow);
    /// Writes the passes in pipeline text form into `*out` (alternatives separated by " | ";
    /// release with [`olive_free`]).
    pub fn olive_workflow_pipeline_text(
        out: *mut *mut c_char,
        workflow: *const olive_workflow,
    ) -> c_int;
    /// Writes the workflow's config as Olive's JSON into `*out` and its output folder into
    /// `*output_dir` (NULL when it has none); release both with [`olive_free`].
    pub fn olive_workflow_config_text(
        out: *mut *mut c_char,
        output_dir: *mut *mut c_char,
        workflow: *const olive_workflow,
    ) -> c_int;
    /// Sets the progress callback (NULL removes it).
    pub fn olive_workflow_set_progress(
        workflow: *mut olive_workflow,
        fn_: olive_progress_fn,
        user: *mut c_void,
    );
    /// Asks a running `olive_workflow_run` to stop; safe from any thread or a signal handler.
    pub fn olive_workflow_cancel(workflow: *mut olive_workflow);
    /// Runs the workflow; `result` is NULL or receives a JSON summary (release with
    /// [`olive_free`]).
    pub fn olive_workflow_run(workflow: *mut olive_workflow, result: *mut *mut c_char) -> c_int;
    /// Builds the workflow config that `olive auto-opt`, `olive optimize` or `olive quantize`
    /// (`command`) runs for the key=value `options`, as JSON text into `*out` (release with
    /// [`olive_free`]).
    pub fn olive_workflow_auto_opt_config(
        out: *mut *mut c_char,
        command: *const c_char,
        options: *const c_char,
    ) -> c_int;

    // tokenizer.h
    /// Loads a tokenizer.json file, or the one in a folder; release with
    /// [`olive_tokenizer_free`].
    pub fn olive_tokenizer_load(out: *mut *mut olive_tokenizer, path: *const c_char) -> c_int;
    /// Releases a tokenizer. Accepts NULL.
    pub fn olive_tokenizer_free(tok: *mut olive_tokenizer);
    /// Encodes `text` (and `pair` when not NULL) into `*out` ids (release with [`olive_free`]).
    pub fn olive_tokenizer_encode(
        out: *mut *mut i32,
        out_count: *mut usize,
        tok: *const olive_tokenizer,
        text: *const c_char,
        text_len: usize,
        pair: *const c_char,
        pair_len: usize,
        flags: c_uint,
    ) -> c_int;
    /// Encodes `count` texts (and pairs) as one batch; release with [`olive_encoding_free`].
    pub fn olive_tokenizer_encode_batch(
        out: *mut *mut olive_encoding,
        tok: *const olive_tokenizer,
        texts: *const *const c_char,
        text_lens: *const usize,
        pairs: *const *const c_char,
        pair_lens: *const usize,
        count: usize,
        flags: c_uint,
    ) -> c_int;
    /// Number of sequences in an encoding.
    pub fn olive_encoding_count(enc: *const olive_encoding) -> usize;
    /// The ids of sequence `index` (borrowed).
    pub fn olive_encoding_ids(
        enc: *const olive_encoding,
        index: usize,
        len: *mut usize,
    ) -> *const i32;
    /// The type ids of sequence `index` (borrowed).
    pub fn olive_encoding_type_ids(
        enc: *const olive_encoding,
        index: usize,
        len: *mut usize,
    ) -> *const i32;
    /// The attention mask of sequence `index` (borrowed).
    pub fn olive_encoding_attention_mask(
        enc: *const olive_encoding,
        index: usize,
        len: *mut usize,
    ) -> *const i32;
    /// Releases an encoding. Accepts NULL.
    pub fn olive_encoding_free(enc: *mut olive_encoding);
    /// Decodes ids into `*out` (release with [`olive_free`]; `*out_len` its length).
    pub fn olive_tokenizer_decode(
        out: *mut *mut c_char,
        out_len: *mut usize,
        tok: *const olive_tokenizer,
        ids: *const i32,
        count: usize,
        flags: c_uint,
    ) -> c_int;
    /// The id of a token.
    pub fn olive_tokenizer_token_to_id(
        out: *mut i32,
        tok: *const olive_tokenizer,
        token: *const c_char,
    ) -> c_int;
    /// The text of a token (borrowed), or NULL.
    pub fn olive_tokenizer_id_to_token(tok: *const olive_tokenizer, id: i32) -> *const c_char;
    /// The vocabulary size, with or without the added tokens.
    pub fn olive_tokenizer_vocab_size(
        tok: *const olive_tokenizer,
        with_added_tokens: c_int,
    ) -> usize;
    /// Replaces the truncation (max_length < 0 turns it off).
    pub fn olive_tokenizer_set_truncation(
        tok: *mut olive_tokenizer,
        max_length: i64,
        strategy: *const c_char,
        direction: *const c_char,
    ) -> c_int;
    /// Replaces the padding (length < 0 turns it off, 0 pads to the longest of a batch).
    pub fn olive_tokenizer_set_padding(
        tok: *mut olive_tokenizer,
        length: i64,
        pad_to_multiple_of: u32,
        direction: *const c_char,
        pad_token: *const c_char,
    ) -> c_int;
}

// ---------------------------------------------------------------------------------------------
// session.h
// ---------------------------------------------------------------------------------------------

/// Element types (`olive_dtype`): ONNX's TensorProto.DataType numbers.
/// A custom metric function (`olive_metric_fn`): sets `*value` for `sub_type` of `metric`.
/// `preds`, `logits` and `targets` are NULL when the metric has no data config.
pub type olive_metric_fn = Option<
    unsafe extern "C" fn(
        value: *mut c_double,
        metric: *const c_char,
        sub_type: *const c_char,
        model_path: *const c_char,
        preds: *const olive_tensor,
        logits: *const olive_tensor,
        targets: *const olive_tensor,
        user: *mut c_void,
    ) -> c_int,
>;

/// Progress of `olive_evaluate`; returning non-zero cancels it.
pub type olive_evaluate_progress_fn = Option<
    unsafe extern "C" fn(
        metric: *const c_char,
        done: u64,
        total: u64,
        rate: c_double,
        eta_s: c_double,
        user: *mut c_void,
    ) -> c_int,
>;

pub type olive_dtype = c_int;
pub const OLIVE_DTYPE_UNDEFINED: olive_dtype = 0;
pub const OLIVE_DTYPE_FLOAT32: olive_dtype = 1;
pub const OLIVE_DTYPE_UINT8: olive_dtype = 2;
pub const OLIVE_DTYPE_INT8: olive_dtype = 3;
pub const OLIVE_DTYPE_UINT16: olive_dtype = 4;
pub const OLIVE_DTYPE_INT16: olive_dtype = 5;
pub const OLIVE_DTYPE_INT32: olive_dtype = 6;
pub const OLIVE_DTYPE_INT64: olive_dtype = 7;
pub const OLIVE_DTYPE_BOOL: olive_dtype = 9;
pub const OLIVE_DTYPE_FLOAT16: olive_dtype = 10;
pub const OLIVE_DTYPE_DOUBLE: olive_dtype = 11;
pub const OLIVE_DTYPE_UINT32: olive_dtype = 12;
pub const OLIVE_DTYPE_UINT64: olive_dtype = 13;
pub const OLIVE_DTYPE_BFLOAT16: olive_dtype = 16;

extern "C" {
    /// The name of a dtype ("float32", ...), or NULL.
    pub fn olive_dtype_name(dtype: olive_dtype) -> *const c_char;
    /// Bytes per element, or 0 for an unknown dtype.
    pub fn olive_dtype_size(dtype: olive_dtype) -> usize;
    /// A tensor owning a zero-filled buffer.
    pub fn olive_tensor_new(out: *mut *mut olive_tensor, dtype: olive_dtype, shape: *const i64, rank: usize) -> c_int;
    /// A tensor over the caller's buffer (borrowed: it must outlive the tensor).
    pub fn olive_tensor_wrap(
        out: *mut *mut olive_tensor,
        dtype: olive_dtype,
        shape: *const i64,
        rank: usize,
        data: *mut c_void,
        size: usize,
    ) -> c_int;
    /// Releases a tensor (and its buffer when owned). Accepts NULL.
    pub fn olive_tensor_free(tensor: *mut olive_tensor);
    pub fn olive_tensor_dtype(tensor: *const olive_tensor) -> olive_dtype;
    pub fn olive_tensor_rank(tensor: *const olive_tensor) -> usize;
    pub fn olive_tensor_dim(tensor: *const olive_tensor, index: usize) -> i64;
    pub fn olive_tensor_element_count(tensor: *const olive_tensor) -> u64;
    pub fn olive_tensor_byte_size(tensor: *const olive_tensor) -> usize;
    pub fn olive_tensor_data(tensor: *const olive_tensor) -> *mut c_void;
    /// Loads ONNX Runtime (from `path`, or by the lookup when NULL).
    pub fn olive_runtime_load(path: *const c_char) -> c_int;
    /// The runtime libraries found, as JSON (release with [`olive_free`]).
    pub fn olive_runtime_info_json(out: *mut *mut c_char) -> c_int;
    /// A session for a model in memory.
    pub fn olive_session_new(
        out: *mut *mut olive_session,
        model: *const olive_model,
        acc: *const olive_accelerator,
        options: *const c_char,
    ) -> c_int;
    /// A session for the ONNX file at `path`.
    pub fn olive_session_new_from_path(
        out: *mut *mut olive_session,
        path: *const c_char,
        acc: *const olive_accelerator,
        options: *const c_char,
    ) -> c_int;
    /// Releases the caller's reference (a run in progress keeps the session alive).
    pub fn olive_session_free(session: *mut olive_session);
    pub fn olive_session_provider(session: *const olive_session) -> *const c_char;
    pub fn olive_session_input_count(session: *const olive_session) -> usize;
    pub fn olive_session_output_count(session: *const olive_session) -> usize;
    pub fn olive_session_input_name(session: *const olive_session, index: usize) -> *const c_char;
    pub fn olive_session_output_name(session: *const olive_session, index: usize) -> *const c_char;
    pub fn olive_session_input_dtype(session: *const olive_session, index: usize) -> olive_dtype;
    pub fn olive_session_output_dtype(session: *const olive_session, index: usize) -> olive_dtype;
    pub fn olive_session_input_rank(session: *const olive_session, index: usize) -> usize;
    pub fn olive_session_output_rank(session: *const olive_session, index: usize) -> usize;
    pub fn olive_session_input_dim(session: *const olive_session, index: usize, dim: usize) -> i64;
    pub fn olive_session_output_dim(session: *const olive_session, index: usize, dim: usize) -> i64;
    pub fn olive_session_input_dim_name(session: *const olive_session, index: usize, dim: usize) -> *const c_char;
    pub fn olive_session_output_dim_name(session: *const olive_session, index: usize, dim: usize)
        -> *const c_char;
    /// The inputs and outputs as JSON (release with [`olive_free`]).
    pub fn olive_session_describe_json(out: *mut *mut c_char, session: *const olive_session) -> c_int;
    /// Runs by input names; `out` receives one new tensor per requested output.
    pub fn olive_session_run(
        out: *mut *mut olive_tensor,
        session: *mut olive_session,
        input_names: *const *const c_char,
        inputs: *const *const olive_tensor,
        n_inputs: usize,
        output_names: *const *const c_char,
        n_outputs: usize,
    ) -> c_int;
    /// Stops the runs in progress (they return [`OLIVE_ECANCELLED`]).
    pub fn olive_session_cancel(session: *mut olive_session);
    /// Loads a decoder folder with ONNX Runtime GenAI.
    pub fn olive_generator_new(
        out: *mut *mut olive_generator,
        model_dir: *const c_char,
        acc: *const olive_accelerator,
        options: *const c_char,
    ) -> c_int;
    /// Releases a generator. Accepts NULL.
    pub fn olive_generator_free(generator: *mut olive_generator);
    /// Greedy generation; the result as JSON (release with [`olive_free`]).
    pub fn olive_generator_generate_json(
        out: *mut *mut c_char,
        generator: *mut olive_generator,
        prompt: *const c_char,
        new_tokens: usize,
    ) -> c_int;
    /// Registers a custom metric function under `name`.
    pub fn olive_metric_register(name: *const c_char, fn_: olive_metric_fn, user: *mut c_void) -> c_int;
    /// Removes a registered custom metric function.
    pub fn olive_metric_unregister(name: *const c_char) -> c_int;
    /// Evaluates an ONNX model with an evaluator in Olive's schema; the results as JSON (release
    /// with [`olive_free`]).
    pub fn olive_evaluate(
        out: *mut *mut c_char,
        model_path: *const c_char,
        evaluator_json: *const c_char,
        acc: *const olive_accelerator,
        progress: olive_evaluate_progress_fn,
        user: *mut c_void,
    ) -> c_int;
    /// Scores a decoder on lm-eval tasks (names, .jsonl multiple-choice files, text files) as
    /// lm-eval does; the per-task results as JSON (release with [`olive_free`]).
    pub fn olive_lm_eval(
        out: *mut *mut c_char,
        model_path: *const c_char,
        tasks_json: *const c_char,
        acc: *const olive_accelerator,
        progress: olive_evaluate_progress_fn,
        user: *mut c_void,
    ) -> c_int;
    /// Converts a PEFT LoRA adapter folder to ONNX Runtime's adapter file (.onnx_adapter).
    pub fn olive_adapter_convert(
        adapter_folder: *const c_char,
        output_file: *const c_char,
        options: *const c_char,
    ) -> c_int;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::ffi::CStr;

    #[test]
    fn version_string_matches_number() {
        // The two run-time forms of the version must agree with each other.
        let number = unsafe { olive_version() };
        let text = unsafe { CStr::from_ptr(olive_version_string()) }
            .to_str()
            .unwrap();
        let parts: std::vec::Vec<u32> = text.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(number, parts[0] * 10000 + parts[1] * 100 + parts[2]);
    }

    #[test]
    fn strerror_names_codes() {
        let unknown = unsafe { CStr::from_ptr(olive_strerror(-12345)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown error");
        let invalid = unsafe { CStr::from_ptr(olive_strerror(OLIVE_EINVALID)) };
        assert_ne!(invalid.to_str().unwrap(), "unknown error");
    }
}
