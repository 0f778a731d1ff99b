//! Engines: run a pipeline of passes on a model and write the result.

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::accelerator::Accelerator;
use crate::cstr::{borrowed, out_string, path_to_c, to_c};
use crate::error::{check, Error, Result};
use crate::model::Model;
use crate::pass::Pass;
use crate::progress::{CancelHandle, ProgressEvent, RawRunnable, Runnable};

/// The C engine handle, shared between an [`Engine`] and its [`CancelHandle`]s; freed when
/// the last of them goes.
struct RawEngine(NonNull<sys::olive_engine>);

// SAFETY: through an `Arc<RawEngine>` held by a CancelHandle only olive_engine_cancel is
// reached, which libolive documents as safe from any thread; every other use goes through the
// `Engine`, which is not Sync. Freeing on any thread is fine: the engine owns no
// thread-bound state.
unsafe impl Send for RawEngine {}
unsafe impl Sync for RawEngine {}

// SAFETY: olive_engine_cancel is safe from any thread; olive_engine_set_progress only stores
// the callback. Both are given the live engine this value owns.
unsafe impl RawRunnable for RawEngine {
    fn set_progress(&self, callback: sys::olive_progress_fn, user: *mut c_void) {
        // SAFETY: a live engine; the caller keeps `user` valid while it is registered.
        unsafe { sys::olive_engine_set_progress(self.0.as_ptr(), callback, user) }
    }

    fn cancel(&self) {
        // SAFETY: a live engine; olive_engine_cancel is safe from any thread.
        unsafe { sys::olive_engine_cancel(self.0.as_ptr()) }
    }
}

impl Drop for RawEngine {
    fn drop(&mut self) {
        // SAFETY: the last owner releases the handle; nothing uses it afterwards.
        unsafe { sys::olive_engine_free(self.0.as_ptr()) }
    }
}

/// Runs an ordered pipeline of passes on a model for an accelerator, and writes the result to
/// an output folder. Released when dropped.
///
/// An engine may be moved to another thread (it is `Send`) but not shared between threads
/// (it is not `Sync`); use [`Engine::cancel_handle`] to stop a run from elsewhere.
///
/// ```compile_fail,E0277
/// fn shared<T: Sync>() {}
/// shared::<libolive::Engine>();
/// ```
pub struct Engine {
    run: Runnable<RawEngine>,
    /// libolive does not allow concurrent calls on one engine (other than cancel).
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl Engine {
    /// Creates an engine for `accelerator` (`None`: cpu with CPUExecutionProvider). The
    /// engine keeps its own reference, so the accelerator may be dropped first.
    pub fn new(accelerator: Option<&Accelerator>) -> Result<Engine> {
        // The C function takes a mutable pointer only to add a reference, which is atomic.
        let acc = accelerator.map_or(ptr::null_mut(), |a| a.as_ptr().cast_mut());
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer and a live accelerator or NULL.
        check(unsafe { sys::olive_engine_new(&mut out, acc) })?;
        let raw = NonNull::new(out).ok_or_else(|| {
            Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no engine",
            )
        })?;
        Ok(Engine {
            run: Runnable::new(RawEngine(raw)),
            _not_sync: PhantomData,
        })
    }

    fn ptr(&self) -> *mut sys::olive_engine {
        self.run.raw().0.as_ptr()
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_engine {
        self.ptr()
    }

    /// Appends `pass` to the pipeline. The engine takes the pass: its settings are fixed from
    /// now on, so a run on another thread never sees them change.
    pub fn add_pass(&mut self, pass: Pass) -> Result<()> {
        let raw = pass.into_raw();
        // SAFETY: a live engine and pass; the engine adds its own reference.
        let rc = unsafe { sys::olive_engine_add_pass(self.ptr(), raw) };
        // SAFETY: the reference taken from `pass` is released whatever the outcome.
        unsafe { sys::olive_pass_free(raw) };
        check(rc)
    }

    /// Appends the passes of a pipeline in text form, e.g.
    /// `"peephole ! quantize bits=4 block_size=32"` (passes separated by `!`, each followed by
    /// its `key=value` settings). All or nothing: on error the pipeline is unchanged.
    ///
    /// Errors: [`Invalid`](crate::ErrorKind::Invalid) for bad syntax or values,
    /// [`NotFound`](crate::ErrorKind::NotFound) for an unknown pass or key.
    pub fn add_pipeline(&mut self, text: &str) -> Result<()> {
        let text = to_c(text, "pipeline")?;
        // SAFETY: a live engine and a NUL-terminated string.
        check(unsafe { sys::olive_engine_add_pipeline(self.ptr(), text.as_ptr()) })
    }

    /// Number of passes in the pipeline.
    pub fn pass_count(&self) -> usize {
        // SAFETY: a live engine.
        unsafe { sys::olive_engine_pass_count(self.ptr()) }
    }

    /// The registry names of the pipeline's passes, in order.
    pub fn pass_names(&self) -> Vec<String> {
        (0..self.pass_count())
            .filter_map(|i| {
                // SAFETY: the pass and its name are borrowed from the live engine, copied at once.
                unsafe {
                    let pass = sys::olive_engine_pass_at(self.ptr(), i);
                    if pass.is_null() {
                        None
                    } else {
                        borrowed(sys::olive_pass_name(pass))
                    }
                }
            })
            .collect()
    }

    /// The pipeline in text form (which [`Engine::add_pipeline`] accepts).
    pub fn pipeline_text(&self) -> Result<String> {
        // SAFETY: a valid out-pointer and a live engine.
        out_string(|out| unsafe { sys::olive_engine_pipeline_text(out, self.ptr()) })
    }

    /// Sets engine options from space-separated `key=value` text: `save=<save options>`
    /// (repeatable), `overwrite=true|false`, `model_name=NAME`.
    pub fn set_options(&mut self, options: &str) -> Result<()> {
        let options = to_c(options, "engine options")?;
        // SAFETY: a live engine and a NUL-terminated string.
        check(unsafe { sys::olive_engine_set_options(self.ptr(), options.as_ptr()) })
    }

    /// Sets the progress callback, called on the thread running [`Engine::run`] with
    /// `(event, pass_name, pass_index, pass_count, fraction, bytes_written)`. Returning `true`
    /// cancels the run, which then fails with [`Cancelled`](crate::ErrorKind::Cancelled).
    ///
    /// If the callback panics, the run is cancelled and the panic resumes in the caller of
    /// [`Engine::run`] once libolive has returned.
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

    /// A handle that can cancel this engine's runs from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.run.cancel_handle()
    }

    /// Runs the pipeline on `model` and returns the resulting model; `model` is unchanged.
    /// When `output_dir` is given, the result is also written there atomically (built in a
    /// temporary folder beside it, then renamed).
    ///
    /// Errors: [`Exists`](crate::ErrorKind::Exists) when the output folder exists and is not
    /// empty (unless the `overwrite=true` option is set), [`Cancelled`](crate::ErrorKind::Cancelled),
    /// and any error of the passes or of saving.
    pub fn run(&mut self, model: &Model, output_dir: Option<&Path>) -> Result<Model> {
        let dir = output_dir.map(path_to_c).transpose()?;
        let dir_ptr = dir.as_ref().map_or(ptr::null(), |d| d.as_ptr());
        let mut out = ptr::null_mut();
        // SAFETY: a live engine and model, a NUL-terminated path or NULL, a valid out-pointer.
        let rc = unsafe { sys::olive_engine_run(self.ptr(), model.as_ptr(), dir_ptr, &mut out) };
        let result = match check(rc) {
            // SAFETY: on success the caller owns `out`.
            Ok(()) => unsafe { Model::from_raw(out) },
            Err(e) => Err(e),
        };
        self.run.finish(result)
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("passes", &self.pass_names())
            .finish()
    }
}
