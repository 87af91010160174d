//! Multiple-comparison corrections of p-values.
//!
//! Each function returns adjusted p-values in the input order, capped at 1,
//! matching statsmodels' `multipletests` with `method` `"bonferroni"`,
//! `"holm"` and `"fdr_bh"`. Inputs are expected to be p-values in `[0, 1]`.

use std::fmt;
use std::str::FromStr;

use crate::error::StatsError;

/// A multiple-comparison correction method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Bonferroni: controls the family-wise error rate.
    Bonferroni,
    /// Holm's step-down method: controls the family-wise error rate, uniformly
    /// more powerful than Bonferroni.
    Holm,
    /// Benjamini–Hochberg step-up method: controls the false discovery rate.
    BenjaminiHochberg,
}

impl Correction {
    /// Adjusts `p` with this method (see [`bonferroni`], [`holm`], [`benjamini_hochberg`]).
    pub fn adjust(&self, p: &[f64]) -> Vec<f64> {
        match self {
            Self::Bonferroni => bonferroni(p),
            Self::Holm => holm(p),
            Self::BenjaminiHochberg => benjamini_hochberg(p),
        }
    }
}

impl FromStr for Correction {
    type Err = StatsError;

    /// Parses `"bonferroni"`, `"holm"`, `"bh"` or `"benjamini-hochberg"`,
    /// ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bonferroni" => Ok(Self::Bonferroni),
            "holm" => Ok(Self::Holm),
            "bh" | "benjamini-hochberg" => Ok(Self::BenjaminiHochberg),
            _ => Err(StatsError::UnknownCorrection(s.to_owned())),
        }
    }
}

impl Correction {
    /// The canonical short name: `bonferroni`, `holm` or `bh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bonferroni => "bonferroni",
            Self::Holm => "holm",
            Self::BenjaminiHochberg => "bh",
        }
    }
}

impl fmt::Display for Correction {
    /// Writes [`Correction::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bonferroni-adjusted p-values: `min(1, p * m)` for `m` tests.
pub fn bonferroni(p: &[f64]) -> Vec<f64> {
    let m = p.len() as f64;
    p.iter().map(|&v| (v * m).min(1.0)).collect()
}

/// Holm step-down adjusted p-values: the running maximum of `(m - k) * p_(k)`
/// over the ascending p-values (`k` from 0), capped at 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (k, &i) in ascending_order(p).iter().enumerate() {
        running = running.max(p[i] * (m - k) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// Benjamini–Hochberg step-up adjusted p-values: the running minimum, from the
/// largest p-value down, of `p_(k) * m / (k + 1)` (`k` from 0), capped at 1.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running = f64::INFINITY;
    for (k, &i) in ascending_order(p).iter().enumerate().rev() {
        running = running.min(p[i] / ((k + 1) as f64 / m as f64));
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// Indices of `p` ordered by ascending value.
fn ascending_order(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for c in [
            Correction::Bonferroni,
            Correction::Holm,
            Correction::BenjaminiHochberg,
        ] {
            assert_eq!(c.to_string().parse::<Correction>(), Ok(c));
        }
        assert_eq!(
            "Benjamini-Hochberg".parse(),
            Ok(Correction::BenjaminiHochberg)
        );
        assert_eq!(Correction::BenjaminiHochberg.to_string(), "bh");
        assert_eq!(
            "fdr".parse::<Correction>(),
            Err(StatsError::UnknownCorrection("fdr".into()))
        );
    }

    #[test]
    fn adjust_dispatches() {
        let p = [0.01, 0.04, 0.03];
        assert_eq!(Correction::Bonferroni.adjust(&p), bonferroni(&p));
        assert_eq!(Correction::Holm.adjust(&p), holm(&p));
        assert_eq!(
            Correction::BenjaminiHochberg.adjust(&p),
            benjamini_hochberg(&p)
        );
    }

    #[test]
    fn empty_input() {
        assert!(bonferroni(&[]).is_empty());
        assert!(holm(&[]).is_empty());
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn hand_computed() {
        let p = [0.01, 0.04, 0.03, 0.5];
        assert_eq!(bonferroni(&p), [0.04, 0.16, 0.12, 1.0]);
        // Holm: sorted 0.01*4, 0.03*3, 0.04*2, 0.5*1 -> 0.04, 0.09, 0.09 (monotone), 0.5.
        let h = holm(&p);
        for (x, y) in h.iter().zip([0.04, 0.09, 0.09, 0.5]) {
            assert!((x - y).abs() < 1e-15);
        }
        // BH: sorted 0.01*4/1, 0.03*4/2, 0.04*4/3, 0.5*4/4 -> 0.04, 0.06, 0.0533.., 0.5.
        let bh = benjamini_hochberg(&p);
        for (x, y) in bh.iter().zip([0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5]) {
            assert!((x - y).abs() < 1e-15);
        }
    }
}
