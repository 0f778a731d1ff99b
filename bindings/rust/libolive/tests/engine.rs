//! Running pipelines with an engine: output folders, progress, cancellation, accelerators.

mod common;

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{write_tiny_model, TempDir};
use libolive::{Accelerator, Engine, ErrorKind, Model, Pass, ProgressEvent};

type Events = Arc<Mutex<Vec<(ProgressEvent, String, usize, usize, f64, u64)>>>;

fn recording(engine: &mut Engine) -> Events {
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    engine.set_progress(move |event, name, index, count, fraction, bytes| {
        sink.lock()
            .unwrap()
            .push((event, name.to_string(), index, count, fraction, bytes));
        false
    });
    events
}

#[test]
fn pipeline_text_runs_and_writes_the_output_folder() {
    let dir = TempDir::new("engine-run");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    assert_eq!(engine.pass_count(), 1);
    assert_eq!(engine.pass_names(), vec!["peephole".to_string()]);
    assert!(engine.pipeline_text().unwrap().starts_with("peephole"));

    let out_dir = dir.join("out");
    let result = engine.run(&model, Some(&out_dir)).unwrap();
    assert_eq!(result.node_count(), 1);
    assert_eq!(model.node_count(), 2, "the input model must not change");

    let written = Model::load(out_dir.join("model.onnx")).unwrap();
    assert_eq!(written.node_count(), 1);
    assert_eq!(written.input_names(), vec!["X".to_string()]);
    assert_eq!(written.output_names(), vec!["Y".to_string()]);
    assert_eq!(written.parameter_count(), 4);
    written.validate().unwrap();
}

#[test]
fn run_without_output_folder_only_returns_the_model() {
    let dir = TempDir::new("engine-mem");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine
        .add_pass(Pass::new("OnnxPeepholeOptimizer").unwrap())
        .unwrap();
    assert_eq!(engine.pass_names(), vec!["peephole".to_string()]);
    let result = engine.run(&model, None).unwrap();
    assert_eq!(result.node_count(), 1);
    // Nothing but the fixture was written.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn pipeline_settings_reach_the_pass() {
    let dir = TempDir::new("engine-settings");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole remove_noops=false").unwrap();
    let text = engine.pipeline_text().unwrap();
    assert!(text.contains("remove_noops=false"), "{text}");
    assert_eq!(engine.run(&model, None).unwrap().node_count(), 2);

    // The text form reads back into the same pipeline.
    let mut again = Engine::new(None).unwrap();
    again.add_pipeline(&text).unwrap();
    assert_eq!(again.pipeline_text().unwrap(), text);
}

#[test]
fn a_failed_pipeline_leaves_the_engine_unchanged() {
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let err = engine.add_pipeline("peephole ! no_such_pass").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no_such_pass"), "{err}");
    let err = engine.add_pipeline("peephole no_such_key=1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(engine.pass_count(), 1);
    let err = engine.set_options("no_such_option=1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[test]
fn progress_reports_the_run_in_order() {
    let dir = TempDir::new("engine-progress");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let events = recording(&mut engine);
    engine.run(&model, Some(&dir.join("out"))).unwrap();

    let events = events.lock().unwrap();
    let kinds: Vec<ProgressEvent> = events.iter().map(|e| e.0).collect();
    assert_eq!(
        kinds.first(),
        Some(&ProgressEvent::PassStarted),
        "{events:?}"
    );
    assert_eq!(kinds.last(), Some(&ProgressEvent::Done), "{events:?}");
    assert!(kinds.contains(&ProgressEvent::PassFinished), "{events:?}");
    assert!(kinds.contains(&ProgressEvent::Saving), "{events:?}");
    let started = &events[0];
    assert_eq!(
        (started.1.as_str(), started.2, started.3),
        ("peephole", 0, 1)
    );
    // The fraction of the run done only grows, and ends at 1.
    for pair in events.windows(2) {
        assert!(pair[1].4 >= pair[0].4, "{events:?}");
    }
    assert!((events.last().unwrap().4 - 1.0).abs() < 1e-9, "{events:?}");
    // Something was written by the time the run is done.
    assert!(events.last().unwrap().5 > 0, "{events:?}");
}

#[test]
fn the_callback_can_cancel_and_nothing_is_written() {
    let dir = TempDir::new("engine-cancel");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    engine.set_progress(|event, _, _, _, _, _| event == ProgressEvent::PassStarted);
    let out_dir = dir.join("out");
    let err = engine.run(&model, Some(&out_dir)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err}");
    assert!(!out_dir.exists());
    // Without the callback the same engine runs to the end.
    engine.clear_progress();
    engine.run(&model, Some(&out_dir)).unwrap();
    assert!(out_dir.join("model.onnx").exists());
}

#[test]
fn a_panicking_callback_cancels_then_resumes_the_panic() {
    let dir = TempDir::new("engine-panic");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    engine.set_progress(|_, _, _, _, _, _| panic!("callback failed on purpose"));
    let out_dir = dir.join("out");
    let caught = panic::catch_unwind(AssertUnwindSafe(|| engine.run(&model, Some(&out_dir))));
    let payload = caught.expect_err("the callback's panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"callback failed on purpose")
    );
    assert!(!out_dir.exists());
    // The engine is still usable.
    engine.clear_progress();
    assert_eq!(engine.run(&model, None).unwrap().node_count(), 1);
}

#[test]
fn a_non_empty_output_folder_needs_overwrite() {
    let dir = TempDir::new("engine-exists");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let out_dir = dir.join("out");
    fs::create_dir(&out_dir).unwrap();
    fs::write(out_dir.join("keep.txt"), b"user data").unwrap();

    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let err = engine.run(&model, Some(&out_dir)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Exists, "{err}");
    assert_eq!(fs::read(out_dir.join("keep.txt")).unwrap(), b"user data");

    engine
        .set_options("overwrite=true model_name=tiny_opt.onnx")
        .unwrap();
    engine.run(&model, Some(&out_dir)).unwrap();
    assert_eq!(
        Model::load(out_dir.join("tiny_opt.onnx"))
            .unwrap()
            .node_count(),
        1
    );
}

#[test]
fn engine_keeps_its_accelerator_alive() {
    let dir = TempDir::new("engine-acc");
    let model = Model::load(write_tiny_model(&dir)).unwrap();
    let acc = Accelerator::new("CPU", None).unwrap();
    assert_eq!(acc.device(), "cpu");
    assert_eq!(acc.provider(), "CPUExecutionProvider");
    let mut engine = Engine::new(Some(&acc)).unwrap();
    drop(acc);
    engine.add_pipeline("peephole").unwrap();
    assert_eq!(engine.run(&model, None).unwrap().node_count(), 1);
}

#[test]
fn accelerator_describes_the_host() {
    let acc = Accelerator::new("cpu", Some("CPUExecutionProvider")).unwrap();
    let json = acc.describe_json().unwrap();
    assert!(json.contains("CPUExecutionProvider"), "{json}");
    assert!(acc.cpu_cores() >= 1);
    let host_threads = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // Logical cores of the host; a container may restrict what this process may use.
    assert!(
        acc.cpu_cores() >= host_threads,
        "{} < {host_threads}",
        acc.cpu_cores()
    );
    assert!(acc.memory_bytes() > 0);
    assert!(!acc.has_feature("no_such_feature"));
    assert!(!acc.has_feature("avx\0"));
    #[cfg(target_arch = "x86_64")]
    assert!(acc.has_feature("sse4_2") || !std::is_x86_feature_detected!("sse4.2"));
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        acc.has_feature("avx2"),
        std::is_x86_feature_detected!("avx2")
    );
}

#[test]
fn engine_moves_to_another_thread_and_cancel_handle_outlives_it() {
    let dir = TempDir::new("engine-thread");
    let model = Arc::new(Model::load(write_tiny_model(&dir)).unwrap());
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    let handle = engine.cancel_handle();
    let worker_model = Arc::clone(&model);
    let nodes = thread::spawn(move || engine.run(&worker_model, None).map(|m| m.node_count()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(nodes, 1);
    // The engine is gone; its handle still refers to a live C object.
    handle.cancel();
}
