//! The pass registry and running one pass on a model.

mod common;

use common::{parameter_names, write_tiny_model, TempDir, OPSET};
use libolive::{describe_pass, passes, Model, Pass};

#[test]
fn registry_lists_peephole() {
    let names = passes();
    assert!(names.iter().any(|n| n == "peephole"), "registry: {names:?}");
    // Every listed name can be described and created.
    for name in &names {
        let json = describe_pass(name).unwrap();
        assert!(json.contains(&format!("\"{name}\"")), "{name}: {json}");
        assert_eq!(Pass::new(name).unwrap().name(), *name);
    }
}

#[test]
fn olive_alias_resolves_to_the_registry_name() {
    let pass = Pass::new("OnnxPeepholeOptimizer").unwrap();
    assert_eq!(pass.name(), "peephole");
}

#[test]
fn peephole_removes_the_identity() {
    let dir = TempDir::new("peephole");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let optimized = Pass::new("peephole").unwrap().apply(&model).unwrap();

    // Identity(X) feeding Add is redundant: only the Add remains, reading X directly.
    assert_eq!(optimized.node_count(), 1);
    let summary = optimized.summary_json().unwrap();
    assert!(
        summary.contains("Add") && !summary.contains("Identity"),
        "{summary}"
    );
    assert_eq!(optimized.input_names(), vec!["X".to_string()]);
    assert_eq!(optimized.output_names(), vec!["Y".to_string()]);
    assert_eq!(optimized.parameter_count(), 4);
    assert_eq!(optimized.opset(""), Some(OPSET));
    optimized.validate().unwrap();

    // The input model is unchanged.
    assert_eq!(model.node_count(), 2);
}

#[test]
fn applied_model_saves_and_reloads() {
    let dir = TempDir::new("peephole-save");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let optimized = Pass::new("peephole").unwrap().apply(&model).unwrap();
    let out = dir.join("optimized.onnx");
    optimized.save(&out, None).unwrap();
    let reloaded = Model::load(&out).unwrap();
    assert_eq!(reloaded.node_count(), optimized.node_count());
    assert_eq!(reloaded.output_names(), vec!["Y".to_string()]);
    reloaded.validate().unwrap();
}

#[test]
fn parameters_change_what_the_pass_does() {
    let dir = TempDir::new("peephole-params");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut pass = Pass::new("peephole").unwrap();
    pass.set_bool("remove_noops", false).unwrap();
    assert_eq!(pass.get("remove_noops").unwrap(), "false");
    // With no-op removal off, the Identity stays.
    assert_eq!(pass.apply(&model).unwrap().node_count(), 2);
    pass.set("remove_noops", "true").unwrap();
    assert_eq!(pass.apply(&model).unwrap().node_count(), 1);
}

#[test]
fn typed_setters_check_bounds() {
    let mut pass = Pass::new("peephole").unwrap();
    pass.set_int("max_fold_bytes", 1024).unwrap();
    assert_eq!(pass.get("max_fold_bytes").unwrap(), "1024");
    // The registry gives the lower bound 0.
    let err = pass.set_int("max_fold_bytes", -1).unwrap_err();
    assert_eq!(err.kind, libolive::ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("max_fold_bytes"), "{err}");
    assert_eq!(pass.get("max_fold_bytes").unwrap(), "1024");
    pass.set_many("max_fold_bytes=2048 remove_unused=false")
        .unwrap();
    assert_eq!(pass.get("max_fold_bytes").unwrap(), "2048");
    assert_eq!(pass.get("remove_unused").unwrap(), "false");
}

#[test]
fn parameters_round_trip_through_get() {
    // Every parameter's current value, read back and set again, is accepted unchanged.
    let mut checked = 0;
    for name in passes() {
        let json = describe_pass(&name).unwrap();
        let mut pass = Pass::new(&name).unwrap();
        for key in parameter_names(&json) {
            let value = pass.get(&key).unwrap();
            pass.set(&key, &value).unwrap();
            assert_eq!(pass.get(&key).unwrap(), value, "{name}.{key}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no parameters found in any pass description");
}
