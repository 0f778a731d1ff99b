"""The model part of the tokenizer fixtures' GGUFs: one block of width 8, an embedding table and
an output norm, enough for a reader to accept the file. The make_*_fixture.py scripts next to
this file import it (Python puts a script's own folder on its import path)."""
import gguf
import numpy as np


def tiny_writer(path, arch):
    """A GGUFWriter for `path` holding the tiny model's {arch}.* metadata; tokenizer keys follow."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_feed_forward_length(16)
    w.add_context_length(64)
    w.add_layer_norm_rms_eps(1e-6)
    return w


def finish(w, token_embd):
    """Adds the embedding table ([vocab, 8]) and the output norm, writes the file and closes it."""
    w.add_tensor("token_embd.weight", token_embd)
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
