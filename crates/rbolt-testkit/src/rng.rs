//! The one random generator of all test code: SplitMix64, so every generated case is
//! reproducible from one printed `u64` seed, with no dependency whose stream could change
//! between versions (a printed seed must replay the same case after any upgrade).

/// SplitMix64: fast, full-period, good enough to drive test workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `0..n` as a `usize`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p` (0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }

    /// Shuffles `v` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
    }

    /// Uniform over an integer range (`a..b`, `a..=b`; not empty).
    pub fn random_range<T: RangeInt>(&mut self, r: impl std::ops::RangeBounds<T>) -> T {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let lo = match r.start_bound() {
            Included(&x) => x.to_u64(),
            Excluded(&x) => x.to_u64() + 1,
            Unbounded => T::MIN,
        };
        let hi = match r.end_bound() {
            Included(&x) => x.to_u64(),
            Excluded(&x) => x
                .to_u64()
                .checked_sub(1)
                .expect("random_range: empty range"),
            Unbounded => T::MAX,
        };
        assert!(lo <= hi, "random_range: empty range");
        let v = match (hi - lo).checked_add(1) {
            Some(n) => lo + self.below(n),
            None => self.next_u64(),
        };
        T::from_u64(v)
    }

    /// True with probability `p` (0..=1).
    pub fn random_bool(&mut self, p: f64) -> bool {
        self.chance(p)
    }

    /// A random value of a type that has one (integers, `bool`, byte arrays).
    pub fn random<T: Random>(&mut self) -> T {
        T::random(self)
    }

    /// Fills `buf` with random bytes.
    pub fn fill_bytes(&mut self, buf: &mut [u8]) {
        self.fill(buf);
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.index(v.len())]
    }
}

/// Integers [`Rng::random_range`] draws from, mapped to `u64` in order.
pub trait RangeInt: Copy {
    /// The smallest value, mapped.
    const MIN: u64;
    /// The largest value, mapped.
    const MAX: u64;
    /// Maps to `u64`, keeping order.
    fn to_u64(self) -> u64;
    /// The inverse of `to_u64`.
    fn from_u64(v: u64) -> Self;
}

macro_rules! range_uint {
    ($($t:ty),*) => {$(
        impl RangeInt for $t {
            const MIN: u64 = 0;
            const MAX: u64 = <$t>::MAX as u64;
            fn to_u64(self) -> u64 {
                self as u64
            }
            fn from_u64(v: u64) -> Self {
                v as $t
            }
        }
    )*};
}
range_uint!(u8, u16, u32, u64, usize);

// Signed values are offset by 2^63 so that order survives the mapping.
macro_rules! range_sint {
    ($($t:ty),*) => {$(
        impl RangeInt for $t {
            const MIN: u64 = (<$t>::MIN as i64 as u64) ^ (1 << 63);
            const MAX: u64 = (<$t>::MAX as i64 as u64) ^ (1 << 63);
            fn to_u64(self) -> u64 {
                (self as i64 as u64) ^ (1 << 63)
            }
            fn from_u64(v: u64) -> Self {
                (v ^ (1 << 63)) as i64 as $t
            }
        }
    )*};
}
range_sint!(i8, i16, i32, i64, isize);

/// Types [`Rng::random`] can make.
pub trait Random {
    /// A uniformly random value.
    fn random(r: &mut Rng) -> Self;
}

macro_rules! random_int {
    ($($t:ty),*) => {$(
        impl Random for $t {
            fn random(r: &mut Rng) -> Self {
                r.next_u64() as $t
            }
        }
    )*};
}
random_int!(u8, u16, u32, u64, usize);

impl Random for bool {
    fn random(r: &mut Rng) -> Self {
        r.next_u64() & 1 == 1
    }
}

impl<const N: usize> Random for [u8; N] {
    fn random(r: &mut Rng) -> Self {
        let mut a = [0u8; N];
        r.fill(&mut a);
        a
    }
}

/// A seed for a test that explores: `RBOLT_SEED` if set, else a fresh one from the OS's
/// hash randomisation. Callers print it so a failure can be replayed.
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    match std::env::var("RBOLT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => s,
        None => std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish(),
    }
}

/// Reads a count from the environment, falling back to `default` (for soak-sized runs).
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The base seed for a test: `RBOLT_SEED` if set, else `default` (so CI runs are repeatable
/// and a soak can be pointed at new territory).
pub fn env_seed(default: u64) -> u64 {
    env_count("RBOLT_SEED", default)
}
