//! The hand-written declarations must cover the public headers: every `OLIVE_API` function is
//! declared, and every status code, log level, parameter type and progress event has the
//! header's value. Reads the headers of the source tree this crate sits in.

use std::fs;
use std::path::{Path, PathBuf};

use libolive_sys as sys;

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../include/olive")
}

/// The headers declaring the API, the ones the umbrella header olive.h includes.
const HEADERS: [&str; 10] = [
    "common.h",
    "model.h",
    "pass.h",
    "accelerator.h",
    "engine.h",
    "workflow.h",
    "session.h",
    "tokenizer.h",
    "evaluate.h",
    "adapter.h",
];

fn headers() -> Vec<(String, String)> {
    let dir = include_dir();
    let mut out = Vec::new();
    for name in HEADERS {
        let text = fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join(name).display()));
        out.push((name.to_string(), text));
    }
    out
}

#[test]
fn the_umbrella_header_includes_exactly_the_headers_read() {
    // A header added to olive.h but not to HEADERS would escape the checks below.
    let path = include_dir().join("olive.h");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut included: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("#include \"olive/"))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    included.sort_unstable();
    let mut ours = HEADERS.to_vec();
    ours.sort_unstable();
    assert_eq!(
        included, ours,
        "olive.h includes other headers than HEADERS"
    );
}

/// The name of the function declared on a line starting with OLIVE_API: the identifier just
/// before the first '('.
fn declared_function(line: &str) -> Option<String> {
    let line = line.trim_start().strip_prefix("OLIVE_API")?;
    let before = &line[..line.find('(')?];
    let name: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!name.is_empty()).then_some(name)
}

#[test]
fn every_header_function_is_declared() {
    let source =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let mut count = 0;
    for (header, text) in headers() {
        for line in text.lines() {
            if let Some(name) = declared_function(line) {
                count += 1;
                assert!(
                    source.contains(&format!("pub fn {name}(")),
                    "{name} ({header}) is not declared"
                );
            }
        }
    }
    assert!(count >= 50, "only {count} functions found in the headers");
}

#[test]
fn constants_have_the_header_values() {
    let ours: &[(&str, i32)] = &[
        ("OLIVE_OK", sys::OLIVE_OK),
        ("OLIVE_EINVALID", sys::OLIVE_EINVALID),
        ("OLIVE_ENOTFOUND", sys::OLIVE_ENOTFOUND),
        ("OLIVE_EFORMAT", sys::OLIVE_EFORMAT),
        ("OLIVE_EUNSUPPORTED", sys::OLIVE_EUNSUPPORTED),
        ("OLIVE_EIO", sys::OLIVE_EIO),
        ("OLIVE_ENOMEM", sys::OLIVE_ENOMEM),
        ("OLIVE_ECANCELLED", sys::OLIVE_ECANCELLED),
        ("OLIVE_EEXISTS", sys::OLIVE_EEXISTS),
        ("OLIVE_EINTERNAL", sys::OLIVE_EINTERNAL),
        ("OLIVE_LOG_DEBUG", sys::OLIVE_LOG_DEBUG),
        ("OLIVE_LOG_INFO", sys::OLIVE_LOG_INFO),
        ("OLIVE_LOG_WARNING", sys::OLIVE_LOG_WARNING),
        ("OLIVE_LOG_ERROR", sys::OLIVE_LOG_ERROR),
        ("OLIVE_LOG_SILENT", sys::OLIVE_LOG_SILENT),
        ("OLIVE_PARAM_BOOL", sys::OLIVE_PARAM_BOOL),
        ("OLIVE_PARAM_INT", sys::OLIVE_PARAM_INT),
        ("OLIVE_PARAM_FLOAT", sys::OLIVE_PARAM_FLOAT),
        ("OLIVE_PARAM_STRING", sys::OLIVE_PARAM_STRING),
        ("OLIVE_PARAM_CHOICE", sys::OLIVE_PARAM_CHOICE),
        ("OLIVE_PARAM_LIST", sys::OLIVE_PARAM_LIST),
        (
            "OLIVE_PROGRESS_PASS_STARTED",
            sys::OLIVE_PROGRESS_PASS_STARTED,
        ),
        (
            "OLIVE_PROGRESS_PASS_PROGRESS",
            sys::OLIVE_PROGRESS_PASS_PROGRESS,
        ),
        (
            "OLIVE_PROGRESS_PASS_FINISHED",
            sys::OLIVE_PROGRESS_PASS_FINISHED,
        ),
        ("OLIVE_PROGRESS_SAVING", sys::OLIVE_PROGRESS_SAVING),
        ("OLIVE_PROGRESS_DONE", sys::OLIVE_PROGRESS_DONE),
    ];
    let mut seen = 0;
    for (header, text) in headers() {
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(value) = value.parse::<i32>() else {
                continue;
            };
            let ours = ours.iter().find(|(n, _)| *n == name);
            let Some((_, our_value)) = ours else {
                panic!("{name} ({header}) has no Rust constant");
            };
            assert_eq!(*our_value, value, "{name} ({header})");
            seen += 1;
        }
    }
    assert_eq!(
        seen,
        ours.len(),
        "some Rust constants are not in the headers"
    );
}

#[test]
fn declarations_match_the_exported_symbol_list() {
    // The library's checked-in export list names the same functions.
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../lib/libolive.symbols");
    let text =
        fs::read_to_string(&list).unwrap_or_else(|e| panic!("cannot read {}: {e}", list.display()));
    let source =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("olive_") {
            assert!(
                source.contains(&format!("pub fn {word}(")),
                "exported {word} is not declared"
            );
        }
    }
}
