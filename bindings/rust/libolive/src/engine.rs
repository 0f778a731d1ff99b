//! Engines: run a pipeline of passes on a model and write the result.

use std::any::Any;
use std::borrow::Cow;
use std::ffi::{c_char, c_double, c_int, c_void, CStr};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use libolive_sys as sys;

use crate::accelerator::Accelerator;
use crate::cstr::{borrowed, out_string, path_to_c, to_c};
use crate::error::{check, Error, Result};
use crate::model::Model;
use crate::pass::Pass;
use crate::workflow::RawWorkflow;

/// What a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressEvent {
    /// A pass starts.
    PassStarted,
    /// A pass reports how far it got.
    PassProgress,
    /// A pass finished.
    PassFinished,
    /// The result is being written to the output folder.
    Saving,
    /// The run is complete.
    Done,
    /// An event this version of the bindings does not know.
    Other(i32),
}

impl ProgressEvent {
    /// The event for a libolive `OLIVE_PROGRESS_*` value.
    pub fn from_raw(event: i32) -> ProgressEvent {
        match event {
            sys::OLIVE_PROGRESS_PASS_STARTED => ProgressEvent::PassStarted,
            sys::OLIVE_PROGRESS_PASS_PROGRESS => ProgressEvent::PassProgress,
            sys::OLIVE_PROGRESS_PASS_FINISHED => ProgressEvent::PassFinished,
            sys::OLIVE_PROGRESS_SAVING => ProgressEvent::Saving,
            sys::OLIVE_PROGRESS_DONE => ProgressEvent::Done,
            other => ProgressEvent::Other(other),
        }
    }
}

/// A progress callback: `(event, pass_name, pass_index, pass_count, fraction, bytes_written)`,
/// returning `true` to cancel the run. `pass_name` is the running pass (or `"save"`),
/// `fraction` the part of the whole run done (0..1), `bytes_written` the bytes written to the
/// output so far.
type ProgressFn = dyn FnMut(ProgressEvent, &str, usize, usize, f64, u64) -> bool + Send;

/// The callback and what it left behind, at a stable address handed to libolive as `user`.
pub(crate) struct ProgressState {
    callback: Box<ProgressFn>,
    /// A panic caught in the callback, re-raised once the C call has returned.
    pub(crate) panic: Option<Box<dyn Any + Send>>,
}

impl ProgressState {
    pub(crate) fn new<F>(callback: F) -> Box<ProgressState>
    where
        F: FnMut(ProgressEvent, &str, usize, usize, f64, u64) -> bool + Send + 'static,
    {
        Box::new(ProgressState {
            callback: Box::new(callback),
            panic: None,
        })
    }
}

/// Called by libolive during `olive_engine_run` and `olive_workflow_run`. A panic must not
/// unwind through C, so it is caught, stored, and turned into a cancellation; the Rust `run`
/// re-raises it afterwards.
pub(crate) unsafe extern "C" fn progress_trampoline(
    event: c_int,
    pass_name: *const c_char,
    pass_index: usize,
    pass_count: usize,
    fraction: c_double,
    bytes_written: u64,
    user: *mut c_void,
) -> c_int {
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user` is the ProgressState the handle registered; it outlives the run and
        // only this call touches it while the run is in progress.
        let state = unsafe { &mut *user.cast::<ProgressState>() };
        if state.panic.is_some() {
            return true;
        }
        let name: Cow<'_, str> = if pass_name.is_null() {
            Cow::Borrowed("")
        } else {
            // SAFETY: a NUL-terminated string valid for this call.
            unsafe { CStr::from_ptr(pass_name) }.to_string_lossy()
        };
        let event = ProgressEvent::from_raw(event);
        let callback = &mut state.callback;
        match panic::catch_unwind(AssertUnwindSafe(|| {
            callback(
                event,
                &name,
                pass_index,
                pass_count,
                fraction,
                bytes_written,
            )
        })) {
            Ok(cancel) => cancel,
            Err(payload) => {
                state.panic = Some(payload);
                true
            }
        }
    }));
    match result {
        Ok(cancel) => c_int::from(cancel),
        Err(payload) => {
            discard_panic(payload);
            1
        }
    }
}

/// Drops a caught panic's payload without letting a panic in its destructor escape (such a
/// payload is leaked instead).
pub(crate) fn discard_panic(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// The C engine handle, shared between an [`Engine`] and its [`CancelHandle`]s; freed when
/// the last of them goes.
struct RawEngine(NonNull<sys::olive_engine>);

// SAFETY: through an `Arc<RawEngine>` held by a CancelHandle only olive_engine_cancel is
// reached, which libolive documents as safe from any thread; every other use goes through the
// `Engine`, which is not Sync. Freeing on any thread is fine: the engine owns no
// thread-bound state.
unsafe impl Send for RawEngine {}
unsafe impl Sync for RawEngine {}

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
    raw: Arc<RawEngine>,
    progress: Option<Box<ProgressState>>,
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
            raw: Arc::new(RawEngine(raw)),
            progress: None,
            _not_sync: PhantomData,
        })
    }

    fn ptr(&self) -> *mut sys::olive_engine {
        self.raw.0.as_ptr()
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
        let mut state = ProgressState::new(callback);
        let user: *mut ProgressState = &mut *state;
        // SAFETY: the state lives in `self.progress` until replaced or the engine is dropped,
        // and the callback is unregistered before that.
        unsafe {
            sys::olive_engine_set_progress(self.ptr(), Some(progress_trampoline), user.cast())
        };
        self.progress = Some(state);
    }

    /// Removes the progress callback.
    pub fn clear_progress(&mut self) {
        // SAFETY: a live engine; NULL removes the callback.
        unsafe { sys::olive_engine_set_progress(self.ptr(), None, ptr::null_mut()) };
        self.progress = None;
    }

    /// A handle that can cancel this engine's runs from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            target: CancelTarget::Engine(Arc::clone(&self.raw)),
        }
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
        if let Some(payload) = self.progress.as_mut().and_then(|s| s.panic.take()) {
            drop(result);
            panic::resume_unwind(payload);
        }
        result
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // A CancelHandle may keep the C engine alive: make sure it no longer points at the
        // callback state about to be freed.
        if self.progress.is_some() {
            // SAFETY: a live engine; NULL removes the callback.
            unsafe { sys::olive_engine_set_progress(self.ptr(), None, ptr::null_mut()) };
        }
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("passes", &self.pass_names())
            .finish()
    }
}

/// Cancels the runs of one engine or workflow from any thread: a running [`Engine::run`] or
/// [`Workflow::run`](crate::Workflow::run) stops at its next check point and fails with
/// [`Cancelled`](crate::ErrorKind::Cancelled). Keeps the C handle alive, so it may outlive the
/// [`Engine`] or [`Workflow`](crate::Workflow). A cancel that arrives while nothing runs has no
/// effect: each run starts afresh.
#[derive(Clone)]
pub struct CancelHandle {
    target: CancelTarget,
}

#[derive(Clone)]
enum CancelTarget {
    Engine(Arc<RawEngine>),
    Workflow(Arc<RawWorkflow>),
}

impl CancelHandle {
    pub(crate) fn for_workflow(raw: Arc<RawWorkflow>) -> CancelHandle {
        CancelHandle {
            target: CancelTarget::Workflow(raw),
        }
    }

    /// Asks the current run to stop.
    pub fn cancel(&self) {
        match &self.target {
            // SAFETY: a live engine; olive_engine_cancel is safe from any thread.
            CancelTarget::Engine(raw) => unsafe { sys::olive_engine_cancel(raw.0.as_ptr()) },
            // SAFETY: a live workflow; olive_workflow_cancel is safe from any thread.
            CancelTarget::Workflow(raw) => unsafe { sys::olive_workflow_cancel(raw.as_ptr()) },
        }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelHandle")
    }
}
