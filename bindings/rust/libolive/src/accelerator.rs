//! Accelerators: the device and execution provider a pipeline optimizes for.

use std::fmt;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{borrowed, out_string, to_c};
use crate::error::{check, Error, Result};

/// A target device (`"cpu"`, `"gpu"`, `"npu"`) and ONNX Runtime execution provider, with what
/// was detected on this host. Released when dropped; an engine made for it keeps its own
/// reference.
pub struct Accelerator {
    raw: NonNull<sys::olive_accelerator>,
}

// SAFETY: an accelerator cannot be changed through the API (every function but free takes a
// const pointer), and its reference count, shared with engines, is atomic.
unsafe impl Send for Accelerator {}
unsafe impl Sync for Accelerator {}

impl Accelerator {
    /// Creates an accelerator for `device` (case-insensitive) and `provider` (an execution
    /// provider name such as `"CPUExecutionProvider"` or `"CUDAExecutionProvider"`; `None`
    /// for the device's default).
    ///
    /// Errors: [`Invalid`](crate::ErrorKind::Invalid) for an unknown device or provider or an
    /// incompatible pair (the message lists the known names).
    pub fn new(device: &str, provider: Option<&str>) -> Result<Accelerator> {
        let device = to_c(device, "device")?;
        let provider = provider
            .map(|p| to_c(p, "execution provider"))
            .transpose()?;
        let provider_ptr = provider.as_ref().map_or(ptr::null(), |p| p.as_ptr());
        let mut out = ptr::null_mut();
        // SAFETY: a valid out-pointer and NUL-terminated strings (or NULL provider).
        check(unsafe { sys::olive_accelerator_new(&mut out, device.as_ptr(), provider_ptr) })?;
        NonNull::new(out)
            .map(|raw| Accelerator { raw })
            .ok_or_else(|| {
                Error::new(
                    sys::OLIVE_EINTERNAL,
                    "libolive reported success but returned no accelerator",
                )
            })
    }

    /// The underlying handle, still owned by this value.
    pub fn as_ptr(&self) -> *const sys::olive_accelerator {
        self.raw.as_ptr()
    }

    /// The device: `"cpu"`, `"gpu"` or `"npu"`.
    pub fn device(&self) -> String {
        // SAFETY: borrowed from the live accelerator and copied at once.
        unsafe { borrowed(sys::olive_accelerator_device(self.as_ptr())) }.unwrap_or_default()
    }

    /// The execution provider, e.g. `"CPUExecutionProvider"`.
    pub fn provider(&self) -> String {
        // SAFETY: borrowed from the live accelerator and copied at once.
        unsafe { borrowed(sys::olive_accelerator_provider(self.as_ptr())) }.unwrap_or_default()
    }

    /// Whether the host CPU has the ISA feature (`"avx2"`, `"avx512f"`, `"neon"`, ...); false
    /// when it does not or it is unknown.
    pub fn has_feature(&self, feature: &str) -> bool {
        match to_c(feature, "feature") {
            // SAFETY: a live accelerator and a NUL-terminated name.
            Ok(feature) => unsafe {
                sys::olive_accelerator_has_feature(self.as_ptr(), feature.as_ptr()) != 0
            },
            Err(_) => false,
        }
    }

    /// A JSON description of the accelerator and the host: device, provider, cpu (model,
    /// cores, features), memory_bytes, cuda (availability and devices).
    pub fn describe_json(&self) -> Result<String> {
        // SAFETY: a valid out-pointer and a live accelerator.
        out_string(|out| unsafe { sys::olive_accelerator_describe_json(out, self.as_ptr()) })
    }

    /// The host CPU's model name.
    pub fn cpu_model(&self) -> String {
        // SAFETY: borrowed from the live accelerator and copied at once.
        unsafe { borrowed(sys::olive_accelerator_cpu_model(self.as_ptr())) }.unwrap_or_default()
    }

    /// The host's number of logical CPU cores.
    pub fn cpu_cores(&self) -> usize {
        // SAFETY: a live accelerator.
        let cores = unsafe { sys::olive_accelerator_cpu_cores(self.as_ptr()) };
        usize::try_from(cores).unwrap_or(0)
    }

    /// The host's physical memory in bytes.
    pub fn memory_bytes(&self) -> u64 {
        // SAFETY: a live accelerator.
        unsafe { sys::olive_accelerator_memory_bytes(self.as_ptr()) }
    }

    /// The number of CUDA devices the driver reports (0 without a driver, a GPU or CUDA
    /// support in this build).
    pub fn cuda_device_count(&self) -> usize {
        // SAFETY: a live accelerator.
        let count = unsafe { sys::olive_accelerator_cuda_device_count(self.as_ptr()) };
        usize::try_from(count).unwrap_or(0)
    }
}

impl Drop for Accelerator {
    fn drop(&mut self) {
        // SAFETY: this value owns its reference and nothing uses it afterwards.
        unsafe { sys::olive_accelerator_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Accelerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accelerator")
            .field("device", &self.device())
            .field("provider", &self.provider())
            .finish()
    }
}
