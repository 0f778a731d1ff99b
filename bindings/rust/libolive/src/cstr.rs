//! Conversions between Rust strings and paths and the C strings libolive takes and returns.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;

use libolive_sys as sys;

use crate::error::{Error, Result};

/// A C copy of `text`; an interior NUL byte gives an invalid-argument error naming `what`.
pub(crate) fn to_c(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|e| {
        Error::invalid(format!(
            "{what} contains a NUL byte at offset {}: {text:?}",
            e.nul_position()
        ))
    })
}

/// A C copy of `path`; an interior NUL byte gives an invalid-argument error.
pub(crate) fn path_to_c(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = match path.to_str() {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            return Err(Error::invalid(format!(
                "path is not valid Unicode: {path:?}"
            )))
        }
    };
    CString::new(bytes).map_err(|e| {
        Error::invalid(format!(
            "path contains a NUL byte at offset {}: {path:?}",
            e.nul_position()
        ))
    })
}

/// Copies a borrowed C string into a `String` (invalid UTF-8 is replaced); NULL gives None.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn borrowed(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        None
    } else {
        Some(CStr::from_ptr(ptr).to_string_lossy().into_owned())
    }
}

/// Takes a string the library returned through `char **out`: copies it and releases the
/// original with `olive_free`.
///
/// # Safety
/// `ptr` is NULL or a string allocated by libolive that nobody else will free.
pub(crate) unsafe fn take_owned(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
    sys::olive_free(ptr.cast::<c_void>());
    text
}

/// Calls a `char **out` function and returns its string.
pub(crate) fn out_string(call: impl FnOnce(*mut *mut c_char) -> std::ffi::c_int) -> Result<String> {
    let mut out: *mut c_char = std::ptr::null_mut();
    crate::error::check(call(&mut out))?;
    if out.is_null() {
        return Err(Error::new(
            sys::OLIVE_EINTERNAL,
            "libolive reported success but returned no string",
        ));
    }
    // SAFETY: on success `out` is a string the caller owns.
    Ok(unsafe { take_owned(out) })
}
