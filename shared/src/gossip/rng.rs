//! A small seeded random number generator (SplitMix64), so the protocol state
//! machines make the same choices for the same seed and a simulation replays
//! exactly. Not for secrets.

/// SplitMix64: a 64-bit state stepped by a constant and mixed on output.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        let n = n as u64;
        // Multiply-shift keeps the bias below 2^-32 for the small n used here.
        usize::try_from(((self.next_u64() >> 32) * n) >> 32).unwrap_or(0)
    }

    /// A random element of `items`, if any.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    /// Up to `k` distinct elements of `items`, in random order.
    pub fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut indices: Vec<usize> = (0..items.len()).collect();
        let k = k.min(items.len());
        for i in 0..k {
            let j = i + self.below(indices.len() - i);
            indices.swap(i, j);
        }
        indices[..k].iter().map(|&i| items[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_choices_and_samples_are_distinct() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let items: Vec<u32> = (0..20).collect();
        let mut sample = a.sample(&items, 10);
        assert_eq!(sample, b.sample(&items, 10));
        sample.sort_unstable();
        sample.dedup();
        assert_eq!(sample.len(), 10);
        assert!((0..1000).all(|_| a.below(3) < 3));
        assert_eq!(a.sample(&items, 50).len(), 20);
    }
}
