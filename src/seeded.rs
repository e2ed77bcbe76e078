//! Deterministic pseudo-random numbers: keyed by name, identical in Rust and in the NumPy
//! reference scripts (`tests/reference/seeded.py`): SplitMix64 (Steele, Lea & Flood, OOPSLA 2014)
//! over `(FNV-1a(key) ^ seed) + i`, used for seeded weights and SmoothGrad noise; and a sequential
//! [`Rng`] for the procedural dataset and RISE's masks.

/// 64-bit FNV-1a hash of a string.
pub fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// SplitMix64's output function of state `x` (after its increment).
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 of `x`: the increment by the golden gamma, then [`mix`].
pub fn splitmix64(x: u64) -> u64 {
    mix(x.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

/// The `i`-th uniform of stream `(key, seed)` in `[0, 1)`, with 53 bits.
pub fn unit(key_hash: u64, seed: u64, i: u64) -> f64 {
    (splitmix64((key_hash ^ seed).wrapping_add(i)) >> 11) as f64 * 2f64.powi(-53)
}

/// `n` uniforms in `[-1, 1)` for `key`.
pub fn uniform(key: &str, n: usize, seed: u64) -> Vec<f64> {
    let h = fnv1a(key);
    (0..n as u64).map(|i| 2.0 * unit(h, seed, i) - 1.0).collect()
}

/// `n` standard normals for `key` (Box-Muller, cosine branch): value `i` uses uniforms `2i` and
/// `2i + 1` as `u1 = 1 - v_2i`, `u2 = v_2i+1`, `sqrt(-2 ln u1) * cos(2 pi u2)`, in `f64`, then `f32`.
pub fn normal(key: &str, n: usize, seed: u64) -> Vec<f32> {
    let h = fnv1a(key);
    (0..n as u64)
        .map(|i| {
            let u1 = 1.0 - unit(h, seed, 2 * i);
            let u2 = unit(h, seed, 2 * i + 1);
            ((-2.0 * u1.ln()).sqrt() * ((2.0 * std::f64::consts::PI) * u2).cos()) as f32
        })
        .collect()
}

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for item `index` of stream `seed`, independent of other items.
    pub fn for_item(seed: u64, index: u64) -> Self {
        let mut r = Self(seed ^ 0xD1B5_4A32_D192_ED03);
        r.0 = r.0.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        crate::seeded::mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.f32().max(1e-7);
        let u2 = self.f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_are_standard() {
        let v = normal("x", 20_000, 3);
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        assert_eq!(normal("x", 3, 3), normal("x", 3, 3));
    }

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::for_item(7, 3);
        let mut b = Rng::for_item(7, 3);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::for_item(7, 3).next_u64(), Rng::for_item(7, 4).next_u64());
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.f32();
            assert!((0.0..1.0).contains(&v));
            assert!(r.below(5) < 5);
        }
        let mean: f32 = (0..10_000).map(|_| r.normal()).sum::<f32>() / 10_000.0;
        assert!(mean.abs() < 0.05);
    }
}
