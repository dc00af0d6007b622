//! A smoothed delay and its deviation, as TCP estimates its round trip (RFC 6298):
//! each sample moves the mean by 1/8 of the error and the deviation by 1/4, and
//! `mean + 4 × deviation` is a bound that few samples exceed. Plumtree uses it for
//! how late eager copies come after their IHAVE, and for each link's round trip.

/// A running estimate of a delay in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    mean: f64,
    dev: f64,
    samples: u64,
}

impl Estimate {
    /// Adds one measured delay.
    pub fn sample(&mut self, ms: f64) {
        if self.samples == 0 {
            self.mean = ms;
            self.dev = ms / 2.0;
        } else {
            self.dev = 0.75 * self.dev + 0.25 * (self.mean - ms).abs();
            self.mean = 0.875 * self.mean + 0.125 * ms;
        }
        self.samples += 1;
    }

    /// `mean + 4 × deviation`, once there is a sample.
    pub fn bound(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.mean + 4.0 * self.dev)
    }

    /// The smoothed mean, once there is a sample.
    pub fn mean(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.mean)
    }

    /// How many samples it has seen.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

/// `bound` in whole milliseconds, kept within `floor..=ceiling` (`floor` when none).
pub fn clamp_ms(bound: Option<f64>, floor: u64, ceiling: u64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    bound.map_or(floor, |b| {
        (b.ceil().max(0.0) as u64).clamp(floor, ceiling.max(floor))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_follows_the_samples_and_their_spread() {
        let mut e = Estimate::default();
        assert_eq!(e.bound(), None);
        assert_eq!(
            clamp_ms(e.bound(), 80, 2000),
            80,
            "the floor with no sample"
        );
        for _ in 0..100 {
            e.sample(10.0);
        }
        assert!((e.mean().unwrap() - 10.0).abs() < 0.01);
        assert!(e.bound().unwrap() < 11.0, "steady samples: a tight bound");
        for i in 0..100 {
            e.sample(if i % 2 == 0 { 100.0 } else { 300.0 });
        }
        let b = e.bound().unwrap();
        assert!(
            b > 300.0 && b < 1000.0,
            "spread samples: a wide bound ({b})"
        );
        assert_eq!(clamp_ms(Some(5000.0), 80, 2000), 2000);
        assert_eq!(clamp_ms(Some(3.2), 80, 2000), 80);
        assert_eq!(clamp_ms(Some(120.2), 80, 2000), 121);
    }
}
