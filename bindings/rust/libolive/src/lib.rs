//! Safe Rust interface to libolive, the C library that optimizes models for ONNX Runtime.
//!
//! Load a model, transform it with passes (one at a time with [`Pass::apply`], or as a
//! pipeline run by an [`Engine`]), and save the result; or run a [`Workflow`], an
//! optimization job written in Olive's workflow JSON schema, through the library's pass cache:
//!
//! ```no_run
//! use libolive::{Engine, Model};
//! use std::path::Path;
//!
//! # fn main() -> libolive::Result<()> {
//! let model = Model::load("model.onnx")?;
//! let mut engine = Engine::new(None)?;
//! engine.add_pipeline("peephole")?;
//! let optimized = engine.run(&model, Some(Path::new("out")))?;
//! println!("{} nodes -> {}", model.node_count(), optimized.node_count());
//! # Ok(())
//! # }
//! ```
//!
//! Every fallible call returns [`Result`], whose [`Error`] carries libolive's status code, its
//! [`ErrorKind`] and the library's message naming the file, node, tensor or parameter at fault.
//! Handles own their C objects and release them when dropped, in any order: objects shared
//! inside the library (weights, passes held by an engine, accelerators) are reference-counted.
//!
//! Models run through ONNX Runtime, which libolive loads at run time: a [`Session`] runs an
//! ONNX model on an accelerator's execution provider with [`Tensor`] inputs and outputs, and a
//! [`Generator`] runs a decoder folder through ONNX Runtime GenAI.
//!
//! Threads: [`Model`] and [`Accelerator`] are immutable and both `Send` and `Sync`; [`Pass`],
//! [`Engine`] and [`Workflow`] are `Send` but not `Sync`; an engine's or a workflow's run can
//! be stopped from another thread through a [`CancelHandle`].
//!
//! The library is found at build time through `LIBOLIVE_LIB_DIR`, `pkg-config libolive`, or
//! the source tree's `build/lib` folder (see `libolive-sys`).

#![warn(missing_docs)]

mod accelerator;
mod cstr;
mod engine;
mod error;
mod log;
mod model;
mod pass;
mod session;
mod tokenizer;
mod evaluate;
mod workflow;

pub use accelerator::Accelerator;
pub use engine::{CancelHandle, Engine, ProgressEvent};
pub use error::{strerror, Error, ErrorKind, Result};
pub use log::{clear_log_callback, set_log_callback, set_log_level, LogLevel};
pub use model::Model;
pub use pass::{describe_pass, passes, Pass};
pub use session::{load_runtime, runtime_info_json, DType, Dim, Element, Generator, Session, Tensor, ValueInfo};
pub use tokenizer::{Encoding, Tokenizer};
pub use evaluate::evaluate;
pub use workflow::{auto_opt_config, Workflow};

/// The raw C declarations, for what this crate does not wrap.
pub use libolive_sys as sys;

/// The library's run-time version number: MAJOR*10000 + MINOR*100 + PATCH.
pub fn version() -> u32 {
    // SAFETY: no arguments, no preconditions.
    unsafe { sys::olive_version() }
}

/// The library's run-time version as "MAJOR.MINOR.PATCH".
pub fn version_string() -> String {
    // SAFETY: a static string, never NULL.
    unsafe { std::ffi::CStr::from_ptr(sys::olive_version_string()) }
        .to_string_lossy()
        .into_owned()
}

/// Compile-time checks of the thread-safety claims above.
///
/// ```compile_fail,E0277
/// fn shared<T: Sync>() {}
/// shared::<libolive::Pass>();
/// ```
///
/// ```compile_fail,E0277
/// fn sent<T: Send>() {}
/// sent::<libolive::sys::olive_model>();
/// ```
#[allow(dead_code)]
fn thread_safety_claims() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Model>();
    sync::<Model>();
    send::<Accelerator>();
    sync::<Accelerator>();
    send::<Pass>();
    send::<Engine>();
    send::<Workflow>();
    send::<CancelHandle>();
    sync::<CancelHandle>();
    send::<Error>();
    sync::<Error>();
    send::<Session>();
    sync::<Session>();
    send::<Tensor>();
    send::<Generator>();
}
