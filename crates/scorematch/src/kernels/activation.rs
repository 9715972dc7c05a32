//! Pointwise activations with their first, second and third derivatives, as inlined scalar
//! functions that loops over slices vectorise (the third is what the energy network's
//! Hessian terms need in reverse mode).

use super::Real;
#[cfg(test)]
use crate::model::Activation;

/// One activation: f(z), f′(z), f″(z) and f‴(z).
pub(crate) trait Act {
    /// (f, f′).
    fn value_slope<T: Real>(z: T) -> (T, T);
    /// (f, f′, f″).
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T);
    /// (f, f′, f″, f‴).
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T);
}

/// z·σ(z).
pub(crate) struct Silu;
/// log(1 + eᶻ).
pub(crate) struct Softplus;
/// tanh z.
pub(crate) struct Tanh;
/// z for z > 0, eᶻ − 1 otherwise.
pub(crate) struct Elu;
/// max(z, 0).
pub(crate) struct Relu;

/// (σ(z), 1 − σ(z)) with σ(z) = 1 / (1 + e^{−z}); 1 − σ is computed as e^{−z} σ(z), which
/// keeps its relative precision for large z.
#[inline(always)]
fn logistic<T: Real>(z: T) -> (T, T) {
    let e = (-z).exp();
    let s = T::ONE / (T::ONE + e);
    (s, e * s)
}

impl Act for Silu {
    #[inline(always)]
    fn value_slope<T: Real>(z: T) -> (T, T) {
        let (s, r) = logistic(z);
        let f = z * s;
        // f′ = σ(1 + z(1 − σ)) = σ + f(1 − σ)
        (f, f.mul_add(r, s))
    }
    #[inline(always)]
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T) {
        let (s, r) = logistic(z);
        let f = z * s;
        let two = T::ONE + T::ONE;
        // f″ = σ(1 − σ)(2 + z(1 − 2σ))
        (f, f.mul_add(r, s), (s * r) * z.mul_add(r - s, two))
    }
    #[inline(always)]
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T) {
        let (f, d, c) = Self::value_slope_curvature(z);
        let (s, r) = logistic(z);
        let three = T::ONE + T::ONE + T::ONE;
        let (sr, q) = (s * r, r - s);
        // f‴ = σ(1 − σ)[(1 − 2σ)(3 + z(1 − 2σ)) − 2zσ(1 − σ)]
        (f, d, c, sr * (q * (three + z * q) - (z + z) * sr))
    }
}

impl Act for Softplus {
    #[inline(always)]
    fn value_slope<T: Real>(z: T) -> (T, T) {
        let f = pos(z) + (-abs(z)).exp().ln_1p();
        (f, logistic(z).0)
    }
    #[inline(always)]
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T) {
        let f = pos(z) + (-abs(z)).exp().ln_1p();
        let (s, r) = logistic(z);
        (f, s, s * r)
    }
    #[inline(always)]
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T) {
        let (f, s, c) = Self::value_slope_curvature(z);
        let (_, r) = logistic(z);
        (f, s, c, c * (r - s))
    }
}

impl Act for Tanh {
    #[inline(always)]
    fn value_slope<T: Real>(z: T) -> (T, T) {
        let t = z.tanh();
        (t, T::ONE - t * t)
    }
    #[inline(always)]
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T) {
        let t = z.tanh();
        let d = T::ONE - t * t;
        (t, d, -(t + t) * d)
    }
    #[inline(always)]
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T) {
        let t = z.tanh();
        let d = T::ONE - t * t;
        let two = T::ONE + T::ONE;
        // f‴ = (1 − t²)(6t² − 2)
        (t, d, -(t + t) * d, d * (two * (two + T::ONE) * t * t - two))
    }
}

impl Act for Elu {
    #[inline(always)]
    fn value_slope<T: Real>(z: T) -> (T, T) {
        let (f, d, _) = Self::value_slope_curvature(z);
        (f, d)
    }
    #[inline(always)]
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T) {
        // e^{min(z, 0)}, as the tensor version computes it.
        let e = neg(z).exp();
        if z > T::ZERO {
            (z, T::ONE, T::ZERO)
        } else {
            (e - T::ONE, e, e)
        }
    }
    #[inline(always)]
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T) {
        let (f, d, c) = Self::value_slope_curvature(z);
        (f, d, c, c)
    }
}

impl Act for Relu {
    #[inline(always)]
    fn value_slope<T: Real>(z: T) -> (T, T) {
        if z > T::ZERO {
            (z, T::ONE)
        } else {
            (T::ZERO, T::ZERO)
        }
    }
    #[inline(always)]
    fn value_slope_curvature<T: Real>(z: T) -> (T, T, T) {
        let (f, d) = Self::value_slope(z);
        (f, d, T::ZERO)
    }
    #[inline(always)]
    fn value_and_three_derivatives<T: Real>(z: T) -> (T, T, T, T) {
        let (f, d) = Self::value_slope(z);
        (f, d, T::ZERO, T::ZERO)
    }
}

#[inline(always)]
fn pos<T: Real>(z: T) -> T {
    if z > T::ZERO { z } else { T::ZERO }
}

#[inline(always)]
fn neg<T: Real>(z: T) -> T {
    if z < T::ZERO { z } else { T::ZERO }
}

#[inline(always)]
fn abs<T: Real>(z: T) -> T {
    if z < T::ZERO { -z } else { z }
}

/// Calls `$body` with `$A` bound to the kernel type of `$act`.
macro_rules! with_act {
    ($act:expr, $A:ident => $body:expr) => {
        match $act {
            $crate::model::Activation::Silu => {
                type $A = $crate::kernels::activation::Silu;
                $body
            }
            $crate::model::Activation::Softplus => {
                type $A = $crate::kernels::activation::Softplus;
                $body
            }
            $crate::model::Activation::Tanh => {
                type $A = $crate::kernels::activation::Tanh;
                $body
            }
            $crate::model::Activation::Elu => {
                type $A = $crate::kernels::activation::Elu;
                $body
            }
            $crate::model::Activation::Relu => {
                type $A = $crate::kernels::activation::Relu;
                $body
            }
        }
    };
}
pub(crate) use with_act;

/// f, f′ and f″ of `act` at one point.
#[cfg(test)]
pub(crate) fn eval<T: Real>(act: Activation, z: T) -> (T, T, T) {
    with_act!(act, A => A::value_slope_curvature(z))
}

/// f‴ of `act` at one point.
#[cfg(test)]
fn third<T: Real>(act: Activation, z: T) -> T {
    with_act!(act, A => A::value_and_three_derivatives(z)).3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences_in_f64() {
        let zs: [f64; 8] = [-30.0, -3.1, -0.7, -1e-3, 0.2, 1.3, 4.0, 25.0];
        for act in Activation::ALL {
            for &z in &zs {
                let h = 1e-6;
                let (f, d, c) = eval(act, z);
                let (fu, du, cu) = eval(act, z + h);
                let (fd, dd, cd) = eval(act, z - h);
                assert!((d - (fu - fd) / (2.0 * h)).abs() < 1e-8, "{act:?} f'({z})");
                assert!((c - (du - dd) / (2.0 * h)).abs() < 1e-7, "{act:?} f''({z})");
                let t = third(act, z);
                assert!((t - (cu - cd) / (2.0 * h)).abs() < 1e-7, "{act:?} f‴({z})");
                let (f2, d2) = with_act!(act, A => A::value_slope(z));
                assert_eq!((f, d), (f2, d2), "{act:?}");
                let (f3, d3, c3, _) = with_act!(act, A => A::value_and_three_derivatives(z));
                assert_eq!((f, d, c), (f3, d3, c3), "{act:?}");
            }
        }
    }

    #[test]
    fn f32_values_are_close_to_f64() {
        for act in Activation::ALL {
            for i in -400..400 {
                let z = i as f64 * 0.05;
                let (f, d, c) = eval(act, z);
                let (f32_, d32, c32) = eval(act, z as f32);
                let tol = |v: f64| 4e-7 * (1.0 + v.abs());
                assert!((f64::from(f32_) - f).abs() < tol(f), "{act:?} f({z})");
                assert!((f64::from(d32) - d).abs() < tol(d), "{act:?} f'({z})");
                assert!((f64::from(c32) - c).abs() < tol(c), "{act:?} f''({z})");
                let (t, t32) = (third(act, z), third(act, z as f32));
                assert!((f64::from(t32) - t).abs() < tol(t), "{act:?} f‴({z})");
            }
        }
    }
}
