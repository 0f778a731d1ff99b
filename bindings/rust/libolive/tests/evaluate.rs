//! Evaluation through the safe wrapper: size_on_disk of a BERT model file equals its size;
//! a latency metric on dummy data gives positive values (skipped without ONNX Runtime); a bad
//! evaluator config is refused naming the field.

use std::path::{Path, PathBuf};

use libolive::ErrorKind;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

#[test]
fn size_latency_and_bad_configs() {
    let model = repo().join("tests/data/fusion/bert_op17.onnx");
    let size = std::fs::metadata(&model).unwrap().len();
    let out = libolive::evaluate(&model, r#"{"metrics": [{"name": "size", "type": "size_on_disk"}]}"#, None).unwrap();
    assert!(out.contains(&format!("\"value\": {size}")), "{out}");

    let err = libolive::evaluate(&model, r#"{"metrics": [{"name": "l", "type": "latency", "sub_types": [{"name": "p42"}]}]}"#, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("p42"), "{err}");

    if !libolive::runtime_info_json().unwrap().contains("\"found\": true") {
        eprintln!("ONNX Runtime not found; skipping the latency check");
        return;
    }
    let config = r#"{"metrics": [{"name": "lat", "type": "latency",
        "sub_types": [{"name": "p50", "metric_config": {"warmup_num": 1, "repeat_test_num": 3}}],
        "data_config": {"name": "d", "type": "DummyDataContainer", "load_dataset_config": {
            "input_shapes": [[1, 8], [1, 8], [1, 8]], "input_types": ["int64", "int64", "int64"],
            "input_names": ["input_ids", "attention_mask", "token_type_ids"]}}}]}"#;
    let out = libolive::evaluate(&model, config, None).unwrap();
    assert!(out.contains("\"lat-p50\""), "{out}");
}
