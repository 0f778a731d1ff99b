//! Workflows: optimization jobs described in Olive's workflow JSON schema, run through the
//! library's pass cache.

use std::ffi::{c_char, c_void};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{out_string, path_to_c, take_owned, to_c};
use crate::error::{check, Error, Result};
use crate::progress::{CancelHandle, ProgressEvent, RawRunnable, Runnable};

/// The C workflow handle, shared between a [`Workflow`] and its [`CancelHandle`]s; freed when
/// the last of them goes.
struct RawWorkflow(NonNull<sys::olive_workflow>);

// SAFETY: through an `Arc<RawWorkflow>` held by a CancelHandle only olive_workflow_cancel is
// reached, which libolive documents as safe from any thread; every other use goes through the
// `Workflow`, which is not Sync. Freeing on any thread is fine: a workflow owns no
// thread-bound state.
unsafe impl Send for RawWorkflow {}
unsafe impl Sync for RawWorkflow {}

// SAFETY: olive_workflow_cancel is safe from any thread; olive_workflow_set_progress only
// stores the callback. Both are given the live workflow this value owns.
unsafe impl RawRunnable for RawWorkflow {
    fn set_progress(&self, callback: sys::olive_progress_fn, user: *mut c_void) {
        // SAFETY: a live workflow; the caller keeps `user` valid while it is registered.
        unsafe { sys::olive_workflow_set_progress(self.0.as_ptr(), callback, user) }
    }

    fn cancel(&self) {
        // SAFETY: a live workflow; olive_workflow_cancel is safe from any thread.
        unsafe { sys::olive_workflow_cancel(self.0.as_ptr()) }
    }
}

impl Drop for RawWorkflow {
    fn drop(&mut self) {
        // SAFETY: the last owner releases the handle; nothing uses it afterwards.
        unsafe { sys::olive_workflow_free(self.0.as_ptr()) }
    }
}

/// An optimization job in Olive's workflow schema (what `olive run --config` reads): an input
/// model, a target system, passes named by their Olive type with Olive's parameter names, and
/// engine fields such as `output_dir` and `cache_dir`. Released when dropped.
///
/// The config is checked when the workflow is created (unknown pass types and parameters,
/// values of the wrong type, unsupported systems); the model files are read by
/// [`Workflow::run`]. Every pass result is kept in a content-addressed cache, so running the
/// same workflow again reuses each pass's result.
///
/// ```no_run
/// use libolive::Workflow;
///
/// # fn main() -> libolive::Result<()> {
/// let mut workflow = Workflow::new(
///     r#"{"input_model": {"type": "ONNXModel", "model_path": "model.onnx"},
///         "passes": {"peephole": {"type": "OnnxPeepholeOptimizer"}},
///         "engine": {"output_dir": "optimized", "cache_dir": ".olive-cache"}}"#,
///     Some("strict=true"),
/// )?;
/// println!("{}", workflow.pipeline_text()?); // "peephole"
/// let summary = workflow.run()?; // JSON: steps with "cache": "hit" or "run", output_dir, ...
/// println!("{summary}");
/// # Ok(())
/// # }
/// ```
///
/// A workflow may be moved to another thread (it is `Send`) but not shared between threads
/// (it is not `Sync`); use [`Workflow::cancel_handle`] to stop a run from elsewhere.
///
/// ```compile_fail,E0277
/// fn shared<T: Sync>() {}
/// shared::<libolive::Workflow>();
/// ```
pub struct Workflow {
    run: Runnable<RawWorkflow>,
    /// libolive does not allow concurrent calls on one workflow (other than cancel).
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

/// A C copy of the creation options, or NULL.
fn options_to_c(options: Option<&str>) -> Result<Option<std::ffi::CString>> {
    options.map(|o| to_c(o, "workflow options")).transpose()
}

impl Workflow {
    /// Parses a workflow config given as JSON text in Olive's schema. `options` is `None` or
    /// space-separated `key=value` settings: `strict=true|false` (unknown keys are errors
    /// instead of warnings), `output_dir=DIR` and `cache_dir=DIR` (replace the config's), and
    /// `log_level=N` (replaces the config's `log_severity_level`, 0 debug .. 4 silent).
    ///
    /// Errors: [`Format`](crate::ErrorKind::Format) for invalid JSON (the message gives line
    /// and column), [`Invalid`](crate::ErrorKind::Invalid) naming the key at fault (e.g.
    /// `passes.quant.block_size`), [`NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// pass type, [`Unsupported`](crate::ErrorKind::Unsupported) for a feature this build
    /// lacks.
    pub fn new(config_json: &str, options: Option<&str>) -> Result<Workflow> {
        let config = to_c(config_json, "workflow config")?;
        let options = options_to_c(options)?;
        let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer, NUL-terminated strings or NULL.
        check(unsafe { sys::olive_workflow_new(&mut out, config.as_ptr(), options_ptr) })?;
        // SAFETY: on success the caller owns `out`.
        unsafe { Workflow::from_raw(out) }
    }

    /// Reads the workflow config from the JSON file at `path`; otherwise as [`Workflow::new`],
    /// and the messages name the file.
    ///
    /// Errors: as [`Workflow::new`], and [`NotFound`](crate::ErrorKind::NotFound) or
    /// [`Io`](crate::ErrorKind::Io) for the file.
    pub fn load(path: impl AsRef<Path>, options: Option<&str>) -> Result<Workflow> {
        let path = path_to_c(path.as_ref())?;
        let options = options_to_c(options)?;
        let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer, NUL-terminated strings or NULL.
        check(unsafe { sys::olive_workflow_load(&mut out, path.as_ptr(), options_ptr) })?;
        // SAFETY: on success the caller owns `out`.
        unsafe { Workflow::from_raw(out) }
    }

    /// Takes ownership of a workflow handle returned by libolive.
    ///
    /// # Safety
    /// `raw` is NULL or a workflow handle owned by the caller, that nobody else will free.
    unsafe fn from_raw(raw: *mut sys::olive_workflow) -> Result<Workflow> {
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no workflow",
            )
        })?;
        Ok(Workflow {
            run: Runnable::new(RawWorkflow(raw)),
            _not_sync: PhantomData,
        })
    }

    fn ptr(&self) -> *mut sys::olive_workflow {
        self.run.raw().0.as_ptr()
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_workflow {
        self.ptr()
    }

    /// The passes in pipeline text form (`"peephole ! quantize block_size=32"`), the
    /// alternatives of a slot separated by `" | "`.
    pub fn pipeline_text(&self) -> Result<String> {
        // SAFETY: a valid out-pointer and a live workflow.
        out_string(|out| unsafe { sys::olive_workflow_pipeline_text(out, self.ptr()) })
    }

    /// Sets the progress callback, as [`Engine::set_progress`](crate::Engine::set_progress):
    /// called on the thread running [`Workflow::run`] with `(event, pass_name, pass_index,
    /// pass_count, fraction, bytes_written)`; returning `true` cancels the run. `pass_name` is
    /// the pass's key under `"passes"` in the config (`"save"` once the passes are done). A
    /// pass whose result comes from the cache reports that it started and finished at once.
    ///
    /// If the callback panics, the run is cancelled and the panic resumes in the caller of
    /// [`Workflow::run`] once libolive has returned.
    pub fn set_progress<F>(&mut self, callback: F)
    where
        F: FnMut(ProgressEvent, &str, usize, usize, f64, u64) -> bool + Send + 'static,
    {
        self.run.set_progress(callback);
    }

    /// Removes the progress callback.
    pub fn clear_progress(&mut self) {
        self.run.clear_progress();
    }

    /// A handle that can cancel this workflow's runs from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.run.cancel_handle()
    }

    /// Runs the workflow and writes its output folder atomically: `model.onnx` (with its data
    /// and companion files), `model_config.json` in Olive's format and, unless the config sets
    /// `no_artifacts`, `footprint.json` and `run_history.txt`. An existing output folder is
    /// written only when it holds an earlier output of libolive's: its files are replaced,
    /// the files a user added there are kept.
    ///
    /// Returns the run's summary as JSON text: `input_id`, `steps` (each with `slot`,
    /// `olive_type`, `pass`, `id`, `cache`: `"hit"` or `"run"`, `seconds`), `candidates` (each
    /// with `index` from 0, `name`: its passes in pipeline text form, `size_on_disk`), `best`
    /// (the index of the candidate written out), `output_dir` and `seconds`.
    ///
    /// Errors: [`NotFound`](crate::ErrorKind::NotFound) when the input model is missing,
    /// [`Exists`](crate::ErrorKind::Exists) when the output folder is not empty and not an
    /// earlier output, [`Invalid`](crate::ErrorKind::Invalid) for an output folder that is a
    /// symbolic link, or that holds, is or is inside the input model (or a model folder given
    /// as input), [`Io`](crate::ErrorKind::Io),
    /// [`Cancelled`](crate::ErrorKind::Cancelled), and any error of the passes.
    pub fn run(&mut self) -> Result<String> {
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY: a live workflow and a valid out-pointer.
        let rc = unsafe { sys::olive_workflow_run(self.ptr(), &mut out) };
        let result = match check(rc) {
            Ok(()) if out.is_null() => Err(Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no summary",
            )),
            // SAFETY: on success `out` is a string the caller owns.
            Ok(()) => Ok(unsafe { take_owned(out) }),
            Err(e) => Err(e),
        };
        self.run.finish(result)
    }
}

impl fmt::Debug for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workflow")
            .field("pipeline", &self.pipeline_text().unwrap_or_default())
            .finish()
    }
}

/// The workflow config (JSON text in Olive's schema) that `olive auto-opt`, `olive optimize`
/// or `olive quantize` (`command`) runs, from space-separated `key=value` options named as
/// those commands' flags: `model_name_or_path=PATH` (required), `output_path=DIR`,
/// `device=cpu|gpu|npu`, `provider=EP`, `precision=int4|int8|fp16|bf16|fp32`,
/// `use_ort_genai=BOOL`, `use_model_builder=BOOL`, `block_size=N`, `accuracy_level=N`,
/// `memory=BYTES`, `cache_dir=DIR`, `log_level=N`; for `quantize` also
/// `algorithm=default|rtn|hqq|kquant` and `use_qdq_encoding=BOOL`. Run it with
/// [`Workflow::new`].
///
/// Errors: [`Invalid`](crate::ErrorKind::Invalid) for a bad or missing option, naming it;
/// [`NotFound`](crate::ErrorKind::NotFound) when the model does not exist;
/// [`Unsupported`](crate::ErrorKind::Unsupported), e.g. `quantize` on a checkpoint.
pub fn auto_opt_config(command: &str, options: &str) -> Result<String> {
    let command = to_c(command, "command")?;
    let options = to_c(options, "auto-opt options")?;
    // SAFETY: a valid out-pointer and NUL-terminated strings.
    out_string(|out| unsafe {
        sys::olive_workflow_auto_opt_config(out, command.as_ptr(), options.as_ptr())
    })
}
