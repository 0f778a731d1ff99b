"""GPTQ for one linear layer written from the paper's algorithm (Frantar et al. 2022, Alg. 1)
in the order AutoGPTQ's gptq.py runs it (add_batch, fasterquant, Quantizer.find_params), in
numpy float32. Test-only: the reference the gptq pass is checked against. It was not recorded
with torch (no torch in the test environment); it follows AutoGPTQ's steps one for one."""

import numpy as np

f32 = np.float32


def hessian(batches):
    """AutoGPTQ's add_batch over `batches` of inputs ([batch, seq, k] or [rows, k])."""
    h, n = None, 0
    for x in batches:
        x = np.asarray(x, f32)
        tmp = x.shape[0] if x.ndim >= 3 else 1
        x = x.reshape(-1, x.shape[-1]).T
        if h is None:
            h = np.zeros((x.shape[0], x.shape[0]), f32)
        h *= f32(n / (n + tmp))
        n += tmp
        x = f32(np.sqrt(2 / n)) * x
        h += x @ x.T
    return h


def find_params(x, bits, sym):
    maxq = f32(2 ** bits - 1)
    xmin = np.minimum(x.min(1), f32(0))
    xmax = np.maximum(x.max(1), f32(0))
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        neg = xmin < 0
        xmin[neg] = -xmax[neg]
    both = (xmin == 0) & (xmax == 0)
    xmin[both] = f32(-1)
    xmax[both] = f32(1)
    scale = ((xmax - xmin) / maxq).astype(f32)
    zero = np.full_like(scale, (maxq + 1) / 2) if sym else np.round(-xmin / scale).astype(f32)
    return scale, zero


def gptq(w, h, bits=4, group_size=128, sym=False, damp=0.01, desc_act=False, static_groups=False, blocksize=128):
    """w: [out, in] float32 (a Linear's weight), h: [in, in]. Returns codes [out, in],
    scales and zeros [out, groups] and g_idx [in], as AutoGPTQ would pack them."""
    w = np.array(w, f32)
    h = np.array(h, f32)
    cols = w.shape[1]
    maxq = f32(2 ** bits - 1)
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    groups = []
    if static_groups:
        for i in range(0, cols, group_size):
            groups.append(find_params(w[:, i:i + group_size], bits, sym))
    perm = np.arange(cols)
    if desc_act:
        perm = np.argsort(-np.diag(h), kind="stable")
        w = w[:, perm]
        h = h[perm][:, perm]
    invperm = np.argsort(perm)
    dmp = f32(damp) * f32(np.mean(np.diag(h), dtype=np.float64))
    h[np.arange(cols), np.arange(cols)] += dmp
    # The upper Cholesky factor of H^-1 (AutoGPTQ: cholesky, cholesky_inverse, cholesky upper),
    # computed in float64 and rounded once to float32: the factor itself, free of the rounding
    # of any one float32 route to it (routes differ by a code here and there at 8 bits).
    lower = np.linalg.cholesky(h.astype(np.float64))
    linv = np.linalg.inv(lower)
    hinv = np.linalg.cholesky(linv.T @ linv).T.astype(f32)
    q = np.zeros(w.shape, np.uint8)
    scales, zeros = [], []
    scale = zero = None
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].copy()
        err1 = np.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            if not static_groups:
                if col % group_size == 0:
                    scale, zero = find_params(w[:, col:col + group_size], bits, sym)
                    scales.append(scale)
                    zeros.append(zero)
            else:
                scale, zero = groups[perm[col] // group_size]
            x = w1[:, i]
            code = np.clip(np.round(x / scale) + zero, 0, maxq)
            q[:, col] = code.astype(np.uint8)
            deq = scale * (code - zero)
            e = ((x - deq) / hinv1[i, i]).astype(f32)
            w1[:, i:] -= np.outer(e, hinv1[i, i:]).astype(f32)
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    if static_groups:
        scales = [s for s, _ in groups]
        zeros = [z for _, z in groups]
        g_idx = np.arange(cols) // group_size
    else:
        g_idx = (np.arange(cols) // group_size)[invperm]
    return q[:, invperm], np.stack(scales, 1), np.stack(zeros, 1), g_idx
