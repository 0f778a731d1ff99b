//! What [`Engine`](crate::Engine) and [`Workflow`](crate::Workflow) share: a C handle that
//! [`CancelHandle`]s may keep alive from other threads, and a progress callback whose panics
//! are caught in C's frame and resumed in the caller of `run`.

use std::any::Any;
use std::borrow::Cow;
use std::ffi::{c_char, c_double, c_int, c_void, CStr};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use libolive_sys as sys;

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
/// returning `true` to cancel the run.
type ProgressFn = dyn FnMut(ProgressEvent, &str, usize, usize, f64, u64) -> bool + Send;

/// A C object that runs with progress reports and can be cancelled from any thread.
///
/// # Safety
/// `cancel` must be safe to call from any thread at any time while the object lives (libolive
/// documents olive_engine_cancel and olive_workflow_cancel so), and `set_progress` must only
/// store the callback and its `user` pointer.
pub(crate) unsafe trait RawRunnable: Send + Sync + 'static {
    /// Installs (or with `None` removes) the progress callback.
    fn set_progress(&self, callback: sys::olive_progress_fn, user: *mut c_void);
    /// Asks the current run to stop.
    fn cancel(&self);
}

/// The callback and what it left behind, at a stable address handed to libolive as `user`.
struct ProgressState {
    callback: Box<ProgressFn>,
    /// A panic caught in the callback, re-raised once the C call has returned.
    panic: Option<Box<dyn Any + Send>>,
}

/// A C handle shared with [`CancelHandle`]s (freed when the last of them goes, by the raw
/// type's `Drop`) and the progress callback registered on it.
pub(crate) struct Runnable<R: RawRunnable> {
    raw: Arc<R>,
    progress: Option<Box<ProgressState>>,
}

impl<R: RawRunnable> Runnable<R> {
    pub(crate) fn new(raw: R) -> Runnable<R> {
        Runnable {
            raw: Arc::new(raw),
            progress: None,
        }
    }

    pub(crate) fn raw(&self) -> &R {
        &self.raw
    }

    /// Registers `callback`; see `Engine::set_progress`.
    pub(crate) fn set_progress<F>(&mut self, callback: F)
    where
        F: FnMut(ProgressEvent, &str, usize, usize, f64, u64) -> bool + Send + 'static,
    {
        let mut state = Box::new(ProgressState {
            callback: Box::new(callback),
            panic: None,
        });
        let user: *mut ProgressState = &mut *state;
        // The state lives in `self.progress` until replaced or dropped, and the callback is
        // unregistered before either (the old state is dropped only after this call).
        self.raw
            .set_progress(Some(progress_trampoline), user.cast::<c_void>());
        self.progress = Some(state);
    }

    /// Removes the progress callback.
    pub(crate) fn clear_progress(&mut self) {
        self.raw.set_progress(None, ptr::null_mut());
        self.progress = None;
    }

    /// A handle that cancels the runs of this object from any thread.
    pub(crate) fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            target: Arc::clone(&self.raw) as Arc<dyn RawRunnable>,
        }
    }

    /// Hands back the result of a run, or resumes the panic its callback raised.
    pub(crate) fn finish<T>(&mut self, result: T) -> T {
        if let Some(payload) = self.progress.as_mut().and_then(|s| s.panic.take()) {
            drop(result);
            panic::resume_unwind(payload);
        }
        result
    }
}

impl<R: RawRunnable> Drop for Runnable<R> {
    fn drop(&mut self) {
        // A CancelHandle may keep the C object alive: make sure it no longer points at the
        // callback state about to be freed.
        if self.progress.is_some() {
            self.raw.set_progress(None, ptr::null_mut());
        }
    }
}

/// Called by libolive during `olive_engine_run` and `olive_workflow_run`. A panic must not
/// unwind through C, so it is caught, stored, and turned into a cancellation; the Rust `run`
/// re-raises it afterwards.
unsafe extern "C" fn progress_trampoline(
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

/// Cancels the runs of one engine or workflow from any thread: a running [`Engine::run`](crate::Engine::run) or
/// [`Workflow::run`](crate::Workflow::run) stops at its next check point and fails with
/// [`Cancelled`](crate::ErrorKind::Cancelled). Keeps the C handle alive, so it may outlive the
/// [`Engine`](crate::Engine) or [`Workflow`](crate::Workflow). A cancel that arrives while
/// nothing runs has no effect: each run starts afresh.
#[derive(Clone)]
pub struct CancelHandle {
    target: Arc<dyn RawRunnable>,
}

impl CancelHandle {
    /// Asks the current run to stop.
    pub fn cancel(&self) {
        self.target.cancel();
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelHandle")
    }
}
