//! Bad input gives an Error with the right kind and a message naming what is wrong.

mod common;

use std::fs;

use common::{parameter_objects, string_field, tiny_model_bytes, write_tiny_model, TempDir};
use libolive::{describe_pass, Accelerator, Engine, ErrorKind, Model, Pass};

#[test]
fn missing_file_is_not_found_and_named() {
    let dir = TempDir::new("missing");
    let path = dir.join("no-such-model.onnx");
    let err = Model::load(&path).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.code, libolive::sys::OLIVE_ENOTFOUND);
    assert!(err.message.contains("no-such-model.onnx"), "{err}");
    // Display carries the message too.
    assert!(err.to_string().contains("no-such-model.onnx"));
}

#[test]
fn garbage_bytes_are_a_format_error() {
    let dir = TempDir::new("garbage");
    let path = dir.join("garbage.onnx");
    fs::write(
        &path,
        b"\xff\xff\xff\xff\xff this is not a protobuf message",
    )
    .unwrap();
    let err = Model::load(&path).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Format, "{err}");
    assert!(!err.message.is_empty());
}

#[test]
fn truncated_model_is_a_format_error() {
    let dir = TempDir::new("truncated");
    let bytes = tiny_model_bytes();
    let path = dir.join("truncated.onnx");
    fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    let err = Model::load(&path).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Format, "{err}");
}

#[test]
fn unknown_pass_is_not_found() {
    let err = Pass::new("no_such_pass").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no_such_pass"), "{err}");
    // The message lists the known passes.
    assert!(err.message.contains("peephole"), "{err}");

    let err = describe_pass("no_such_pass").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[test]
fn unknown_parameter_is_not_found() {
    let mut pass = Pass::new("peephole").unwrap();
    let err = pass.set("no_such_key", "1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no_such_key"), "{err}");
    let err = pass.get("no_such_key").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[test]
fn bad_parameter_value_is_invalid_and_leaves_the_pass_unchanged() {
    let (pass_name, key) = bool_parameter();
    let mut pass = Pass::new(&pass_name).unwrap();
    let before = pass.get(&key).unwrap();
    let err = pass.set(&key, "not-a-boolean").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains(&key), "{err}");
    assert_eq!(pass.get(&key).unwrap(), before);

    // The bulk form is all or nothing.
    let err = pass
        .set_many(&format!("{key}=true {key}=maybe"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert_eq!(pass.get(&key).unwrap(), before);
}

/// A boolean parameter of the peephole pass, found in its description.
fn bool_parameter() -> (String, String) {
    let json = describe_pass("peephole").unwrap();
    parameter_objects(&json)
        .into_iter()
        .find(|o| string_field(o, "type").as_deref() == Some("bool"))
        .and_then(|o| string_field(o, "name"))
        .map(|key| ("peephole".to_string(), key))
        .unwrap_or_else(|| panic!("peephole has no boolean parameter: {json}"))
}

#[test]
fn interior_nul_is_an_error_not_a_panic() {
    let err = Model::load("model\0.onnx").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("NUL"), "{err}");

    let dir = TempDir::new("nul");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let err = model.save(dir.join("bad\0name.onnx"), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    let err = model
        .save(dir.join("ok.onnx"), Some("align=1\0"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");

    assert_eq!(
        Pass::new("peep\0hole").unwrap_err().kind,
        ErrorKind::Invalid
    );
    let mut engine = Engine::new(None).unwrap();
    assert_eq!(
        engine.add_pipeline("peephole\0").unwrap_err().kind,
        ErrorKind::Invalid
    );
    let err = engine.run(&model, Some(&dir.join("out\0dir"))).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(!dir.join("out").exists());
}

#[test]
fn bad_save_option_is_invalid_and_writes_nothing() {
    let dir = TempDir::new("bad-save");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let out = dir.join("out.onnx");
    let err = model
        .save(&out, Some("external_data=sometimes"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("external_data"), "{err}");
    assert!(!out.exists());
}

#[test]
fn saving_over_the_source_file_is_refused() {
    let dir = TempDir::new("over-source");
    let path = write_tiny_model(&dir);
    let model = Model::load(&path).unwrap();
    let err = model.save(&path, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    // The source is intact.
    assert_eq!(fs::read(&path).unwrap(), tiny_model_bytes());
}

#[test]
fn incompatible_accelerator_is_invalid() {
    let err = Accelerator::new("cpu", Some("CUDAExecutionProvider")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    let err = Accelerator::new("toaster", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("toaster"), "{err}");
}

#[test]
fn errors_convert_to_io_errors() {
    let err = Model::load("/nonexistent/dir/model.onnx").unwrap_err();
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}
