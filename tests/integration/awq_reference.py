"""AWQ for the linear layers reading one input, written from the paper (Lin et al. 2023) in the
order AutoAWQ's quantizer runs it (pseudo_quantize_tensor, _search_best_scale /
_compute_best_scale with duo scaling, _compute_best_clip), in numpy float32. Test-only: the
reference the awq pass is checked against (not recorded with torch: none in the test
environment). Loss of the scale search: on the layers' own outputs."""

import numpy as np

f32 = np.float32


def group_params(w, bits, zero_point):
    """w: [groups, group_size] -> scales, zeros [groups, 1]."""
    if zero_point:
        mx, mn = w.max(1, keepdims=True), w.min(1, keepdims=True)
        max_int = f32(2 ** bits - 1)
        scales = (np.maximum(mx - mn, f32(1e-5)) / max_int).astype(f32)
        zeros = np.clip(-np.round(mn / scales), 0, max_int).astype(f32)
    else:
        scales = (np.abs(w).max(1, keepdims=True) / f32(2 ** (bits - 1) - 1)).astype(f32)
        zeros = np.zeros_like(scales)
    return scales, zeros


def pseudo_quantize(w, bits, group_size, zero_point):
    shape = w.shape
    g = w.reshape(-1, group_size)
    s, z = group_params(g, bits, zero_point)
    lo, hi = (0, 2 ** bits - 1) if zero_point else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    q = np.clip(np.round(g / s) + z, lo, hi)
    return ((q - z) * s).astype(f32).reshape(shape)


def codes(w, bits, group_size, zero_point):
    """The final codes (shifted to 0..2^bits-1 without zero points), scales and zeros per group."""
    n = w.shape[0]
    g = w.reshape(-1, group_size)
    s, z = group_params(g, bits, zero_point)
    lo, hi = (0, 2 ** bits - 1) if zero_point else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    q = np.clip(np.round(g / s) + z, lo, hi) + (0 if zero_point else 2 ** (bits - 1))
    return q.astype(np.uint8).reshape(w.shape), s.reshape(n, -1), z.reshape(n, -1)


def search_scale(ws, x, bits, group_size, zero_point, duo=True, n_grid=20):
    """ws: list of [out, in] weights reading x [tokens, in]."""
    weight = np.concatenate(ws, 0)
    g = np.abs(weight.reshape(-1, group_size))
    w_mean = (g / (g.max(1, keepdims=True) + f32(1e-6))).reshape(weight.shape).mean(0, dtype=np.float64).astype(f32)
    x_mean = (np.abs(x).astype(np.float64).sum(0) / x.shape[0]).astype(f32)
    ref = [x @ w.T for w in ws]
    best, best_loss, best_ratio = None, np.inf, -1
    for r in range(n_grid):
        ratio = f32(r / n_grid)
        if duo:
            s = x_mean ** ratio / (w_mean ** (f32(1) - ratio) + f32(1e-4))
        else:
            s = x_mean ** ratio
        s = np.maximum(s, f32(1e-4)).astype(f32)
        s = (s / np.sqrt(s.max() * s.min())).astype(f32)
        s[~np.isfinite(s)] = 1
        loss, count = 0.0, 0
        for w, y in zip(ws, ref):
            q = pseudo_quantize(w * s, bits, group_size, zero_point) / s
            d = y - x @ q.T
            loss += float((d.astype(np.float64) ** 2).sum())
            count += d.size
        loss /= count
        if loss < best_loss:
            best, best_loss, best_ratio = s.copy(), loss, ratio
    return best, best_ratio


def search_clip(w, x, bits, group_size, zero_point, n_grid=20, max_shrink=0.5, n_sample_token=512):
    """Clamped copy of w [out, in] for inputs x [tokens, in]."""
    step = max(1, x.shape[0] // n_sample_token)
    xf = x[::step].reshape(1, -1, x.shape[1] // group_size, group_size)
    wg = w.reshape(w.shape[0], 1, -1, group_size)
    org_max = np.abs(wg).max(-1, keepdims=True)
    best_max = org_max.copy()
    min_errs = np.full(org_max.shape, 1e9)
    xf = xf.astype(np.float64)  # errors in float64, as the pass sums them
    org_out = (xf * wg).sum(-1)
    for i in range(int(max_shrink * n_grid)):
        mx = (org_max * f32(1 - i / n_grid)).astype(f32)
        cur = np.clip(wg, -mx, mx)
        q = pseudo_quantize(cur, bits, group_size, zero_point)
        err = ((xf * q.astype(np.float64)).sum(-1) - org_out) ** 2
        err = err.mean(1).reshape(min_errs.shape)
        better = err < min_errs
        min_errs[better] = err[better]
        best_max[better] = mx[better]
    return np.clip(wg, -best_max, best_max).reshape(w.shape)
