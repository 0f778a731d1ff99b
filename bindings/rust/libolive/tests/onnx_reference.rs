//! Checks the engine's output with the reference implementations: onnx's checker accepts it
//! and onnxruntime computes Y = X + B with it. Needs a Python with onnx, onnxruntime and numpy:
//! OLIVE_TEST_PYTHON, else the source tree's .venv; the test is skipped (with a note) without.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{write_tiny_model, TempDir, BIAS};
use libolive::{Engine, Model};

fn python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("OLIVE_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python"),
    };
    let usable = Command::new(&candidate)
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    usable.then_some(candidate)
}

const CHECK: &str = r#"
import sys, numpy as np, onnx, onnxruntime as ort
path, bias = sys.argv[1], np.array([float(v) for v in sys.argv[2].split(",")], dtype=np.float32)
onnx.checker.check_model(onnx.load(path), full_check=True)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
(y,) = session.run(None, {"X": x})
np.testing.assert_allclose(y, x + bias, rtol=0, atol=0)
print("ok")
"#;

#[test]
fn engine_output_passes_onnx_checker_and_runs_in_onnxruntime() {
    let Some(python) = python() else {
        eprintln!("skipped: no Python with onnx and onnxruntime (set OLIVE_TEST_PYTHON)");
        return;
    };
    let dir = TempDir::new("reference");
    let fixture = write_tiny_model(&dir);
    let model = Model::load(&fixture).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let out_dir = dir.join("out");
    engine.run(&model, Some(&out_dir)).unwrap();

    let bias: Vec<String> = BIAS.iter().map(|v| v.to_string()).collect();
    // The hand-written fixture is checked too, so the other tests start from a real model.
    for path in [fixture, out_dir.join("model.onnx")] {
        let output = Command::new(&python)
            .args(["-c", CHECK])
            .arg(&path)
            .arg(bias.join(","))
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
}
