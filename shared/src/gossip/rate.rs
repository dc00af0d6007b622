//! A token bucket per neighbour: each accepted message costs one token; tokens
//! refill at `rate` per second up to `burst`. Time is passed in (milliseconds), so
//! the simulation drives it too.

/// A token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    last_ms: u64,
}

/// How fast buckets refill and how much they hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now_ms: u64) -> Self {
        Bucket {
            tokens: limit.burst,
            last_ms: now_ms,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, limit: RateLimit, now_ms: u64) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limit = RateLimit {
            rate: 10.0,
            burst: 5.0,
        };
        let mut bucket = Bucket::new(limit, 0);
        let first = (0..100).filter(|_| bucket.take(limit, 0)).count();
        assert_eq!(first, 5);
        assert_eq!((0..100).filter(|_| bucket.take(limit, 300)).count(), 3);
        assert_eq!((0..100).filter(|_| bucket.take(limit, 60_000)).count(), 5);
    }
}
