#!/usr/bin/env python3
"""Writes the hostile-input corpus under tests/data/hostile/: one folder per case holding a
model.onnx (and the data files it refers to), a checkpoint or a workflow config, plus
cases.json mapping each case to a phrase that the error message must contain.
tests/integration/test_hostile.py runs the roundtrip tool (or the `olive` command the case
names) on every case and expects a clean failure.

What git cannot hold is made by the test when it copies a case: FIFOs ("fifos": names of the
case's files to replace by FIFOs) and oversized fields ("append_doc_string": bytes of a
ModelProto.doc_string appended to model.onnx).

Run from anywhere: python3 tests/data/make_hostile.py (needs the onnx package).
"""

import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hostile")


def base_model(initializers, nodes=None, inputs=None, outputs=None):
    """Y = Add(X, W) with the given initializers (the first is W unless nodes are given)."""
    if nodes is None:
        nodes = [helper.make_node("Add", ["X", "W"], ["Y"], name="add")]
    if inputs is None:
        inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])]
    if outputs is None:
        outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                             producer_name="make_hostile")


def external_tensor(name, location, offset=None, length=None, dims=(4,), dtype=TensorProto.FLOAT):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key = key
            entry.value = str(value)
    return t


def valid_bytes():
    w = numpy_helper.from_array(np.arange(1024, dtype=np.float32), "W")
    model = base_model([w], inputs=[helper.make_tensor_value_info("X", TensorProto.FLOAT, [1024])],
                       outputs=[helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1024])])
    return model.SerializeToString()


def encode_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_bytes(number, payload):
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def nested_if(levels):
    """A main graph with `levels` If nodes nested through then_branch, encoded by hand (the
    protobuf Python runtime itself refuses to build messages this deep)."""
    leaf = helper.make_graph([helper.make_node("Identity", ["X"], ["y"])], "leaf", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])]).SerializeToString()
    inner = leaf
    for _ in range(levels):
        attr = field_bytes(1, b"then_branch") + encode_varint(20 << 3) + encode_varint(5) + field_bytes(6, inner)
        node = field_bytes(1, b"cond") + field_bytes(2, b"y") + field_bytes(4, b"If") + field_bytes(5, attr)
        inner = field_bytes(1, node) + field_bytes(2, b"level")
    model = base_model([])
    model.ClearField("graph")
    return model.SerializeToString() + field_bytes(7, inner)


def varint_at(data, pos):
    """(value, end) of the varint starting at pos."""
    value, shift = 0, 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def graph_field(data):
    """Offsets of the ModelProto.graph field: (tag position, length position, payload position)."""
    pos = 0
    while pos < len(data):
        tag, after_tag = varint_at(data, pos)
        wire = tag & 7
        if wire == 0:
            _, end = varint_at(data, after_tag)
        elif wire == 2:
            length, payload = varint_at(data, after_tag)
            if tag >> 3 == 7:
                return pos, after_tag, payload
            end = payload + length
        elif wire == 1:
            end = after_tag + 8
        else:
            end = after_tag + 4
        pos = end
    raise ValueError("no graph field")


def safetensors_bytes(tensors):
    """A safetensors file (8-byte header length, JSON header, data) of float32 arrays."""
    header, data = {}, b""
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def llama_checkpoint(**config_changes):
    """A one-layer Llama checkpoint of hidden size 8 (a few KB): config.json and
    model.safetensors, with `config_changes` applied to the config."""
    hidden, inter, vocab, heads, kv = 8, 16, 32, 2, 1
    head = hidden // heads
    rng = np.random.default_rng(0)
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,),
              "lm_head.weight": (vocab, hidden)}
    p = "model.layers.0."
    shapes.update({p + "self_attn.q_proj.weight": (heads * head, hidden), p + "self_attn.k_proj.weight": (kv * head, hidden),
                   p + "self_attn.v_proj.weight": (kv * head, hidden), p + "self_attn.o_proj.weight": (hidden, heads * head),
                   p + "mlp.gate_proj.weight": (inter, hidden), p + "mlp.up_proj.weight": (inter, hidden),
                   p + "mlp.down_proj.weight": (hidden, inter), p + "input_layernorm.weight": (hidden,),
                   p + "post_attention_layernorm.weight": (hidden,)})
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
              "intermediate_size": inter, "num_hidden_layers": 1, "num_attention_heads": heads,
              "num_key_value_heads": kv, "vocab_size": vocab, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
              "tie_word_embeddings": False}
    config.update(config_changes)
    weights = {name: rng.standard_normal(shape).astype(np.float32) * 0.1 for name, shape in shapes.items()}
    return {"config.json": json.dumps(config, indent=1).encode(), "model.safetensors": safetensors_bytes(weights)}


CONVERT = ["run-pass", "--pass", "convert", "-m", "{in}", "-o", "{out}"]


def cases():
    """Yields (name, files, expected phrase, why[, extra]). files maps file name -> bytes, or
    ('symlink', target); extra holds the case's other keys in cases.json ("command": the
    `olive` arguments, "{in}" the case folder and "{out}" an empty output folder; "workflow":
    run `olive run` on a config naming the case folder as the input model; "fifos";
    "append_doc_string")."""
    good = valid_bytes()
    tag_pos, len_pos, payload = graph_field(good)

    yield "truncated_half", {"model.onnx": good[: len(good) // 2]}, "malformed protobuf", \
        "cut in the middle of the weights"
    yield "truncated_last_byte", {"model.onnx": good[:-1]}, "malformed protobuf", "last byte missing"
    yield "truncated_in_length", {"model.onnx": good[: len_pos + 1]}, "malformed protobuf", \
        "ends inside the graph field's length prefix"
    yield "empty_file", {"model.onnx": b""}, "no graph", "zero bytes"
    yield "not_protobuf", {"model.onnx": b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"}, "malformed protobuf", \
        "an over-long varint tag"

    flipped = bytearray(good)
    flipped[tag_pos] |= 0x07  # wire type 2 -> 7, which does not exist
    yield "bitflip_wire_type", {"model.onnx": bytes(flipped)}, "malformed protobuf", \
        "the graph field's tag has an invalid wire type"
    flipped = bytearray(good)
    flipped[len_pos + 1] ^= 0x40  # graph length grows far past the end of the file
    yield "bitflip_graph_length", {"model.onnx": bytes(flipped)}, "malformed protobuf", \
        "the graph field's length points past the end of the file"
    flipped = bytearray(good)
    raw = good.find(np.arange(1024, dtype=np.float32).tobytes())
    flipped[raw - 3] ^= 0x01  # the raw_data length prefix (two bytes, 4096) becomes 4097
    yield "bitflip_raw_length", {"model.onnx": bytes(flipped)}, "malformed protobuf", \
        "raw_data's length prefix is one more than the bytes that follow"

    huge = TensorProto()
    huge.name = "W"
    huge.data_type = TensorProto.FLOAT
    huge.dims.extend([1 << 40, 1 << 40])
    huge.raw_data = b"\0\0\0\0"
    yield "huge_dims", {"model.onnx": base_model([huge]).SerializeToString()}, "'W'", \
        "2^80 declared elements with 4 bytes of data"

    neg = numpy_helper.from_array(np.zeros(6, dtype=np.float32), "W")
    del neg.dims[:]
    neg.dims.extend([2, -3])
    yield "negative_dims", {"model.onnx": base_model([neg]).SerializeToString()}, "negative dimension", \
        "a dimension of -3"

    odd = TensorProto()
    odd.name = "W"
    odd.data_type = 99
    odd.dims.append(4)
    odd.raw_data = b"\0" * 16
    yield "unknown_dtype", {"model.onnx": base_model([odd]).SerializeToString()}, "unknown data type 99", \
        "data type 99 does not exist"

    short = TensorProto()
    short.name = "W"
    short.data_type = TensorProto.FLOAT
    short.dims.append(4)
    short.raw_data = b"\0" * 15
    yield "raw_data_length_mismatch", {"model.onnx": base_model([short]).SerializeToString()}, "raw_data", \
        "15 bytes of raw_data for float[4]"

    typed = TensorProto()
    typed.name = "W"
    typed.data_type = TensorProto.FLOAT
    typed.dims.append(4)
    typed.float_data.extend([1.0, 2.0, 3.0])
    yield "typed_count_mismatch", {"model.onnx": base_model([typed]).SerializeToString()}, "float_data", \
        "3 floats for float[4]"

    data = np.arange(16, dtype=np.float32).tobytes()  # 64 bytes
    yield "external_dotdot", {"model.onnx": base_model([external_tensor("W", "../w.data")]).SerializeToString(),
                              "w.data": data}, "escapes the model folder", "location ../w.data"
    yield "external_absolute", {"model.onnx": base_model([external_tensor("W", "/etc/passwd")]).SerializeToString()}, \
        "not a relative path", "location /etc/passwd"
    yield "external_symlink_outside", {"model.onnx": base_model([external_tensor("W", "w.data")]).SerializeToString(),
                                       "w.data": ("symlink", "/etc/passwd")}, "outside the model folder", \
        "w.data is a symlink to /etc/passwd"
    yield "external_missing", {"model.onnx": base_model([external_tensor("W", "gone.data")]).SerializeToString()}, \
        "not found", "the data file does not exist"
    yield "external_offset_past_eof", {
        "model.onnx": base_model([external_tensor("W", "w.data", offset=128, length=16)]).SerializeToString(),
        "w.data": data}, "past the end", "offset 128 in a 64-byte file"
    yield "external_length_past_eof", {
        "model.onnx": base_model([external_tensor("W", "w.data", offset=56, length=16)]).SerializeToString(),
        "w.data": data}, "past the end", "bytes 56..72 of a 64-byte file"
    yield "external_bad_offset", {
        "model.onnx": base_model([external_tensor("W", "w.data", offset="12abc")]).SerializeToString(),
        "w.data": data}, "invalid external data offset", "offset is not a number"
    yield "external_no_location", {"model.onnx": base_model([external_tensor("W", None, offset=0)]).SerializeToString(),
                                   "w.data": data}, "no location", "external tensor without a location"

    cyclic = base_model([], nodes=[helper.make_node("Relu", ["b"], ["a"], name="first"),
                                   helper.make_node("Relu", ["a"], ["b"], name="second"),
                                   helper.make_node("Add", ["X", "a"], ["Y"], name="add")])
    yield "cyclic_graph", {"model.onnx": cyclic.SerializeToString()}, "cycle", \
        "first and second feed each other (loads; validation refuses it)"

    yield "nested_if_200", {"model.onnx": nested_if(200)}, "deeper than 64", \
        "200 levels of If subgraphs"

    no_graph_attr = base_model([], nodes=[onnx.NodeProto(op_type="If", input=["cond"], output=["Y"],
                                                         attribute=[onnx.AttributeProto(
                                                             name="then_branch", type=onnx.AttributeProto.GRAPH)])])
    yield "attribute_without_value", {"model.onnx": no_graph_attr.SerializeToString()}, "no value", \
        "a GRAPH attribute with no graph"

    # Files that are not regular files, text fields too long to hold three times in memory.
    yield "fifo_model", {"model.onnx": good}, "FIFO", "model.onnx is a FIFO with no writer (an open would block forever)", \
        {"fifos": ["model.onnx"]}
    yield "external_fifo", {"model.onnx": base_model([external_tensor("W", "w.data")]).SerializeToString(),
                            "w.data": data}, \
        "FIFO", "the external data file is a FIFO", {"fifos": ["w.data"]}
    yield "huge_doc_string", {"model.onnx": good}, "more than the 16777216 accepted", \
        "a 17 MiB ModelProto.doc_string (protobuf-c and the IR would each copy it)", \
        {"append_doc_string": 17 << 20}

    # Model folders: companions that lead out of the folder, checkpoints that lie.
    yield "companion_symlink_outside", {"model.onnx": good, "tokenizer.json": ("symlink", "/etc/passwd")}, \
        "outside the model folder", "a workflow's input folder whose tokenizer.json links to /etc/passwd", \
        {"workflow": True}
    hf = llama_checkpoint()
    yield "hf_tokenizer_symlink_outside", {**hf, "tokenizer.json": ("symlink", "/etc/passwd")}, \
        "outside the model folder", "a checkpoint whose tokenizer.json links to /etc/passwd", \
        {"command": ["inspect", "{in}"]}
    yield "hf_config_fifo", hf, "FIFO", \
        "a checkpoint whose config.json is a FIFO", {"command": ["inspect", "{in}"], "fifos": ["config.json"]}
    yield "hf_rope_theta_zero", llama_checkpoint(rope_theta=0), "'rope_theta' is 0", \
        "rope_theta 0 would write NaN rotary caches", {"command": CONVERT}
    yield "hf_norm_eps_string", llama_checkpoint(rms_norm_eps="x"), "'rms_norm_eps' must be a number", \
        "a norm epsilon that is not a number", {"command": CONVERT}
    yield "hf_eos_negative", llama_checkpoint(eos_token_id=-1), "'eos_token_id' holds -1", \
        "an end-of-sequence token id of -1", {"command": CONVERT}
    yield "hf_heads_not_dividing", llama_checkpoint(num_attention_heads=3, num_key_value_heads=3), \
        "not a multiple of num_attention_heads", "hidden size 8 with 3 heads", {"command": CONVERT}
    yield "gguf_four_bytes", {"model.gguf": b"GGUF"}, "truncated", "a GGUF file that ends after its magic", \
        {"command": ["inspect", "{in}/model.gguf"]}

    # Workflow configs.
    yield "yaml_deep_nesting", {"config.yaml": b"[" * 100_000 + b"]" * 100_000 + b"\n"}, "nested too deeply", \
        "100 000 nested flow sequences (the YAML loader took a minute before refusing them)", \
        {"command": ["run", "--config", "{in}/config.yaml"]}


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    manifest = {}
    for name, files, phrase, why, *extra in cases():
        folder = os.path.join(OUT, name)
        os.makedirs(folder)
        for fname, content in files.items():
            path = os.path.join(folder, fname)
            if isinstance(content, tuple):
                os.symlink(content[1], path)
            else:
                with open(path, "wb") as f:
                    f.write(content)
        manifest[name] = {"error": phrase, "why": why, **(extra[0] if extra else {})}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(manifest)} cases to {OUT}")


if __name__ == "__main__":
    main()
