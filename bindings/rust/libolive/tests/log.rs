//! Log routing. One test in its own binary: the level and callback are process-wide.

mod common;

use std::sync::{Arc, Mutex};

use common::{write_tiny_model, TempDir};
use libolive::{clear_log_callback, set_log_callback, set_log_level, Engine, LogLevel, Model};

fn run_pipeline(dir: &TempDir) {
    let model = Model::load(write_tiny_model(dir)).unwrap();
    let mut engine = Engine::new(None).unwrap();
    engine.add_pipeline("peephole").unwrap();
    engine.run(&model, Some(&dir.join("out"))).unwrap();
    // A failure that may be logged as well as returned.
    assert!(Model::load(dir.join("missing.onnx")).is_err());
}

#[test]
fn log_lines_follow_the_level_and_reach_the_callback() {
    let lines: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let sink = Arc::clone(&lines);
    set_log_callback(move |level, text| sink.lock().unwrap().push((level, text.to_string())));

    set_log_level(LogLevel::Silent).unwrap();
    run_pipeline(&TempDir::new("log-silent"));
    assert!(
        lines.lock().unwrap().is_empty(),
        "logged while silent: {:?}",
        lines.lock().unwrap()
    );

    set_log_level(LogLevel::Debug).unwrap();
    run_pipeline(&TempDir::new("log-debug"));
    assert!(
        !lines.lock().unwrap().is_empty(),
        "nothing logged at debug level during a run"
    );
    for (level, text) in lines.lock().unwrap().iter() {
        assert_ne!(*level, LogLevel::Silent, "{text}");
        assert!(
            !text.ends_with('\n'),
            "log line ends with a newline: {text:?}"
        );
    }

    // A panicking callback is contained.
    set_log_callback(|_, _| panic!("log callback failed on purpose"));
    run_pipeline(&TempDir::new("log-panic"));

    clear_log_callback();
    set_log_level(LogLevel::Warning).unwrap();
    let before = lines.lock().unwrap().len();
    run_pipeline(&TempDir::new("log-cleared"));
    assert_eq!(
        lines.lock().unwrap().len(),
        before,
        "the removed callback was called"
    );
}
