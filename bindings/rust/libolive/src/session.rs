//! Running models: tensors, ONNX Runtime sessions and ONNX Runtime GenAI generation.
//!
//! ONNX Runtime is loaded by libolive at run time (see [`load_runtime`] and
//! [`runtime_info_json`]); nothing here needs it to build.

use std::any::Any;
use std::ffi::{c_char, c_void, CString};
use std::path::Path;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{borrowed, out_string, path_to_c, to_c};
use crate::error::{check, Error, Result};
use crate::{Accelerator, Model};

/// Element types of tensors (the values are ONNX's TensorProto.DataType numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float.
    Float32,
    /// 16-bit IEEE float (bits as `u16`).
    Float16,
    /// bfloat16 (bits as `u16`).
    BFloat16,
    /// 64-bit float.
    Double,
    /// Signed and unsigned integers.
    Int8,
    /// `u8`.
    UInt8,
    /// `i16`.
    Int16,
    /// `u16`.
    UInt16,
    /// `i32`.
    Int32,
    /// `u32`.
    UInt32,
    /// `i64`.
    Int64,
    /// `u64`.
    UInt64,
    /// One byte per element, 0 or 1.
    Bool,
}

impl DType {
    fn code(self) -> sys::olive_dtype {
        match self {
            DType::Float32 => sys::OLIVE_DTYPE_FLOAT32,
            DType::Float16 => sys::OLIVE_DTYPE_FLOAT16,
            DType::BFloat16 => sys::OLIVE_DTYPE_BFLOAT16,
            DType::Double => sys::OLIVE_DTYPE_DOUBLE,
            DType::Int8 => sys::OLIVE_DTYPE_INT8,
            DType::UInt8 => sys::OLIVE_DTYPE_UINT8,
            DType::Int16 => sys::OLIVE_DTYPE_INT16,
            DType::UInt16 => sys::OLIVE_DTYPE_UINT16,
            DType::Int32 => sys::OLIVE_DTYPE_INT32,
            DType::UInt32 => sys::OLIVE_DTYPE_UINT32,
            DType::Int64 => sys::OLIVE_DTYPE_INT64,
            DType::UInt64 => sys::OLIVE_DTYPE_UINT64,
            DType::Bool => sys::OLIVE_DTYPE_BOOL,
        }
    }

    fn from_code(code: sys::olive_dtype) -> Option<DType> {
        [
            DType::Float32,
            DType::Float16,
            DType::BFloat16,
            DType::Double,
            DType::Int8,
            DType::UInt8,
            DType::Int16,
            DType::UInt16,
            DType::Int32,
            DType::UInt32,
            DType::Int64,
            DType::UInt64,
            DType::Bool,
        ]
        .into_iter()
        .find(|d| d.code() == code)
    }

    /// The library's name for the dtype ("float32", "bfloat16", ...).
    pub fn name(self) -> String {
        // SAFETY: a static string for every valid code.
        unsafe { borrowed(sys::olive_dtype_name(self.code())) }.unwrap_or_default()
    }
}

/// Rust element types that map to a [`DType`] (for typed views and zero-copy inputs).
pub trait Element: Copy + Send + 'static {
    /// The tensor dtype of this element type.
    const DTYPE: DType;
}

macro_rules! element {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
        }
    };
}
element!(f32, DType::Float32);
element!(f64, DType::Double);
element!(i8, DType::Int8);
element!(u8, DType::UInt8);
element!(i16, DType::Int16);
element!(u16, DType::UInt16);
element!(i32, DType::Int32);
element!(u32, DType::UInt32);
element!(i64, DType::Int64);
element!(u64, DType::UInt64);
element!(bool, DType::Bool);

/// A dtype, a shape and a host buffer (`olive_tensor`). Owned by this value and freed when it
/// is dropped; a tensor made from a `Vec` keeps the `Vec` (no copy), one returned by a run
/// keeps ONNX Runtime's output (no copy).
pub struct Tensor {
    raw: NonNull<sys::olive_tensor>,
    _keep: Option<Box<dyn Any + Send>>,
}

// SAFETY: a tensor's shape and dtype never change, and its buffer is only reached through
// &self (read) or &mut self (write), so the usual borrow rules make sharing sound.
unsafe impl Send for Tensor {}
unsafe impl Sync for Tensor {}

impl Tensor {
    fn wrap(raw: *mut sys::olive_tensor, keep: Option<Box<dyn Any + Send>>) -> Result<Tensor> {
        NonNull::new(raw)
            .map(|raw| Tensor { raw, _keep: keep })
            .ok_or_else(|| Error::new(sys::OLIVE_EINTERNAL, "libolive returned no tensor"))
    }

    /// A tensor owning a zero-filled buffer.
    pub fn zeros(dtype: DType, shape: &[i64]) -> Result<Tensor> {
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer and a shape of `shape.len()` dims.
        check(unsafe { sys::olive_tensor_new(&mut out, dtype.code(), shape.as_ptr(), shape.len()) })?;
        Tensor::wrap(out, None)
    }

    /// A tensor over `data` (moved in, not copied) with `shape`; `data.len()` must be the
    /// product of the shape.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[i64]) -> Result<Tensor> {
        Tensor::from_vec_as(data, shape, T::DTYPE)
    }

    /// As [`from_vec`](Tensor::from_vec), with an explicit dtype of the same element size (a
    /// `Vec<u16>` of float16 or bfloat16 bits).
    pub fn from_vec_as<T: Element>(mut data: Vec<T>, shape: &[i64], dtype: DType) -> Result<Tensor> {
        let mut out = ptr::null_mut();
        let bytes = std::mem::size_of_val(data.as_slice());
        // SAFETY: the Vec's buffer stays alive (and unmoved: a Vec's heap buffer does not move
        // when the Vec does) inside the returned Tensor for as long as the C tensor exists.
        check(unsafe {
            sys::olive_tensor_wrap(
                &mut out,
                dtype.code(),
                shape.as_ptr(),
                shape.len(),
                data.as_mut_ptr().cast::<c_void>(),
                bytes,
            )
        })?;
        if dtype.code() != T::DTYPE.code() {
            // SAFETY: dtype sizes are checked by the library against the byte count.
            let size = unsafe { sys::olive_dtype_size(dtype.code()) };
            if size != std::mem::size_of::<T>() {
                // SAFETY: `out` is the tensor just made.
                unsafe { sys::olive_tensor_free(out) };
                return Err(Error::invalid(format!(
                    "a {} tensor cannot be made of {}-byte elements",
                    dtype.name(),
                    std::mem::size_of::<T>()
                )));
            }
        }
        Tensor::wrap(out, Some(Box::new(data)))
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_tensor {
        self.raw.as_ptr()
    }

    /// The element type (None for a dtype this binding does not know).
    pub fn dtype(&self) -> Option<DType> {
        // SAFETY: a live tensor.
        DType::from_code(unsafe { sys::olive_tensor_dtype(self.as_ptr()) })
    }

    /// The dims.
    pub fn shape(&self) -> Vec<i64> {
        // SAFETY: a live tensor; indices below its rank.
        let rank = unsafe { sys::olive_tensor_rank(self.as_ptr()) };
        (0..rank)
            .map(|i| unsafe { sys::olive_tensor_dim(self.as_ptr(), i) })
            .collect()
    }

    /// The buffer as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: the library's buffer of byte_size bytes lives as long as the tensor.
        unsafe {
            let n = sys::olive_tensor_byte_size(self.as_ptr());
            std::slice::from_raw_parts(sys::olive_tensor_data(self.as_ptr()).cast::<u8>(), n)
        }
    }

    /// The elements, when `T` is the tensor's element type.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        if self.dtype() != Some(T::DTYPE) {
            return Err(Error::invalid(format!(
                "the tensor is {}, not {}",
                self.dtype().map(DType::name).unwrap_or_default(),
                T::DTYPE.name()
            )));
        }
        // SAFETY: dtype checked; the buffer holds element_count elements of T, suitably
        // aligned (the library and Vec both align to the element).
        unsafe {
            let n = sys::olive_tensor_element_count(self.as_ptr()) as usize;
            Ok(std::slice::from_raw_parts(sys::olive_tensor_data(self.as_ptr()).cast::<T>(), n))
        }
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once; `_keep` (the borrowed buffer) drops after this.
        unsafe { sys::olive_tensor_free(self.raw.as_ptr()) }
    }
}

/// A dimension of a session input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size ("batch_size").
    Symbolic(String),
    /// Neither fixed nor named.
    Unknown,
}

/// One input or output of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// Its name.
    pub name: String,
    /// Its element type (None: not a tensor of a supported dtype).
    pub dtype: Option<DType>,
    /// Its dims.
    pub shape: Vec<Dim>,
}

/// A model prepared by ONNX Runtime for an accelerator's execution provider.
///
/// `Session` is `Send` and `Sync`: runs may be made from several threads at once (share it
/// with `Arc` or scoped threads), and [`cancel`](Session::cancel) from one thread stops the
/// runs in progress on the others. It is released when the last owner drops it, which the
/// borrow rules place after every run.
pub struct Session {
    raw: NonNull<sys::olive_session>,
}

// SAFETY: ONNX Runtime sessions run concurrently; libolive's session is reference-counted and
// its description immutable; cancel is documented as thread-safe.
unsafe impl Send for Session {}
unsafe impl Sync for Session {}

fn options_c(options: &str) -> Result<Option<CString>> {
    if options.is_empty() {
        Ok(None)
    } else {
        to_c(options, "session options").map(Some)
    }
}

impl Session {
    fn made(out: *mut sys::olive_session) -> Result<Session> {
        NonNull::new(out)
            .map(|raw| Session { raw })
            .ok_or_else(|| Error::new(sys::OLIVE_EINTERNAL, "libolive returned no session"))
    }

    /// A session for the ONNX file at `path` (ONNX Runtime reads it and its external data).
    /// `accelerator` None means cpu; `options` is "key=value ..." text (see
    /// `olive_session_new`: intra_op_num_threads, inter_op_num_threads, execution_mode,
    /// graph_optimization_level, provider.KEY, config.KEY, ort_library) or "".
    pub fn from_path(path: impl AsRef<Path>, accelerator: Option<&Accelerator>, options: &str) -> Result<Session> {
        let path = path_to_c(path.as_ref())?;
        let options = options_c(options)?;
        let mut out = ptr::null_mut();
        // SAFETY: valid strings (or NULL) and handles.
        check(unsafe {
            sys::olive_session_new_from_path(
                &mut out,
                path.as_ptr(),
                accelerator.map_or(ptr::null(), Accelerator::as_ptr),
                options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
            )
        })?;
        Session::made(out)
    }

    /// A session for a model in memory (written to a private temporary folder for ONNX
    /// Runtime, which the call removes again).
    pub fn from_model(model: &Model, accelerator: Option<&Accelerator>, options: &str) -> Result<Session> {
        let options = options_c(options)?;
        let mut out = ptr::null_mut();
        // SAFETY: valid handles and strings.
        check(unsafe {
            sys::olive_session_new(
                &mut out,
                model.as_ptr(),
                accelerator.map_or(ptr::null(), Accelerator::as_ptr),
                options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
            )
        })?;
        Session::made(out)
    }

    fn ptr(&self) -> *mut sys::olive_session {
        self.raw.as_ptr()
    }

    /// The execution provider the session runs on.
    pub fn provider(&self) -> String {
        // SAFETY: borrowed from the live session and copied.
        unsafe { borrowed(sys::olive_session_provider(self.ptr())) }.unwrap_or_default()
    }

    fn values(&self, outputs: bool) -> Vec<ValueInfo> {
        let s = self.ptr();
        // SAFETY: indices below the counts of a live session; strings copied at once.
        unsafe {
            let n = if outputs { sys::olive_session_output_count(s) } else { sys::olive_session_input_count(s) };
            (0..n)
                .map(|i| {
                    let (name, dtype, rank) = if outputs {
                        (sys::olive_session_output_name(s, i), sys::olive_session_output_dtype(s, i),
                         sys::olive_session_output_rank(s, i))
                    } else {
                        (sys::olive_session_input_name(s, i), sys::olive_session_input_dtype(s, i),
                         sys::olive_session_input_rank(s, i))
                    };
                    let shape = (0..rank)
                        .map(|d| {
                            let (dim, sym) = if outputs {
                                (sys::olive_session_output_dim(s, i, d), sys::olive_session_output_dim_name(s, i, d))
                            } else {
                                (sys::olive_session_input_dim(s, i, d), sys::olive_session_input_dim_name(s, i, d))
                            };
                            match (dim, borrowed(sym)) {
                                (d, _) if d >= 0 => Dim::Fixed(d),
                                (_, Some(name)) if !name.is_empty() => Dim::Symbolic(name),
                                _ => Dim::Unknown,
                            }
                        })
                        .collect();
                    ValueInfo { name: borrowed(name).unwrap_or_default(), dtype: DType::from_code(dtype), shape }
                })
                .collect()
        }
    }

    /// The model's inputs, in order.
    pub fn inputs(&self) -> Vec<ValueInfo> {
        self.values(false)
    }

    /// The model's outputs, in order.
    pub fn outputs(&self) -> Vec<ValueInfo> {
        self.values(true)
    }

    /// Runs the model on `feeds` (input name, tensor) and returns the outputs named in
    /// `output_names` (None: every output, in the model's order) as (name, tensor) pairs.
    /// Errors: [`Invalid`](crate::ErrorKind::Invalid) for an input that does not fit (named),
    /// [`Cancelled`](crate::ErrorKind::Cancelled) when [`cancel`](Session::cancel) stopped the
    /// run, [`Format`](crate::ErrorKind::Format) when ONNX Runtime failed it.
    pub fn run(&self, feeds: &[(&str, &Tensor)], output_names: Option<&[&str]>) -> Result<Vec<(String, Tensor)>> {
        let names: Vec<CString> = feeds.iter().map(|(n, _)| to_c(n, "input name")).collect::<Result<_>>()?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let tensors: Vec<*const sys::olive_tensor> = feeds.iter().map(|(_, t)| t.as_ptr()).collect();
        let outs: Vec<String> = match output_names {
            Some(list) => list.iter().map(|s| s.to_string()).collect(),
            None => self.outputs().into_iter().map(|v| v.name).collect(),
        };
        let out_c: Vec<CString> = outs.iter().map(|n| to_c(n, "output name")).collect::<Result<_>>()?;
        let out_ptrs: Vec<*const c_char> = out_c.iter().map(|n| n.as_ptr()).collect();
        let mut results: Vec<*mut sys::olive_tensor> = vec![ptr::null_mut(); outs.len()];
        // SAFETY: arrays of the lengths passed; the inputs are borrowed for the call only.
        check(unsafe {
            sys::olive_session_run(
                results.as_mut_ptr(),
                self.ptr(),
                name_ptrs.as_ptr(),
                tensors.as_ptr(),
                feeds.len(),
                if output_names.is_some() { out_ptrs.as_ptr() } else { ptr::null() },
                outs.len(),
            )
        })?;
        outs.into_iter()
            .zip(results)
            .map(|(name, raw)| Tensor::wrap(raw, None).map(|t| (name, t)))
            .collect()
    }

    /// Stops the runs of this session in progress on other threads.
    pub fn cancel(&self) {
        // SAFETY: thread-safe by contract.
        unsafe { sys::olive_session_cancel(self.ptr()) }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: owned handle, released once; no run can be in progress (they borrow self).
        unsafe { sys::olive_session_free(self.raw.as_ptr()) }
    }
}

/// A decoder folder (genai_config.json) loaded by ONNX Runtime GenAI for greedy generation.
pub struct Generator {
    raw: NonNull<sys::olive_generator>,
}

// SAFETY: a generator is used through &mut self only, one thread at a time.
unsafe impl Send for Generator {}

impl Generator {
    /// Loads `model_dir` for `accelerator` (None: cpu); options: chat_template=auto|true|false,
    /// ort_library=PATH, genai_library=PATH, or "".
    pub fn new(model_dir: impl AsRef<Path>, accelerator: Option<&Accelerator>, options: &str) -> Result<Generator> {
        let dir = path_to_c(model_dir.as_ref())?;
        let options = options_c(options)?;
        let mut out = ptr::null_mut();
        // SAFETY: valid strings and handles.
        check(unsafe {
            sys::olive_generator_new(
                &mut out,
                dir.as_ptr(),
                accelerator.map_or(ptr::null(), Accelerator::as_ptr),
                options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
            )
        })?;
        NonNull::new(out)
            .map(|raw| Generator { raw })
            .ok_or_else(|| Error::new(sys::OLIVE_EINTERNAL, "libolive returned no generator"))
    }

    /// Generates `new_tokens` tokens greedily after `prompt`; the result as JSON text
    /// (prompt_tokens, tokens, text, chat_template_applied, time_to_first_token_s,
    /// prefill_tokens_per_s, decode_tokens_per_s).
    pub fn generate_json(&mut self, prompt: &str, new_tokens: usize) -> Result<String> {
        let prompt = to_c(prompt, "prompt")?;
        let raw = self.raw.as_ptr();
        // SAFETY: a live generator used by one thread (&mut self).
        out_string(|out| unsafe { sys::olive_generator_generate_json(out, raw, prompt.as_ptr(), new_tokens) })
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::olive_generator_free(self.raw.as_ptr()) }
    }
}

/// Loads ONNX Runtime now, from `path` or (None) by libolive's lookup.
pub fn load_runtime(path: Option<&Path>) -> Result<()> {
    let path = path.map(path_to_c).transpose()?;
    // SAFETY: a valid string or NULL.
    check(unsafe { sys::olive_runtime_load(path.as_ref().map_or(ptr::null(), |p| p.as_ptr())) })
}

/// The ONNX Runtime and GenAI libraries found (paths, versions, providers) or the lookup
/// errors, as JSON text.
pub fn runtime_info_json() -> Result<String> {
    // SAFETY: a valid out-pointer.
    out_string(|out| unsafe { sys::olive_runtime_info_json(out) })
}
