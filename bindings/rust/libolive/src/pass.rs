//! Passes: the registry of transformations, and configured instances of them.

use std::fmt;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{borrowed, out_string, to_c};
use crate::error::{check, Error, Result};
use crate::model::Model;

/// The names of all registered passes, in registry order.
pub fn passes() -> Vec<String> {
    // SAFETY: registry names are static strings; an index in range never gives NULL.
    let count = unsafe { sys::olive_pass_registry_count() };
    (0..count)
        .filter_map(|i| unsafe { borrowed(sys::olive_pass_registry_name(i)) })
        .collect()
}

/// Describes the registered pass `name` (or an Olive alias of it) as JSON: name, aliases,
/// summary, and each parameter's name, type, default, bounds or choices and help.
///
/// Errors: [`NotFound`](crate::ErrorKind::NotFound) for an unknown name (the message lists
/// the known ones).
pub fn describe_pass(name: &str) -> Result<String> {
    let name = to_c(name, "pass name")?;
    // SAFETY: a valid out-pointer and a NUL-terminated name.
    out_string(|out| unsafe { sys::olive_pass_describe_json(out, name.as_ptr()) })
}

/// One configured transformation, created by name from the registry and released when
/// dropped. Parameters are set as text and checked against the registry's description.
pub struct Pass {
    raw: NonNull<sys::olive_pass>,
}

// SAFETY: a `Pass` is the only reference its handle has outside the library (an engine that
// takes a pass consumes the `Pass`), so moving it to another thread shares nothing. It is not
// Sync: libolive does not promise that its functions may run concurrently on one pass.
unsafe impl Send for Pass {}

impl Pass {
    /// Creates the pass `name` (a registry name or an Olive pass type name such as
    /// `"OnnxPeepholeOptimizer"`) with default parameters.
    ///
    /// Errors: [`NotFound`](crate::ErrorKind::NotFound) for an unknown name.
    pub fn new(name: &str) -> Result<Pass> {
        let name = to_c(name, "pass name")?;
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer and a NUL-terminated name.
        check(unsafe { sys::olive_pass_new(&mut out, name.as_ptr()) })?;
        NonNull::new(out).map(|raw| Pass { raw }).ok_or_else(|| {
            Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no pass",
            )
        })
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_pass {
        self.raw.as_ptr()
    }

    /// Gives up ownership of the handle; the caller must release it with `olive_pass_free`.
    pub fn into_raw(self) -> *mut sys::olive_pass {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The pass's registry name (an alias given to [`Pass::new`] is resolved).
    pub fn name(&self) -> String {
        // SAFETY: the name is borrowed from the live pass and copied at once.
        unsafe { borrowed(sys::olive_pass_name(self.as_ptr())) }.unwrap_or_default()
    }

    /// Sets parameter `key` from its text form (`"true"`, `"32"`, `"0.5"`, `"a,b"`).
    /// On failure the pass is unchanged.
    ///
    /// Errors: [`Invalid`](crate::ErrorKind::Invalid) for a bad value (the message names the
    /// key and what it accepts), [`NotFound`](crate::ErrorKind::NotFound) for an unknown key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let key = to_c(key, "parameter name")?;
        let value = to_c(value, "parameter value")?;
        // SAFETY: a live pass, borrowed mutably, and NUL-terminated strings.
        check(unsafe { sys::olive_pass_set(self.raw.as_ptr(), key.as_ptr(), value.as_ptr()) })
    }

    /// Sets an integer parameter; same checks as [`Pass::set`].
    pub fn set_int(&mut self, key: &str, value: i64) -> Result<()> {
        let key = to_c(key, "parameter name")?;
        // SAFETY: a live pass, borrowed mutably, and a NUL-terminated key.
        check(unsafe { sys::olive_pass_set_int(self.raw.as_ptr(), key.as_ptr(), value) })
    }

    /// Sets a floating-point parameter; same checks as [`Pass::set`].
    pub fn set_float(&mut self, key: &str, value: f64) -> Result<()> {
        let key = to_c(key, "parameter name")?;
        // SAFETY: a live pass, borrowed mutably, and a NUL-terminated key.
        check(unsafe { sys::olive_pass_set_float(self.raw.as_ptr(), key.as_ptr(), value) })
    }

    /// Sets a boolean parameter; same checks as [`Pass::set`].
    pub fn set_bool(&mut self, key: &str, value: bool) -> Result<()> {
        let key = to_c(key, "parameter name")?;
        // SAFETY: a live pass, borrowed mutably, and a NUL-terminated key.
        check(unsafe { sys::olive_pass_set_bool(self.raw.as_ptr(), key.as_ptr(), value.into()) })
    }

    /// Applies space-separated `key=value` settings, all or nothing.
    pub fn set_many(&mut self, settings: &str) -> Result<()> {
        let settings = to_c(settings, "settings")?;
        // SAFETY: a live pass, borrowed mutably, and a NUL-terminated string.
        check(unsafe { sys::olive_pass_set_many(self.raw.as_ptr(), settings.as_ptr()) })
    }

    /// The current value of parameter `key` in text form.
    ///
    /// Errors: [`NotFound`](crate::ErrorKind::NotFound) for an unknown key.
    pub fn get(&self, key: &str) -> Result<String> {
        let key = to_c(key, "parameter name")?;
        let mut value: *const std::ffi::c_char = ptr::null();
        // SAFETY: a live pass, a NUL-terminated key and a valid out-pointer.
        check(unsafe { sys::olive_pass_get(self.as_ptr(), key.as_ptr(), &mut value) })?;
        // SAFETY: on success `value` is borrowed from the pass until it is set again; copied now.
        unsafe { borrowed(value) }.ok_or_else(|| {
            Error::new(
                sys::OLIVE_EINTERNAL,
                "libolive reported success but returned no value",
            )
        })
    }

    /// Runs the pass on `model` and returns the result, a new model sharing unchanged weights
    /// with `model`, which is left as it was.
    pub fn apply(&self, model: &Model) -> Result<Model> {
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer, a live pass and a live model.
        check(unsafe { sys::olive_pass_apply(&mut out, self.as_ptr(), model.as_ptr()) })?;
        // SAFETY: on success the caller owns `out`.
        unsafe { Model::from_raw(out) }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        // SAFETY: this value owns its reference and nothing uses it afterwards.
        unsafe { sys::olive_pass_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pass").field("name", &self.name()).finish()
    }
}
