"""Real models shipped in PyPI packages (Silero VAD with If subgraphs, Magika): a libolive
load/save round trip and the peephole pass must leave onnxruntime's outputs unchanged."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
import real_models  # noqa: E402

MODELS = real_models.model_paths()

# Inputs that the models need to take their real paths (Silero picks a branch on sr).
FEEDS = {
    'silero_vad': lambda rng: {
        'input': rng.standard_normal((1, 512)).astype(np.float32),
        'state': np.zeros((2, 1, 128), np.float32),
        'sr': np.array(16000, np.int64),
    },
    'magika': lambda rng: {
        'bytes': rng.integers(0, 256, (1, 2048)).astype(np.int32),
    },
}


def run(path, feeds):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


def tool(env_name):
    path = os.environ.get(env_name)
    if not path:
        pytest.skip(f'{env_name} is not set (run through meson test)')
    return path


def feeds_for(name, path):
    rng = np.random.default_rng(0)
    if name in FEEDS:
        feeds = FEEDS[name](rng)
        sess_inputs = {i.name: i for i in ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).get_inputs()}
        if set(feeds) >= set(sess_inputs):
            return feeds
    pytest.skip(f'no input recipe matches the inputs of {name}')


@pytest.mark.parametrize('name', sorted(real_models.MODELS))
@pytest.mark.parametrize('job', ['roundtrip', 'peephole'])
def test_real_model_outputs_unchanged(name, job, tmp_path):
    if name not in MODELS:
        pytest.skip(f'{name} is not installed (scripts/install-deps.sh installs it)')
    src = MODELS[name]
    out = tmp_path / 'model.onnx'
    if job == 'roundtrip':
        cmd = [tool('OLIVE_ROUNDTRIP'), str(src), str(out)]
    else:
        cmd = [tool('OLIVE_APPLY_PASS'), 'peephole', str(src), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    onnx.checker.check_model(str(out), full_check=True)
    feeds = feeds_for(name, src)
    want = run(src, feeds)
    got = run(out, feeds)
    assert len(want) == len(got)
    for w, g in zip(want, got):
        assert w.shape == g.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    if job == 'peephole':
        before = onnx.load(str(src), load_external_data=False)
        after = onnx.load(str(out), load_external_data=False)

        def count(g):
            n = len(g.node)
            for node in g.node:
                for a in node.attribute:
                    if a.type == onnx.AttributeProto.GRAPH:
                        n += count(a.g)
            return n
        assert count(after.graph) <= count(before.graph)
