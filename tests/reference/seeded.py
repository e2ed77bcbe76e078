"""Deterministic weights that Lantern's tests regenerate bit for bit in Rust.

Each tensor of a state dict gets values from SplitMix64 over (FNV-1a(key) + index), scaled by
the tensor's role (He-scaled weights, small biases, BatchNorm statistics near identity).
tests/common/mod.rs implements the same generator.
"""
import numpy as np

MASK = (1 << 64) - 1


def fnv1a(key: str) -> int:
    h = 0xCBF29CE484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(key: str, n: int, seed: int) -> np.ndarray:
    """n values in [-1, 1) for this key."""
    base = (fnv1a(key) ^ seed) & MASK
    with np.errstate(over="ignore"):
        x = np.uint64(base) + np.arange(n, dtype=np.uint64)
    z = splitmix64(x)
    u = (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    return 2.0 * u - 1.0


def seeded_value(key: str, shape, seed: int) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(key, n, seed)
    if key.endswith("running_var"):
        v = 1.0 + 0.5 * u
    elif key.endswith("running_mean"):
        v = 0.1 * u
    elif key.endswith(".bias"):
        v = 0.1 * u
    elif len(shape) == 1:  # BatchNorm weight
        v = 1.0 + 0.2 * u
    else:
        fan_in = int(np.prod(shape[1:]))
        v = u * np.sqrt(3.0) * np.sqrt(2.0 / fan_in)
    return v.astype(np.float32).reshape(shape)


def seeded_state_dict(model, seed: int):
    import torch

    sd = model.state_dict()
    out = {}
    for key, t in sd.items():
        if t.dtype.is_floating_point:
            out[key] = torch.from_numpy(seeded_value(key, tuple(t.shape), seed))
        else:
            out[key] = t
    return out


def seeded_normal(key: str, n: int, seed: int) -> np.ndarray:
    """n standard-normal float32 values for this key (Box-Muller, cosine branch only).

    Built on uniform(key, 2 * n, seed). With base = (fnv1a(key) ^ seed) mod 2^64 and
    z_j = splitmix64(base + j) (wrapping u64 add), let v_j = (z_j >> 11) * 2^-53 in [0, 1)
    (exact in f64; uniform() returns 2 * v_j - 1, and (that + 1) / 2 recovers v_j exactly).
    For i in 0..n, all in f64:

        u1 = 1.0 - v_{2i}              in (0, 1]   (never 0, so ln is finite)
        u2 = v_{2i+1}                  in [0, 1)
        r  = sqrt(-2.0 * ln(u1))
        a  = (2.0 * pi) * u2           (2.0 * pi is the f64 constant 6.283185307179586)
        x_i = f32(r * cos(a))          (round-to-nearest cast to f32 at the very end)

    The sine branch is discarded, so value i uses exactly the two draws 2i and 2i + 1.
    """
    v = (uniform(key, 2 * n, seed) + 1.0) * 0.5
    u1 = 1.0 - v[0::2]
    u2 = v[1::2]
    r = np.sqrt(-2.0 * np.log(u1))
    a = (2.0 * np.pi) * u2
    return (r * np.cos(a)).astype(np.float32)
