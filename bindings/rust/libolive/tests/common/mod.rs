//! Test fixtures: a tiny ONNX model written as protobuf bytes by hand, and temporary folders.
//!
//! The model is `Y = Identity(X) + B`, with X a float tensor of shape [batch, 4] and B a float
//! initializer [1, 2, 3, 4], opset 17 of the default domain. Field numbers are those of
//! onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, TypeProto).

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One protobuf message being written: fields are appended in the order given.
#[derive(Default, Clone)]
pub struct Msg(Vec<u8>);

fn varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

impl Msg {
    pub fn new() -> Msg {
        Msg(Vec::new())
    }

    /// A varint field (wire type 0): int32, int64, enums.
    pub fn int(mut self, field: u32, value: i64) -> Msg {
        varint(&mut self.0, u64::from(field) << 3);
        varint(&mut self.0, value as u64);
        self
    }

    /// A length-delimited field (wire type 2): bytes.
    pub fn bytes(mut self, field: u32, value: &[u8]) -> Msg {
        varint(&mut self.0, (u64::from(field) << 3) | 2);
        varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    /// A string field.
    pub fn string(self, field: u32, value: &str) -> Msg {
        self.bytes(field, value.as_bytes())
    }

    /// An embedded message field.
    pub fn msg(self, field: u32, value: Msg) -> Msg {
        self.bytes(field, &value.0)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

pub const ONNX_FLOAT: i64 = 1;
pub const OPSET: i64 = 17;
pub const BIAS: [f32; 4] = [1.0, 2.0, 3.0, 4.0];

/// A TypeProto for a float tensor; `None` dims are symbolic ("batch").
fn float_tensor_type(dims: &[Option<i64>]) -> Msg {
    let mut shape = Msg::new();
    for dim in dims {
        let d = match dim {
            Some(v) => Msg::new().int(1, *v),      // Dimension.dim_value
            None => Msg::new().string(2, "batch"), // Dimension.dim_param
        };
        shape = shape.msg(1, d); // TensorShapeProto.dim
    }
    let tensor = Msg::new().int(1, ONNX_FLOAT).msg(2, shape); // elem_type, shape
    Msg::new().msg(1, tensor) // TypeProto.tensor_type
}

fn value_info(name: &str, dims: &[Option<i64>]) -> Msg {
    Msg::new().string(1, name).msg(2, float_tensor_type(dims))
}

fn node(inputs: &[&str], outputs: &[&str], name: &str, op_type: &str) -> Msg {
    let mut n = Msg::new();
    for i in inputs {
        n = n.string(1, i);
    }
    for o in outputs {
        n = n.string(2, o);
    }
    n.string(3, name).string(4, op_type)
}

/// The bytes of the test model: X -> Identity -> T; T + B -> Add -> Y.
pub fn tiny_model_bytes() -> Vec<u8> {
    let raw: Vec<u8> = BIAS.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bias = Msg::new()
        .int(1, 4) // dims
        .int(2, ONNX_FLOAT) // data_type
        .string(8, "B") // name
        .bytes(9, &raw); // raw_data
    let graph = Msg::new()
        .msg(1, node(&["X"], &["T"], "identity", "Identity"))
        .msg(1, node(&["T", "B"], &["Y"], "add", "Add"))
        .string(2, "tiny")
        .msg(5, bias)
        .msg(11, value_info("X", &[None, Some(4)]))
        .msg(12, value_info("Y", &[None, Some(4)]));
    let opset = Msg::new().string(1, "").int(2, OPSET);
    Msg::new()
        .int(1, 8) // ir_version
        .string(2, "libolive-rust-tests") // producer_name
        .msg(7, graph)
        .msg(8, opset)
        .into_bytes()
}

/// A folder under Cargo's per-test temporary area, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("libolive-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes the tiny model into `dir` and returns its path.
pub fn write_tiny_model(dir: &TempDir) -> PathBuf {
    let path = dir.join("tiny.onnx");
    fs::write(&path, tiny_model_bytes()).unwrap();
    path
}

/// Writes the tiny model as `in/tiny.onnx` in `dir` and returns its path: a workflow's output
/// folder must not hold the input model.
pub fn write_tiny_model_in_folder(dir: &TempDir) -> PathBuf {
    let folder = dir.join("in");
    fs::create_dir_all(&folder).unwrap();
    let path = folder.join("tiny.onnx");
    fs::write(&path, tiny_model_bytes()).unwrap();
    path
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The parameter objects of a pass description (the text between braces after "parameters").
/// Enough JSON reading for these tests, which have no JSON crate.
pub fn parameter_objects(json: &str) -> Vec<&str> {
    let Some(start) = json.find("\"parameters\"") else {
        return Vec::new();
    };
    json[start..]
        .split('{')
        .skip(1)
        .map(|o| o.split('}').next().unwrap_or(""))
        .collect()
}

/// The value of string field `key` in one JSON object's text.
pub fn string_field(object: &str, key: &str) -> Option<String> {
    let at = object.find(&format!("\"{key}\""))?;
    let rest = object[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let body = rest.strip_prefix('"')?;
    Some(body[..body.find('"')?].to_string())
}

/// The names of a pass's parameters, from its description.
pub fn parameter_names(json: &str) -> Vec<String> {
    parameter_objects(json)
        .iter()
        .filter_map(|o| string_field(o, "name"))
        .collect()
}
