//! Latency percentiles and ranking metrics (nDCG, recall), kept free of I/O so they can be unit-tested.

use std::collections::HashMap;
use std::time::Duration;

/// Latency summary of one query class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// Sequential, single-threaded: count / sum of latencies.
    pub qps: f64,
}

/// Nearest-rank percentile (`q` in 0..=100) of sorted samples.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarize(samples: &[Duration]) -> Summary {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let total: f64 = ms.iter().sum();
    Summary {
        count: ms.len(),
        p50_ms: percentile(&ms, 50.0),
        p95_ms: percentile(&ms, 95.0),
        p99_ms: percentile(&ms, 99.0),
        mean_ms: if ms.is_empty() { 0.0 } else { total / ms.len() as f64 },
        qps: if total > 0.0 {
            ms.len() as f64 / (total / 1e3)
        } else {
            0.0
        },
    }
}

/// nDCG@k with gain 2^grade − 1 and log2(rank + 1) discount; unjudged results count as grade 0.
/// The ideal ranking is the judgments sorted by grade. A query without any positive judgment scores 0.
pub fn ndcg_at(ranked: &[String], judgments: &HashMap<String, u8>, k: usize) -> f64 {
    let gain = |grade: u8| f64::from((1u32 << grade) - 1);
    let discount = |i: usize| ((i + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| gain(judgments.get(id).copied().unwrap_or(0)) / discount(i))
        .sum();
    let mut ideal: Vec<u8> = judgments.values().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / discount(i))
        .sum();
    // (a float sum of nothing is -0.0)
    if idcg == 0.0 || dcg <= 0.0 { 0.0 } else { dcg / idcg }
}

/// Recall@k, capped: the relevant services (grade ≥ `min_grade`) found in the top k, over the most that fit in
/// k (`min(k, relevant)`), so that a query with more relevant services than k can still reach 1.
pub fn recall_at(ranked: &[String], judgments: &HashMap<String, u8>, k: usize, min_grade: u8) -> f64 {
    let relevant = judgments.values().filter(|g| **g >= min_grade).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|id| judgments.get(*id).is_some_and(|g| *g >= min_grade))
        .count();
    found as f64 / relevant.min(k) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, u8)]) -> HashMap<String, u8> {
        pairs.iter().map(|(id, g)| (id.to_string(), *g)).collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ideal_ranking_scores_one_and_empty_scores_zero() {
        let j = judged(&[("a", 3), ("b", 2), ("c", 1), ("z", 0)]);
        assert!((ndcg_at(&ids(&["a", "b", "c"]), &j, 10) - 1.0).abs() < 1e-12);
        assert_eq!(ndcg_at(&[], &j, 10), 0.0);
        assert_eq!(ndcg_at(&ids(&["a"]), &judged(&[("a", 0)]), 10), 0.0);
    }

    #[test]
    fn ndcg_matches_hand_computation() {
        // ranking b(2), x(0), a(3): dcg = 3/log2(2) + 0 + 7/log2(4) = 3 + 3.5 = 6.5
        // ideal a(3), b(2): idcg = 7/1 + 3/log2(3)
        let j = judged(&[("a", 3), ("b", 2)]);
        let expected = 6.5 / (7.0 + 3.0 / 3f64.log2());
        assert!((ndcg_at(&ids(&["b", "x", "a"]), &j, 10) - expected).abs() < 1e-12);
        // cut at k = 2 drops a
        let expected_k2 = 3.0 / (7.0 + 3.0 / 3f64.log2());
        assert!((ndcg_at(&ids(&["b", "x", "a"]), &j, 2) - expected_k2).abs() < 1e-12);
    }

    #[test]
    fn recall_counts_only_relevant_in_top_k() {
        let j = judged(&[("a", 3), ("b", 2), ("c", 1), ("d", 2)]);
        // relevant (≥2): a, b, d; top 2 holds a and c → 1 of the 2 that fit
        assert_eq!(recall_at(&ids(&["a", "c", "b"]), &j, 2, 2), 0.5);
        assert_eq!(recall_at(&ids(&["a", "b", "c"]), &j, 2, 2), 1.0);
        assert_eq!(recall_at(&ids(&["a", "b", "d"]), &j, 5, 2), 1.0);
        assert_eq!(recall_at(&ids(&["a"]), &judged(&[("a", 1)]), 5, 2), 0.0);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        let s = summarize(&[Duration::from_millis(2), Duration::from_millis(2)]);
        assert!((s.qps - 500.0).abs() < 1e-6);
    }
}
