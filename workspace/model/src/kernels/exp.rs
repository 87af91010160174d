//! `e^x` for `f32` in a form the compiler vectorises: Cephes' `expf` (range reduction by
//! `ln 2`, a degree-6 polynomial, the exponent set through the bits), within 2 ulp of the exact
//! value above [`EXP_MIN`] and flushed to 0 below it, where `e^x` is under 1.7e-38.

/// Below this `exp` returns 0 (`exp(-87) ≈ 1.6e-38`, just above the smallest normal `f32`).
const EXP_MIN: f32 = -87.0;
/// Above this `exp` returns infinity (the true value overflows only past 88.72).
const EXP_MAX: f32 = 88.3;

/// `e^x`: within 2 ulp above [`EXP_MIN`], 0 below it, infinity above [`EXP_MAX`], NaN for NaN.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n · LN2_HI is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    let c = x.clamp(EXP_MIN, EXP_MAX);
    let n = (c * LOG2_E).round_ties_even();
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, c));
    let p = P[1..].iter().fold(P[0], |acc, &k| acc.mul_add(r, k));
    let poly = (p * r).mul_add(r, r) + 1.0;
    // 2^n through its bits without a float-to-integer conversion (which does not vectorise):
    // n + 127 lies in [1, 254], and n + 2^23 + 127 carries it in its low mantissa bits.
    let two_n = f32::from_bits((n + 8_388_735.0).to_bits() << 23);
    let y = poly * two_n;
    if x < EXP_MIN {
        0.0
    } else if x > EXP_MAX {
        f32::INFINITY
    } else {
        // NaN fails both comparisons and propagates through `poly`.
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_2_ulp_of_exact() {
        let mut worst = 0;
        for i in 0..=2_000_000 {
            let x = EXP_MIN + (EXP_MAX - EXP_MIN) * i as f32 / 2e6;
            let want = f64::from(x).exp() as f32;
            worst = worst.max(ulps(exp(x), want));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn exp_knows_its_edges() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1.0e9), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert!(exp(EXP_MAX).is_finite());
        assert!(exp(f32::NAN).is_nan());
        assert!((exp(1.0) - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
    }
}
