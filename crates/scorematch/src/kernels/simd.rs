//! Runs auto-vectorised loops with AVX2 and FMA enabled where the CPU has them.
//!
//! The library is built for the baseline x86-64 target (SSE2), so loops over f32 vectorise
//! four lanes wide. [`vectorized`] detects AVX2 + FMA at run time and then runs the same
//! closure compiled for them (eight lanes). The arithmetic in the kernels avoids `mul_add`, so
//! both versions give the same bits.

/// Runs `f`, compiled for AVX2 + FMA when the CPU supports them.
///
/// `f` should be a small closure that calls `#[inline(always)]` functions, so that the whole
/// loop nest is inlined into the feature-enabled copy.
#[inline(always)]
#[allow(unsafe_code)] // the call of the AVX2 + FMA copy; see SAFETY below
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU supports every feature `with_avx2_fma` is compiled for.
            return unsafe { with_avx2_fma(f) };
        }
    }
    f()
}

/// Whether the CPU has AVX2 and FMA (cached by the standard library after the first call).
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}
