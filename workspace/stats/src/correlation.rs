//! Correlation of paired samples: Pearson's r and Spearman's rank correlation ρ.

use crate::rank::average_ranks;

/// Pearson correlation of the finite pairs; `None` with fewer than 3 of them or when either
/// side has no spread.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// Spearman's rank correlation of the finite pairs: Pearson's r of their average ranks (ties
/// share the mean of their ranks, `scipy.stats.spearmanr`); `None` as for [`pearson`].
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .unzip();
    let (rx, ry) = (average_ranks(&x).ok()?, average_ranks(&y).ok()?);
    let ranked: Vec<(f64, f64)> = rx.into_iter().zip(ry).collect();
    pearson(&ranked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_pairs() {
        assert_eq!(
            pearson(&[(1.0, 2.0), (2.0, 4.0)]),
            None,
            "fewer than 3 pairs"
        );
        let r = pearson(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.5), (f64::NAN, 1.0)]).unwrap();
        assert!(r > 0.99 && r <= 1.0, "{r}");
        assert_eq!(
            pearson(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]),
            None,
            "no spread"
        );
    }

    #[test]
    fn spearman_matches_scipy() {
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233 (a tie).
        let pairs = [(1.0, 5.0), (2.0, 6.0), (3.0, 7.0), (4.0, 8.0), (5.0, 7.0)];
        assert!((spearman(&pairs).unwrap() - 0.820_782_681_668_123_3).abs() < 1e-12);
        // A monotone but non-linear relation has ρ = 1 and r < 1.
        let cubic: Vec<(f64, f64)> = (1..=6).map(|i| (i as f64, (i as f64).powi(3))).collect();
        assert!((spearman(&cubic).unwrap() - 1.0).abs() < 1e-12);
        assert!(pearson(&cubic).unwrap() < 0.99);
        // Reversed order: −1; n(n²−1) formula for [3, 1, 2] vs [1, 2, 3]: 1 − 6·6/24 = −0.5.
        assert!((spearman(&[(3.0, 1.0), (1.0, 2.0), (2.0, 3.0)]).unwrap() + 0.5).abs() < 1e-12);
    }
}
