//! Evaluating models with Olive's evaluators (`olive_evaluate`).

use std::path::Path;
use std::ptr;

use libolive_sys as sys;

use crate::accelerator::Accelerator;
use crate::cstr::{out_string, path_to_c, to_c};
use crate::Result;

/// Evaluates the ONNX model at `model` (a `.onnx` file or a model folder) with `evaluator_json`
/// (Olive's schema: `{"metrics": [...], "data_configs": [...]}`) on `acc` (CPU when `None`).
/// Returns the results as JSON: `{"<metric>-<sub_type>": {"value", "priority",
/// "higher_is_better"}}`.
pub fn evaluate(model: impl AsRef<Path>, evaluator_json: &str, acc: Option<&Accelerator>) -> Result<String> {
    let path = path_to_c(model.as_ref())?;
    let config = to_c(evaluator_json, "evaluator_json")?;
    let acc = acc.map_or(ptr::null(), |a| a.as_ptr());
    // SAFETY: valid C strings and accelerator for the duration of the call; no callback.
    out_string(|out| unsafe { sys::olive_evaluate(out, path.as_ptr(), config.as_ptr(), acc, None, ptr::null_mut()) })
}
