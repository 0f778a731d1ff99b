//! Sessions through the safe wrapper: ONNX's own `test_add` model gives x + y (computed here)
//! on inputs made from Vecs without a copy; a BERT encoder gives the same bytes from a path and
//! from a loaded model, from two threads at once; inputs that do not fit are refused by name.
//! Skipped (returns early) when libolive cannot find ONNX Runtime.

use std::path::{Path, PathBuf};

use libolive::{Accelerator, DType, Dim, ErrorKind, Model, Session, Tensor};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn have_ort() -> bool {
    let info = libolive::runtime_info_json().unwrap();
    let found = info.contains("\"found\": true");
    if !found {
        eprintln!("ONNX Runtime not found; skipping: {info}");
    }
    found
}

#[test]
fn tensors_borrow_vecs_and_own_zeros() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(t.dtype(), Some(DType::Float32));
    assert_eq!(t.shape(), vec![2, 3]);
    assert_eq!(t.as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(t.as_slice::<i32>().unwrap_err().kind(), ErrorKind::Invalid);
    let z = Tensor::zeros(DType::Int64, &[4]).unwrap();
    assert_eq!(z.as_slice::<i64>().unwrap(), &[0, 0, 0, 0]);
    assert_eq!(z.as_bytes().len(), 32);
    let bad = Tensor::from_vec(vec![1u8, 2, 3], &[2, 2]).err().unwrap();
    assert_eq!(bad.kind(), ErrorKind::Invalid);
    let half = Tensor::from_vec_as(vec![0x3c00u16], &[1], DType::Float16).unwrap();
    assert_eq!(half.dtype(), Some(DType::Float16));
    assert!(Tensor::from_vec_as(vec![0u32], &[1], DType::Float16).is_err());
}

#[test]
fn add_model_adds() {
    let path = Path::new("/usr/share/libonnx-testdata/data/node/test_add/model.onnx");
    if !path.exists() || !have_ort() {
        return;
    }
    let s = Session::from_path(path, None, "intra_op_num_threads=1").unwrap();
    assert_eq!(s.provider(), "CPUExecutionProvider");
    let inputs = s.inputs();
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].dtype, Some(DType::Float32));
    assert_eq!(inputs[0].shape, vec![Dim::Fixed(3), Dim::Fixed(4), Dim::Fixed(5)]);
    let x: Vec<f32> = (0..60).map(|i| i as f32 * 0.5).collect();
    let y: Vec<f32> = (0..60).map(|i| 100.0 - i as f32).collect();
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    let tx = Tensor::from_vec(x, &[3, 4, 5]).unwrap();
    let ty = Tensor::from_vec(y, &[3, 4, 5]).unwrap();
    let out = s.run(&[(inputs[0].name.as_str(), &tx), (inputs[1].name.as_str(), &ty)], None).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.shape(), vec![3, 4, 5]);
    assert_eq!(out[0].1.as_slice::<f32>().unwrap(), want.as_slice());

    let err = s.run(&[("x", &tx), ("nope", &ty)], None).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.message().contains("no input 'nope'"), "{}", err.message());
    let small = Tensor::zeros(DType::Float32, &[3, 4]).unwrap();
    let err = s.run(&[("x", &tx), ("y", &small)], None).err().unwrap();
    assert!(err.message().contains("input 'y' has rank 2"), "{}", err.message());
}

#[test]
fn encoder_from_path_and_model_agree_across_threads() {
    let path = repo().join("tests/data/fusion/bert_op17.onnx");
    if !have_ort() {
        return;
    }
    let acc = Accelerator::new("cpu", None).unwrap();
    let a = Session::from_path(&path, Some(&acc), "intra_op_num_threads=1").unwrap();
    let model = Model::load(&path).unwrap();
    let b = Session::from_model(&model, Some(&acc), "intra_op_num_threads=1").unwrap();
    drop(model);
    assert_eq!(a.inputs()[0].shape, vec![Dim::Symbolic("batch".into()), Dim::Symbolic("seq".into())]);
    let ids = Tensor::from_vec((0..16).map(|i| (i * 5 % 29) as i64).collect::<Vec<_>>(), &[2, 8]).unwrap();
    let mask = Tensor::from_vec(vec![1i64; 16], &[2, 8]).unwrap();
    let types = Tensor::zeros(DType::Int64, &[2, 8]).unwrap();
    let feeds = [("input_ids", &ids), ("attention_mask", &mask), ("token_type_ids", &types)];
    let (ra, rb) = std::thread::scope(|scope| {
        let ha = scope.spawn(|| a.run(&feeds, None).unwrap());
        let hb = scope.spawn(|| b.run(&feeds, Some(&["last_hidden_state"])).unwrap());
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(ra[0].1.shape(), vec![2, 8, 16]);
    assert_eq!(ra[0].1.as_bytes(), rb[0].1.as_bytes());
    // The outputs outlive their sessions.
    drop(a);
    drop(b);
    assert!(ra[0].1.as_slice::<f32>().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn missing_provider_is_named() {
    if !have_ort() {
        return;
    }
    let path = repo().join("tests/data/fusion/bert_op17.onnx");
    let gpu = Accelerator::new("gpu", Some("CUDAExecutionProvider")).unwrap();
    match Session::from_path(&path, Some(&gpu), "") {
        Ok(_) => {} // an ONNX Runtime with CUDA
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Unsupported);
            assert!(e.message().contains("it has: "), "{}", e.message());
        }
    }
}
