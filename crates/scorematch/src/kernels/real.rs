//! The float types the kernels compute in (f32 for training, f64 for tests against finite
//! differences), with the few functions they need.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// f32 or f64: what the host kernels compute in.
pub trait Real:
    Copy
    + Default
    + Debug
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// The smallest positive normal number.
    const MIN_POSITIVE: Self;

    /// The nearest value of this type.
    fn from_f64(v: f64) -> Self;
    /// The value as an f64 (exact).
    fn to_f64(self) -> f64;
    /// eˣ: a vectorisable polynomial for f32 (within 1 ulp, see [`exp_f32`]), the standard
    /// library's for f64.
    fn exp(self) -> Self;
    /// ln x.
    fn ln(self) -> Self;
    /// ln(1 + x).
    fn ln_1p(self) -> Self;
    /// tanh x.
    fn tanh(self) -> Self;
    /// √x.
    fn sqrt(self) -> Self;
    /// self · a + b with one rounding (fast only where the CPU has FMA).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const MIN_POSITIVE: Self = f32::MIN_POSITIVE;

    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f32::ln(self)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        f32::ln_1p(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f32::tanh(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const MIN_POSITIVE: Self = f64::MIN_POSITIVE;

    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
}

/// eˣ in f32 without branches or library calls, so that loops over it vectorise: Cody–Waite
/// range reduction x = n ln 2 + r, |r| ≤ ½ ln 2, and the degree-7 polynomial of Cephes'
/// `expf` for eʳ (evaluated by Estrin's scheme, for a short dependency chain), scaled by 2ⁿ
/// through the exponent bits. Fused multiply-adds are exactly rounded, so every CPU gets the
/// same bits (fast where the CPU has FMA, see [`super::vectorized`]). Within 1 ulp;
/// arguments are clamped to [−87.34, 88.38] (results from the smallest normal number to
/// 2.4·10³⁸); NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split into a part with few mantissa bits (n·LN2_HI is exact) and the rest.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds to an integer, which then sits in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    const SHIFT_BITS: i32 = 0x4B40_0000;
    let x = x.clamp(-87.336_55, 88.376_26);
    let t = x.mul_add(LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let r2 = r * r;
    let p01 = r.mul_add(1.666_666_5e-1, 0.5);
    let p23 = r.mul_add(8.333_452e-3, 4.166_579_6e-2);
    let p45 = r.mul_add(1.987_569_1e-4, 1.398_199_9e-3);
    let p = r2.mul_add(r2.mul_add(p45, p23), p01);
    let er = p.mul_add(r2, r + 1.0);
    let k = (t.to_bits() as i32).wrapping_sub(SHIFT_BITS);
    let scale = f32::from_bits((k.wrapping_add(127) << 23) as u32);
    er * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_one_ulp_over_its_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = f64::from(exp_f32(x));
            let want = f64::from(x).exp();
            // Relative error in units of the f32 ulp at `want`.
            let ulp = f64::from(f32::EPSILON) * want;
            worst = worst.max((got - want).abs() / ulp);
            x += 0.000_37;
        }
        assert!(worst <= 1.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(-1e4) > 0.0 && exp_f32(-1e4) < 1.2e-38);
        assert!(exp_f32(1e4).is_finite() && exp_f32(1e4) > 1e38);
    }
}
