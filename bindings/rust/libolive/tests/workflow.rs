//! Workflows in Olive's schema: configs from text and files, the pass cache seen through the
//! run summary, progress and cancellation, errors, and the configs `olive auto-opt` runs.
//! The input is the tiny hand-written model (Y = Identity(X) + B).

mod common;

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{json_string, write_tiny_model_in_folder, TempDir};
use libolive::{auto_opt_config, ErrorKind, Model, ProgressEvent, Workflow};

/// `path` as the value of a key=value option, quoted the way libolive's option parser reads.
fn option_value(path: &Path) -> String {
    let text = path.to_str().unwrap();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A config running `passes` (a JSON object's text) on `input`, output and cache in `dir`.
fn config(input: &Path, dir: &TempDir, passes: &str) -> String {
    format!(
        r#"{{
  "input_model": {{"type": "ONNXModel", "model_path": {input}}},
  "systems": {{"local_system": {{"type": "LocalSystem",
    "accelerators": [{{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}}]}}}},
  "passes": {passes},
  "engine": {{"output_dir": {out}, "cache_dir": {cache}}}
}}"#,
        input = json_string(input.to_str().unwrap()),
        out = json_string(dir.join("out").to_str().unwrap()),
        cache = json_string(dir.join("cache").to_str().unwrap()),
    )
}

const PEEPHOLE: &str = r#"{"p": {"type": "OnnxPeepholeOptimizer"}}"#;

/// The string values of every `"key": "..."` in a JSON text, in order (enough JSON reading for
/// the run summary, without a JSON crate).
fn string_values(json: &str, key: &str) -> Vec<String> {
    let pattern = format!("\"{key}\"");
    json.match_indices(&pattern)
        .filter_map(|(at, _)| {
            let rest = json[at + pattern.len()..]
                .trim_start()
                .strip_prefix(':')?
                .trim_start()
                .strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

/// The output folder holds the tiny model with its Identity removed.
fn assert_peephole_output(out_dir: &Path) {
    let written = Model::load(out_dir.join("model.onnx")).unwrap();
    assert_eq!(written.node_count(), 1);
    assert_eq!(written.input_names(), vec!["X".to_string()]);
    assert_eq!(written.output_names(), vec!["Y".to_string()]);
    assert_eq!(written.parameter_count(), 4);
    written.validate().unwrap();
    let model_config = fs::read_to_string(out_dir.join("model_config.json")).unwrap();
    assert_eq!(
        string_values(&model_config, "type")
            .first()
            .map(String::as_str),
        Some("ONNXModel"),
        "{model_config}"
    );
}

#[test]
fn config_text_runs_and_the_second_run_hits_the_cache() {
    let dir = TempDir::new("wf-run");
    let input = write_tiny_model_in_folder(&dir);
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), Some("strict=true")).unwrap();
    assert_eq!(workflow.pipeline_text().unwrap(), "peephole");
    assert!(format!("{workflow:?}").contains("peephole"));

    let first = workflow.run().unwrap();
    assert_eq!(string_values(&first, "cache"), vec!["run"], "{first}");
    assert_eq!(string_values(&first, "pass"), vec!["peephole"], "{first}");
    assert_eq!(string_values(&first, "slot"), vec!["p"], "{first}");
    assert_eq!(
        string_values(&first, "output_dir"),
        vec![dir.join("out").to_str().unwrap().to_string()],
        "{first}"
    );
    assert_peephole_output(&dir.join("out"));
    assert_eq!(
        Model::load(&input).unwrap().node_count(),
        2,
        "the input model must not change"
    );

    // The same workflow again: the pass's result comes from the cache, and the earlier output
    // folder is replaced.
    let second = workflow.run().unwrap();
    assert_eq!(string_values(&second, "cache"), vec!["hit"], "{second}");
    assert_eq!(
        string_values(&second, "id"),
        string_values(&first, "id"),
        "{first}\n{second}"
    );
    assert_peephole_output(&dir.join("out"));
}

#[test]
fn config_file_loads_and_options_replace_its_folders() {
    let dir = TempDir::new("wf-load");
    let input = write_tiny_model_in_folder(&dir);
    let path = dir.join("config.json");
    fs::write(&path, config(&input, &dir, PEEPHOLE)).unwrap();
    let other_out = dir.join("other out");
    let options = format!(
        "output_dir={} cache_dir={} log_level=3",
        option_value(&other_out),
        option_value(&dir.join("other-cache"))
    );
    let mut workflow = Workflow::load(&path, Some(&options)).unwrap();
    let summary = workflow.run().unwrap();
    assert_eq!(string_values(&summary, "cache"), vec!["run"], "{summary}");
    assert_peephole_output(&other_out);
    assert!(!dir.join("out").exists());
    assert!(!dir.join("cache").exists());
    assert!(dir.join("other-cache").is_dir());
}

#[test]
fn two_passes_run_in_order() {
    let dir = TempDir::new("wf-two");
    let input = write_tiny_model_in_folder(&dir);
    let passes = r#"{"peephole": {"type": "OnnxPeepholeOptimizer"},
                     "f16": {"type": "OnnxFloatToFloat16", "keep_io_types": true}}"#;
    let mut workflow = Workflow::new(&config(&input, &dir, passes), None).unwrap();
    let text = workflow.pipeline_text().unwrap();
    assert!(text.starts_with("peephole ! "), "{text}");
    let summary = workflow.run().unwrap();
    assert_eq!(
        string_values(&summary, "olive_type"),
        vec!["OnnxPeepholeOptimizer", "OnnxFloatToFloat16"],
        "{summary}"
    );
    assert_eq!(string_values(&summary, "cache"), vec!["run", "run"]);
    let written = Model::load(dir.join("out").join("model.onnx")).unwrap();
    written.validate().unwrap();
    // float16 conversion with float inputs and outputs kept adds Cast nodes around the Add.
    assert!(
        written.node_count() > 1,
        "{}",
        written.summary_json().unwrap()
    );
    assert!(
        written.summary_json().unwrap().contains("float16"),
        "{}",
        written.summary_json().unwrap()
    );
}

#[test]
fn bad_configs_are_errors_naming_what_is_wrong() {
    let dir = TempDir::new("wf-errors");
    let input = write_tiny_model_in_folder(&dir);

    let err = Workflow::new(
        &config(&input, &dir, r#"{"p": {"type": "NoSuchPass"}}"#),
        None,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("NoSuchPass"), "{err}");

    let err = Workflow::new(
        &config(
            &input,
            &dir,
            r#"{"q": {"type": "OnnxBlockWiseRtnQuantization", "block_size": "big"}}"#,
        ),
        None,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("passes.q.block_size"), "{err}");

    // Unknown keys are errors only when strict.
    let extra = config(&input, &dir, PEEPHOLE).replacen('{', "{\"no_such_key\": 1, ", 1);
    Workflow::new(&extra, None).unwrap();
    let err = Workflow::new(&extra, Some("strict=true")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("no_such_key"), "{err}");

    let err = Workflow::new(&config(&input, &dir, PEEPHOLE), Some("no_such_option=1")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no_such_option"), "{err}");

    // Invalid JSON in a file: the message names the file and the line.
    let path = dir.join("broken.json");
    fs::write(&path, "{\n  \"passes\": [}\n").unwrap();
    let err = Workflow::load(&path, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Format, "{err}");
    assert!(err.message.contains("broken.json:2:"), "{err}");

    let err = Workflow::load(dir.join("no-such-config.json"), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no-such-config.json"), "{err}");

    // Strings with a NUL byte are refused by the bindings before reaching the library.
    let err = Workflow::new("{}\0", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    let err = Workflow::new(&config(&input, &dir, PEEPHOLE), Some("strict=\0")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(!dir.join("out").exists());
}

#[test]
fn run_errors_leave_no_output() {
    let dir = TempDir::new("wf-run-errors");
    let missing = dir.join("missing.onnx");
    let mut workflow = Workflow::new(&config(&missing, &dir, PEEPHOLE), None).unwrap();
    let err = workflow.run().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("missing.onnx"), "{err}");
    assert!(!dir.join("out").exists());

    // An output folder that holds the input model is refused.
    let input = write_tiny_model_in_folder(&dir);
    let holding = input.parent().unwrap().to_path_buf();
    let options = format!("output_dir={}", option_value(&holding));
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), Some(&options)).unwrap();
    let err = workflow.run().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("output_dir"), "{err}");
    assert_eq!(fs::read_dir(&holding).unwrap().count(), 1);

    // A folder of the user's is never replaced.
    fs::create_dir(dir.join("out")).unwrap();
    fs::write(dir.join("out").join("keep.txt"), b"user data").unwrap();
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), None).unwrap();
    let err = workflow.run().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Exists, "{err}");
    assert_eq!(
        fs::read(dir.join("out").join("keep.txt")).unwrap(),
        b"user data"
    );
    assert!(!dir.join("out").join("model.onnx").exists());
}

#[test]
fn progress_reports_the_run_and_can_cancel_it() {
    let dir = TempDir::new("wf-progress");
    let input = write_tiny_model_in_folder(&dir);
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), None).unwrap();

    // Cancelled as the pass starts: nothing is written.
    workflow.set_progress(|event, _, _, _, _, _| event == ProgressEvent::PassStarted);
    let err = workflow.run().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err}");
    assert!(!dir.join("out").exists());

    type Events = Arc<Mutex<Vec<(ProgressEvent, String, usize, usize)>>>;
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    workflow.set_progress(move |event, name, index, count, _, _| {
        sink.lock()
            .unwrap()
            .push((event, name.to_string(), index, count));
        false
    });
    for cache in ["run", "hit"] {
        events.lock().unwrap().clear();
        let summary = workflow.run().unwrap();
        assert_eq!(string_values(&summary, "cache"), vec![cache], "{summary}");
        let events = events.lock().unwrap();
        // The pass is named by its key under "passes"; a cache hit starts and finishes at once.
        let slot = |event| (event, "p".to_string(), 0, 1);
        assert_eq!(
            events.first(),
            Some(&slot(ProgressEvent::PassStarted)),
            "{events:?}"
        );
        assert!(
            events.contains(&slot(ProgressEvent::PassFinished)),
            "{events:?}"
        );
        assert_eq!(
            events.last().map(|e| e.0),
            Some(ProgressEvent::Done),
            "{events:?}"
        );
        assert_peephole_output(&dir.join("out"));
    }

    workflow.clear_progress();
    workflow.run().unwrap();
}

#[test]
fn a_panicking_callback_cancels_then_resumes_the_panic() {
    let dir = TempDir::new("wf-panic");
    let input = write_tiny_model_in_folder(&dir);
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), None).unwrap();
    workflow.set_progress(|_, _, _, _, _, _| panic!("workflow callback failed on purpose"));
    let caught = panic::catch_unwind(AssertUnwindSafe(|| workflow.run()));
    let payload = caught.expect_err("the callback's panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"workflow callback failed on purpose")
    );
    assert!(!dir.join("out").exists());
    workflow.clear_progress();
    workflow.run().unwrap();
    assert_peephole_output(&dir.join("out"));
}

#[test]
fn workflow_moves_to_another_thread_and_cancel_handle_outlives_it() {
    let dir = TempDir::new("wf-thread");
    let input = write_tiny_model_in_folder(&dir);
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), None).unwrap();
    let handle = workflow.cancel_handle();
    // A cancel while nothing runs does not carry over to the next run.
    handle.cancel();
    let summary = thread::spawn(move || workflow.run())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(string_values(&summary, "cache"), vec!["run"], "{summary}");
    // The workflow is gone; its handle still refers to a live C object.
    handle.cancel();
    assert_peephole_output(&dir.join("out"));
}

#[test]
fn cancel_handles_on_many_threads_while_the_workflow_runs_and_is_dropped() {
    let dir = TempDir::new("wf-cancel-race");
    let input = write_tiny_model_in_folder(&dir);
    let mut workflow = Workflow::new(&config(&input, &dir, PEEPHOLE), None).unwrap();
    // The run waits inside its first report until the cancelling threads are going.
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let started_tx = Mutex::new(Some(started_tx));
    workflow.set_progress(move |event, _, _, _, _, _| {
        if event == ProgressEvent::PassStarted {
            if let Some(tx) = started_tx.lock().unwrap().take() {
                tx.send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
            }
        }
        false
    });
    let handles: Vec<_> = (0..4).map(|_| workflow.cancel_handle()).collect();
    // The workflow is dropped on the worker thread as soon as its run returns.
    let worker = thread::spawn(move || {
        let result = workflow.run();
        drop(workflow);
        result
    });
    started_rx.recv().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancellers: Vec<_> = handles
        .into_iter()
        .map(|handle| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut calls = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || calls == 0 {
                    handle.cancel();
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    release_tx.send(()).unwrap();
    let err = worker.join().unwrap().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in cancellers {
        assert!(c.join().unwrap() > 0);
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn auto_opt_config_builds_a_config_that_runs() {
    let dir = TempDir::new("wf-auto-opt");
    let input = write_tiny_model_in_folder(&dir);
    let out = dir.join("auto-opt");
    let options = format!(
        "model_name_or_path={} output_path={} precision=fp16 cache_dir={}",
        option_value(&input),
        option_value(&out),
        option_value(&dir.join("cache"))
    );
    let text = auto_opt_config("auto-opt", &options).unwrap();
    assert!(text.contains("\"OnnxFloatToFloat16\""), "{text}");
    assert!(
        string_values(&text, "model_path").contains(&input.to_str().unwrap().to_string()),
        "{text}"
    );
    let mut workflow = Workflow::new(&text, Some("strict=true")).unwrap();
    let summary = workflow.run().unwrap();
    assert_eq!(
        string_values(&summary, "pass").last().map(String::as_str),
        Some("float16"),
        "{summary}"
    );
    let written = Model::load(out.join("model.onnx")).unwrap();
    written.validate().unwrap();
    assert!(written.summary_json().unwrap().contains("float16"));

    let bad = format!("model_name_or_path={} precision=int3", option_value(&input));
    let err = auto_opt_config("auto-opt", &bad).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("precision"), "{err}");
    let err = auto_opt_config("auto-opt", "precision=int4").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("model_name_or_path"), "{err}");
    let missing = format!(
        "model_name_or_path={}",
        option_value(&dir.join("nothing-here.onnx"))
    );
    let err = auto_opt_config("auto-opt", &missing).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}
