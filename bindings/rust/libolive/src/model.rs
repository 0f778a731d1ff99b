//! Models: load, inspect, validate and save ONNX models.

use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{borrowed, out_string, path_to_c, to_c};
use crate::error::{check, Error, Result};

/// An ONNX model in memory, owned by this value and released when it is dropped.
///
/// Its weights stay in their files (memory-mapped) until the model is saved. Models are
/// immutable: passes and engines return new models that share weights with their input, and
/// the shared weights stay alive as long as any model uses them, whatever the drop order.
pub struct Model {
    raw: NonNull<sys::olive_model>,
}

// SAFETY: libolive gives no way to change a model after it is built (every function but
// olive_model_free takes a const pointer), and the weights it shares with other models are
// reference-counted atomically, so a model may be used from several threads and freed on any.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    /// Loads the ONNX model at `path`. External data files are resolved relative to its
    /// folder and must stay inside it; weights are mapped, not read.
    ///
    /// Errors: [`NotFound`](crate::ErrorKind::NotFound) for a missing file,
    /// [`Format`](crate::ErrorKind::Format) for data that is not a valid ONNX model,
    /// [`Invalid`](crate::ErrorKind::Invalid) for a path with a NUL byte.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path_to_c(path.as_ref())?;
        let mut out = ptr::null_mut();
        // SAFETY: `out` is a valid out-pointer and `path` a NUL-terminated string.
        check(unsafe { sys::olive_model_load(&mut out, path.as_ptr()) })?;
        // SAFETY: on success the caller owns `out`.
        unsafe { Model::from_raw(out) }
    }

    /// Takes ownership of a model handle returned by libolive.
    ///
    /// # Safety
    /// `raw` is NULL or a model handle owned by the caller, that nobody else will free.
    pub unsafe fn from_raw(raw: *mut sys::olive_model) -> Result<Model> {
        NonNull::new(raw).map(|raw| Model { raw }).ok_or_else(|| {
            Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no model",
            )
        })
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_model {
        self.raw.as_ptr()
    }

    /// Saves the model to `path` (normally `<folder>/model.onnx`). `options` is `None` or a
    /// space-separated list of `key=value` settings: `external_data=auto|always|never`,
    /// `size_threshold=N`, `align=N`, `data_file=NAME`. The write is atomic: on failure
    /// nothing is left behind.
    pub fn save(&self, path: impl AsRef<Path>, options: Option<&str>) -> Result<()> {
        let path = path_to_c(path.as_ref())?;
        let options = options.map(|o| to_c(o, "save options")).transpose()?;
        let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
        // SAFETY: all pointers are valid for the call; the model is a live handle.
        check(unsafe { sys::olive_model_save(self.as_ptr(), path.as_ptr(), options_ptr) })
    }

    /// A JSON description of the model: IR version, producer, opset imports, inputs and
    /// outputs, node count, op-type histogram, initializer and parameter counts, and bytes and
    /// element counts per data type.
    pub fn summary_json(&self) -> Result<String> {
        // SAFETY: a valid out-pointer and a live model.
        out_string(|out| unsafe { sys::olive_model_summary_json(out, self.as_ptr()) })
    }

    /// Number of nodes in the main graph.
    pub fn node_count(&self) -> usize {
        // SAFETY: a live model.
        unsafe { sys::olive_model_node_count(self.as_ptr()) }
    }

    /// Number of initializers (weights) in the main graph.
    pub fn initializer_count(&self) -> usize {
        // SAFETY: a live model.
        unsafe { sys::olive_model_initializer_count(self.as_ptr()) }
    }

    /// Total number of elements in all initializers (the model's parameter count).
    pub fn parameter_count(&self) -> u64 {
        // SAFETY: a live model.
        unsafe { sys::olive_model_parameter_count(self.as_ptr()) }
    }

    /// Number of graph inputs.
    pub fn input_count(&self) -> usize {
        // SAFETY: a live model.
        unsafe { sys::olive_model_input_count(self.as_ptr()) }
    }

    /// Number of graph outputs.
    pub fn output_count(&self) -> usize {
        // SAFETY: a live model.
        unsafe { sys::olive_model_output_count(self.as_ptr()) }
    }

    /// The name of the `index`-th graph input, or `None` if out of range.
    pub fn input_name(&self, index: usize) -> Option<String> {
        // SAFETY: the returned string is borrowed from the live model and copied at once.
        unsafe { borrowed(sys::olive_model_input_name(self.as_ptr(), index)) }
    }

    /// The name of the `index`-th graph output, or `None` if out of range.
    pub fn output_name(&self, index: usize) -> Option<String> {
        // SAFETY: the returned string is borrowed from the live model and copied at once.
        unsafe { borrowed(sys::olive_model_output_name(self.as_ptr(), index)) }
    }

    /// The names of all graph inputs, in order.
    pub fn input_names(&self) -> Vec<String> {
        (0..self.input_count())
            .filter_map(|i| self.input_name(i))
            .collect()
    }

    /// The names of all graph outputs, in order.
    pub fn output_names(&self) -> Vec<String> {
        (0..self.output_count())
            .filter_map(|i| self.output_name(i))
            .collect()
    }

    /// The opset version imported for `domain` (`""` or `"ai.onnx"` for the default domain),
    /// or `None` when the model does not import it (or the name holds a NUL byte, which no
    /// domain can).
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let domain = to_c(domain, "domain").ok()?;
        // SAFETY: a live model and a NUL-terminated string.
        let version = unsafe { sys::olive_model_opset(self.as_ptr(), domain.as_ptr()) };
        if version < 0 {
            None
        } else {
            Some(version)
        }
    }

    /// How the model runs best, as a tuning pass (`session_params_tuning`, Olive's
    /// `OrtSessionParamsTuning`) recorded it: Olive's `inference_settings` as JSON text, or
    /// `None` when no pass set them.
    pub fn inference_settings(&self) -> Option<String> {
        // SAFETY: the returned string is borrowed from the live model and copied at once.
        let raw = unsafe { sys::olive_model_inference_settings(self.as_ptr()) };
        if raw.is_null() {
            return None;
        }
        // SAFETY: non-NULL, NUL-terminated, alive while `self` is.
        let text = unsafe { std::ffi::CStr::from_ptr(raw) };
        Some(text.to_string_lossy().into_owned())
    }

    /// The file the model was loaded from, or `None` for a model built in memory.
    pub fn path(&self) -> Option<PathBuf> {
        // SAFETY: the returned string is borrowed from the live model and copied at once.
        let raw = unsafe { sys::olive_model_path(self.as_ptr()) };
        if raw.is_null() {
            return None;
        }
        // SAFETY: non-NULL, NUL-terminated, alive while `self` is.
        let bytes = unsafe { std::ffi::CStr::from_ptr(raw) }.to_bytes();
        if bytes.is_empty() {
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
        }
        #[cfg(not(unix))]
        {
            Some(PathBuf::from(String::from_utf8_lossy(bytes).into_owned()))
        }
    }

    /// Checks the graph: every node input is produced by a node, an initializer or a graph
    /// input; no value is produced twice; no cycle; every node's domain has an opset import.
    /// A failure is a [`Format`](crate::ErrorKind::Format) error naming the node and value.
    pub fn validate(&self) -> Result<()> {
        // SAFETY: a live model.
        check(unsafe { sys::olive_model_validate(self.as_ptr()) })
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: this value owns the handle and nothing uses it afterwards.
        unsafe { sys::olive_model_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path())
            .field("nodes", &self.node_count())
            .field("inputs", &self.input_names())
            .field("outputs", &self.output_names())
            .finish()
    }
}
