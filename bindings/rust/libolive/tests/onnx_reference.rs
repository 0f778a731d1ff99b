//! Checks the engine's and a workflow's output with the reference implementations: onnx's
//! checker accepts it and onnxruntime computes Y = X + B with it. Needs a Python with onnx,
//! onnxruntime and numpy: OLIVE_TEST_PYTHON (meson's test run sets it to the Python it
//! uses), else the source tree's .venv. Without one the tests are skipped visibly: each writes
//! its name and the reason to the file named by OLIVE_TEST_SKIP_LOG, which run-tests.sh reports
//! as "SKIP rust <test>: <reason>" for scripts/test.sh to count and check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json_string, write_tiny_model, write_tiny_model_in_folder, TempDir, BIAS};
use libolive::{Engine, Model, Workflow};

/// The Python to check outputs with, or the reason there is none (after recording the skip
/// of `test`).
fn python(test: &str) -> Option<PathBuf> {
    let candidate = match std::env::var_os("OLIVE_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python"),
    };
    let usable = Command::new(&candidate)
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !usable {
        skip(
            test,
            &format!(
                "no Python with onnx, onnxruntime and numpy at {} (set OLIVE_TEST_PYTHON)",
                candidate.display()
            ),
        );
    }
    usable.then_some(candidate)
}

/// Records that `test` did not check what it is for: Rust's test harness has no skipped
/// state, and a test that returns early would otherwise pass silently.
fn skip(test: &str, reason: &str) {
    eprintln!("skipped {test}: {reason}");
    if let Some(log) = std::env::var_os("OLIVE_TEST_SKIP_LOG") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("OLIVE_TEST_SKIP_LOG cannot be written");
        writeln!(file, "{test}: {reason}").expect("OLIVE_TEST_SKIP_LOG cannot be written");
    }
}

const CHECK: &str = r#"
import sys, numpy as np, onnx, onnxruntime as ort
path, bias = sys.argv[1], np.array([float(v) for v in sys.argv[2].split(",")], dtype=np.float32)
tolerance = float(sys.argv[3])
onnx.checker.check_model(onnx.load(path), full_check=True)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
(y,) = session.run(None, {"X": x})
assert y.dtype == np.float32, y.dtype
np.testing.assert_allclose(y, x + bias, rtol=tolerance, atol=tolerance)
print("ok")
"#;

#[test]
fn engine_output_passes_onnx_checker_and_runs_in_onnxruntime() {
    let Some(python) = python("engine_output_passes_onnx_checker_and_runs_in_onnxruntime") else {
        return;
    };
    let dir = TempDir::new("reference");
    let fixture = write_tiny_model(&dir);
    let model = Model::load(&fixture).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let out_dir = dir.join("out");
    engine.run(&model, Some(&out_dir)).unwrap();

    // The hand-written fixture is checked too, so the other tests start from a real model.
    for path in [fixture, out_dir.join("model.onnx")] {
        reference_check(&python, &path, 0.0);
    }
}

/// onnx's checker accepts the model at `path` and onnxruntime computes X + B with it, within
/// `tolerance` (absolute and relative).
fn reference_check(python: &Path, path: &Path, tolerance: f64) {
    let bias: Vec<String> = BIAS.iter().map(|v| v.to_string()).collect();
    let output = Command::new(python)
        .args(["-c", CHECK])
        .arg(path)
        .arg(bias.join(","))
        .arg(tolerance.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "reference check of {} failed:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn workflow_output_passes_onnx_checker_and_runs_in_onnxruntime() {
    let Some(python) = python("workflow_output_passes_onnx_checker_and_runs_in_onnxruntime") else {
        return;
    };
    let dir = TempDir::new("reference-workflow");
    let input = write_tiny_model_in_folder(&dir);
    // Float16 inside, float at the edges: X + B is computed with float16 rounding.
    for (passes, out, tolerance) in [
        (
            r#"{"p": {"type": "OnnxPeepholeOptimizer"}}"#,
            "peephole",
            0.0,
        ),
        (
            r#"{"p": {"type": "OnnxPeepholeOptimizer"},
                "f": {"type": "OnnxFloatToFloat16", "keep_io_types": true}}"#,
            "float16",
            2e-3,
        ),
    ] {
        let out_dir = dir.join(out);
        let config = format!(
            r#"{{"input_model": {{"type": "ONNXModel", "model_path": {}}}, "passes": {passes},
                "engine": {{"output_dir": {}, "cache_dir": {}}}}}"#,
            json_string(input.to_str().unwrap()),
            json_string(out_dir.to_str().unwrap()),
            json_string(dir.join("cache").to_str().unwrap()),
        );
        Workflow::new(&config, Some("strict=true"))
            .unwrap()
            .run()
            .unwrap();
        reference_check(&python, &out_dir.join("model.onnx"), tolerance);
    }
}
