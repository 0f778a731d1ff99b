//! The error type: a libolive status code with the library's message.

use std::ffi::{c_int, CStr};
use std::fmt;

use libolive_sys as sys;

/// The category of a failure, one per libolive status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument or option value is invalid (`OLIVE_EINVALID`).
    Invalid,
    /// A file, pass, parameter, tensor or value does not exist (`OLIVE_ENOTFOUND`).
    NotFound,
    /// Input data is malformed (`OLIVE_EFORMAT`).
    Format,
    /// Valid input that this build does not handle (`OLIVE_EUNSUPPORTED`).
    Unsupported,
    /// An operating-system I/O call failed (`OLIVE_EIO`).
    Io,
    /// Memory allocation failed, or a size overflows (`OLIVE_ENOMEM`).
    NoMemory,
    /// The caller cancelled the operation (`OLIVE_ECANCELLED`).
    Cancelled,
    /// The destination exists and would be overwritten (`OLIVE_EEXISTS`).
    Exists,
    /// A bug in libolive (`OLIVE_EINTERNAL`).
    Internal,
    /// A code this version of the bindings does not know.
    Other,
}

impl ErrorKind {
    /// The kind for a libolive status code.
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            sys::OLIVE_EINVALID => ErrorKind::Invalid,
            sys::OLIVE_ENOTFOUND => ErrorKind::NotFound,
            sys::OLIVE_EFORMAT => ErrorKind::Format,
            sys::OLIVE_EUNSUPPORTED => ErrorKind::Unsupported,
            sys::OLIVE_EIO => ErrorKind::Io,
            sys::OLIVE_ENOMEM => ErrorKind::NoMemory,
            sys::OLIVE_ECANCELLED => ErrorKind::Cancelled,
            sys::OLIVE_EEXISTS => ErrorKind::Exists,
            sys::OLIVE_EINTERNAL => ErrorKind::Internal,
            _ => ErrorKind::Other,
        }
    }
}

/// A failed libolive call: its status code, the code's kind, and the library's message, which
/// names the file, node, tensor or parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The negative `OLIVE_E*` status code.
    pub code: i32,
    /// The category of `code`.
    pub kind: ErrorKind,
    /// What went wrong, as the library (or these bindings) described it.
    pub message: String,
}

/// The result of a libolive call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with the given code and message.
    pub fn new(code: i32, message: impl Into<String>) -> Error {
        Error {
            code,
            kind: ErrorKind::from_code(code),
            message: message.into(),
        }
    }

    /// The error of a call that just returned `code` on this thread, with the library's
    /// thread-local message (which must be read before any other libolive call).
    pub(crate) fn last(code: c_int) -> Error {
        // SAFETY: olive_error_last never returns NULL and its string lives until the next
        // failing call on this thread; it is copied at once.
        let message = unsafe { CStr::from_ptr(sys::olive_error_last()) }
            .to_string_lossy()
            .into_owned();
        let message = if message.is_empty() {
            strerror(code)
        } else {
            message
        };
        Error::new(code, message)
    }

    /// An invalid-argument error raised by the bindings themselves.
    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(sys::OLIVE_EINVALID, message)
    }

    /// The libolive status code.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The category of the code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message naming what went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = strerror(self.code);
        if self.message == name {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({})", self.message, name)
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.kind {
            ErrorKind::Invalid => std::io::ErrorKind::InvalidInput,
            ErrorKind::NotFound => std::io::ErrorKind::NotFound,
            ErrorKind::Format => std::io::ErrorKind::InvalidData,
            ErrorKind::Unsupported => std::io::ErrorKind::Unsupported,
            ErrorKind::NoMemory => std::io::ErrorKind::OutOfMemory,
            ErrorKind::Cancelled => std::io::ErrorKind::Interrupted,
            ErrorKind::Exists => std::io::ErrorKind::AlreadyExists,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// The library's name for a status code ("invalid argument", ...).
pub fn strerror(code: i32) -> String {
    // SAFETY: olive_strerror returns a static string, never NULL.
    unsafe { CStr::from_ptr(sys::olive_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

/// Turns a status code into a result, reading the thread's message on failure.
pub(crate) fn check(code: c_int) -> Result<()> {
    if code == sys::OLIVE_OK {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}
