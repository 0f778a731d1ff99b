//! Loading, inspecting, validating and saving a model built by hand.

mod common;

use std::sync::Arc;
use std::thread;

use common::{write_tiny_model, TempDir, OPSET};
use libolive::Model;

#[test]
fn load_reports_what_the_file_holds() {
    let dir = TempDir::new("load");
    let path = write_tiny_model(&dir);
    let model = Model::load(&path).unwrap();

    assert_eq!(model.node_count(), 2);
    assert_eq!(model.initializer_count(), 1);
    assert_eq!(model.parameter_count(), 4);
    assert_eq!(model.input_count(), 1);
    assert_eq!(model.output_count(), 1);
    assert_eq!(model.input_names(), vec!["X".to_string()]);
    assert_eq!(model.output_names(), vec!["Y".to_string()]);
    assert_eq!(model.input_name(1), None);
    assert_eq!(model.output_name(usize::MAX), None);
    assert_eq!(model.opset(""), Some(OPSET));
    assert_eq!(model.opset("ai.onnx"), Some(OPSET));
    assert_eq!(model.opset("com.microsoft"), None);
    assert_eq!(model.opset("bad\0domain"), None);
    assert_eq!(model.inference_settings(), None); // only a tuning pass sets them
    assert_eq!(
        model.path().map(|p| p.canonicalize().unwrap()),
        Some(path.canonicalize().unwrap())
    );
    model.validate().unwrap();
}

#[test]
fn summary_json_describes_the_graph() {
    let dir = TempDir::new("summary");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let json = model.summary_json().unwrap();
    // Names and values written into the fixture must show up in the description.
    for needle in [
        "\"X\"",
        "\"Y\"",
        "\"batch\"",
        "Identity",
        "Add",
        "libolive-rust-tests",
    ] {
        assert!(
            json.contains(needle),
            "{needle} missing from summary: {json}"
        );
    }
    assert!(
        json.trim_start().starts_with('{') && json.trim_end().ends_with('}'),
        "{json}"
    );
}

#[test]
fn save_and_reload_keeps_the_graph() {
    let dir = TempDir::new("save");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let saved = out_dir.join("model.onnx");
    model.save(&saved, None).unwrap();
    let reloaded = Model::load(&saved).unwrap();
    assert_eq!(reloaded.node_count(), model.node_count());
    assert_eq!(reloaded.initializer_count(), 1);
    assert_eq!(reloaded.parameter_count(), 4);
    assert_eq!(reloaded.input_names(), model.input_names());
    assert_eq!(reloaded.output_names(), model.output_names());
    assert_eq!(reloaded.opset(""), Some(OPSET));
    reloaded.validate().unwrap();
}

#[test]
fn save_with_external_data_writes_the_data_file() {
    let dir = TempDir::new("save-ext");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let saved = dir.join("ext.onnx");
    model
        .save(&saved, Some("external_data=always data_file=weights.bin"))
        .unwrap();
    let data = std::fs::metadata(dir.join("weights.bin")).unwrap();
    // The one initializer holds four floats.
    assert!(data.len() >= 16, "data file has {} bytes", data.len());
    let reloaded = Model::load(&saved).unwrap();
    assert_eq!(reloaded.parameter_count(), 4);
}

#[test]
fn models_outlive_each_other_in_any_order() {
    let dir = TempDir::new("order");
    let first = Model::load(write_tiny_model(&dir)).unwrap();
    let second = libolive::Pass::new("peephole")
        .unwrap()
        .apply(&first)
        .unwrap();
    // The result shares weights with its input; dropping the input first must be fine.
    drop(first);
    assert_eq!(second.parameter_count(), 4);
    second.validate().unwrap();
}

#[test]
fn a_model_is_shared_between_threads() {
    let dir = TempDir::new("threads");
    let model = Arc::new(Model::load(write_tiny_model(&dir)).unwrap());
    let expected = model.summary_json().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let model = Arc::clone(&model);
            thread::spawn(move || {
                let pass = libolive::Pass::new("peephole").unwrap();
                for _ in 0..20 {
                    assert_eq!(model.input_names(), vec!["X".to_string()]);
                    let optimized = pass.apply(&model).unwrap();
                    optimized.validate().unwrap();
                }
                model.summary_json().unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}
