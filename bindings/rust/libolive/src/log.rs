//! Logging: the process-wide level and where log lines go.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use libolive_sys as sys;

use crate::error::{check, Result};

/// Log levels, numbered as Olive's `--log_level` (most verbose first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Informational messages and above.
    Info,
    /// Warnings and errors (the library's default).
    Warning,
    /// Errors only.
    Error,
    /// Nothing.
    Silent,
}

impl LogLevel {
    /// The libolive `OLIVE_LOG_*` value.
    pub fn to_raw(self) -> i32 {
        match self {
            LogLevel::Debug => sys::OLIVE_LOG_DEBUG,
            LogLevel::Info => sys::OLIVE_LOG_INFO,
            LogLevel::Warning => sys::OLIVE_LOG_WARNING,
            LogLevel::Error => sys::OLIVE_LOG_ERROR,
            LogLevel::Silent => sys::OLIVE_LOG_SILENT,
        }
    }

    /// The level for a libolive `OLIVE_LOG_*` value (values past the last count as `Silent`,
    /// below the first as `Debug`).
    pub fn from_raw(level: i32) -> LogLevel {
        match level {
            i32::MIN..=sys::OLIVE_LOG_DEBUG => LogLevel::Debug,
            sys::OLIVE_LOG_INFO => LogLevel::Info,
            sys::OLIVE_LOG_WARNING => LogLevel::Warning,
            sys::OLIVE_LOG_ERROR => LogLevel::Error,
            _ => LogLevel::Silent,
        }
    }
}

/// Sets the process-wide minimum level that is logged (default [`LogLevel::Warning`]).
pub fn set_log_level(level: LogLevel) -> Result<()> {
    // SAFETY: a plain value.
    check(unsafe { sys::olive_log_set_level(level.to_raw()) })
}

type LogFn = dyn Fn(LogLevel, &str) + Send + Sync;

/// The installed callback. libolive may log from any thread, so the trampoline takes a
/// reference under the lock and calls it outside, and replacing it never frees a callback in
/// use.
static LOG_CALLBACK: Mutex<Option<Arc<LogFn>>> = Mutex::new(None);

fn installed() -> Option<Arc<LogFn>> {
    match LOG_CALLBACK.lock() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn install(callback: Option<Arc<LogFn>>) {
    match LOG_CALLBACK.lock() {
        Ok(mut guard) => *guard = callback,
        Err(poisoned) => *poisoned.into_inner() = callback,
    }
}

unsafe extern "C" fn log_trampoline(level: c_int, message: *const c_char, _user: *mut c_void) {
    // A panic must not unwind into C: it is caught and the line dropped.
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        if let Some(callback) = installed() {
            let text = if message.is_null() {
                std::borrow::Cow::Borrowed("")
            } else {
                // SAFETY: a NUL-terminated string valid for this call.
                unsafe { CStr::from_ptr(message) }.to_string_lossy()
            };
            callback(LogLevel::from_raw(level), &text);
        }
    }));
    if let Err(payload) = result {
        crate::progress::discard_panic(payload);
    }
}

/// Routes libolive's log lines (without trailing newline) to `callback`, process-wide. It may
/// be called from any thread that logs. A panic in it is caught and the line dropped.
pub fn set_log_callback<F>(callback: F)
where
    F: Fn(LogLevel, &str) + Send + Sync + 'static,
{
    install(Some(Arc::new(callback)));
    // SAFETY: the trampoline ignores `user` and reads the callback installed above.
    unsafe { sys::olive_log_set_callback(Some(log_trampoline), std::ptr::null_mut()) };
}

/// Restores the default destination of log lines (standard error).
pub fn clear_log_callback() {
    // SAFETY: NULL restores the default.
    unsafe { sys::olive_log_set_callback(None, std::ptr::null_mut()) };
    install(None);
}
