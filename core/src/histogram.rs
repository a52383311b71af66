//! Latency histograms with fixed log-spaced buckets, shared by every rollup
//! so histograms merge by adding counts and percentiles never need raw rows.
//!
//! Bucket 0 holds [0, 1 ms); bucket i ≥ 1 holds [G^(i-1), G^i) ms with
//! G = 1.05, up to the last bucket, which holds everything from ~10 minutes
//! on. A percentile is reported as the geometric middle of its bucket, so
//! for latencies ≥ 1 ms it is within [`RELATIVE_ERROR_BOUND`] (√G − 1 ≈
//! 2.47%) of the exact nearest-rank value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const GROWTH: f64 = 1.05;
/// Enough buckets that the last lower bound passes 600,000 ms.
pub const BUCKETS: usize = 275;
/// Worst-case relative error of a reported percentile for latencies ≥ 1 ms.
pub const RELATIVE_ERROR_BOUND: f64 = 0.024_695_076_595_959_8;

/// The bucket of a latency in milliseconds.
pub fn bucket_of(latency_ms: f64) -> usize {
    // NaN and sub-millisecond latencies land in bucket 0.
    if latency_ms.is_nan() || latency_ms < 1.0 {
        return 0;
    }
    let i = (latency_ms.ln() / GROWTH.ln()).floor() as usize + 1;
    i.min(BUCKETS - 1)
}

/// `[low, high)` of bucket `i` in milliseconds.
pub fn bucket_bounds(i: usize) -> (f64, f64) {
    if i == 0 {
        (0.0, 1.0)
    } else {
        (GROWTH.powi(i as i32 - 1), GROWTH.powi(i as i32))
    }
}

/// The value reported for bucket `i`: its geometric middle.
pub fn bucket_value(i: usize) -> f64 {
    let (low, high) = bucket_bounds(i);
    if i == 0 {
        0.5
    } else {
        (low * high).sqrt()
    }
}

/// A sparse histogram: bucket → count.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Histogram {
    pub counts: BTreeMap<usize, u64>,
}

impl Histogram {
    pub fn add(&mut self, latency_ms: f64) {
        *self.counts.entry(bucket_of(latency_ms)).or_default() += 1;
    }

    pub fn add_bucket(&mut self, bucket: usize, count: u64) {
        *self.counts.entry(bucket.min(BUCKETS - 1)).or_default() += count;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, c) in &other.counts {
            self.add_bucket(*b, *c);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The nearest-rank `q` quantile (rank ⌈q·n⌉), as its bucket's value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.total();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Some(bucket_value(*bucket));
            }
        }
        None
    }

    /// Mean and sample variance from bucket values (for Welch's test).
    pub fn moments(&self) -> Option<(f64, f64, u64)> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let sum: f64 = self.counts.iter().map(|(b, c)| bucket_value(*b) * *c as f64).sum();
        let mean = sum / n as f64;
        let ss: f64 = self
            .counts
            .iter()
            .map(|(b, c)| (bucket_value(*b) - mean).powi(2) * *c as f64)
            .sum();
        let var = if n > 1 { ss / (n - 1) as f64 } else { 0.0 };
        Some((mean, var, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_zero_to_ten_minutes_and_beyond() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(0.99), 0);
        assert_eq!(bucket_of(1.0), 1);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert!(bucket_bounds(BUCKETS - 1).0 > 600_000.0);
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
        for ms in [1.0, 3.7, 120.0, 999.9, 45_000.0] {
            let (low, high) = bucket_bounds(bucket_of(ms));
            assert!(low <= ms && ms < high * (1.0 + 1e-12), "{ms} not in [{low}, {high})");
        }
        assert!((RELATIVE_ERROR_BOUND - (GROWTH.sqrt() - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn percentiles_are_within_the_bound_of_exact_values() {
        let mut state: u64 = 42;
        let mut samples = Vec::new();
        let mut h = Histogram::default();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Log-uniform between 1 ms and ~20 s.
            let ms = (((state % 1_000_000) as f64 / 1_000_000.0) * 10.0).exp() * 1.0;
            samples.push(ms);
            h.add(ms);
        }
        samples.sort_by(f64::total_cmp);
        for q in [0.5, 0.95, 0.99] {
            let exact = samples[((q * samples.len() as f64).ceil() as usize) - 1];
            let est = h.quantile(q).unwrap();
            assert!(
                (est - exact).abs() / exact <= RELATIVE_ERROR_BOUND + 1e-9,
                "q{q}: {est} vs {exact}"
            );
        }
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.add(10.0);
        b.add(10.0);
        b.add(500.0);
        a.merge(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(a.counts[&bucket_of(10.0)], 2);
        assert!(Histogram::default().quantile(0.5).is_none());
    }
}
