//! Stopping a sweep early: on SIGINT (Ctrl-C) or SIGTERM (what Slurm and Kubernetes send at a
//! time limit) no further run starts and the runs in flight are abandoned at their next
//! training step; a run that cannot be saved (a full disk) stops the sweep the same way. A
//! second signal ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// Why a sweep stops early: the number of the signal that stopped it, or a run that could not
/// be saved.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    reason: Arc<AtomicUsize>,
}

impl Stop {
    /// The reason recorded when a run's result could not be written.
    const SAVE_FAILED: usize = usize::MAX;

    /// A stop that only [`Stop::save_failed`] triggers (no signal handlers).
    pub fn new() -> Self {
        Self::default()
    }

    /// A stop that SIGINT and SIGTERM trigger; a second signal of either kind ends the
    /// process at once with the conventional status (128 + the signal's number).
    pub fn on_signals() -> Result<Self> {
        let stop = Self::new();
        let already = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so that the first signal only sets `already` below.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, already.clone())
                .context("installing a signal handler")?;
            signal_hook::flag::register(signal, already.clone())
                .context("installing a signal handler")?;
            signal_hook::flag::register_usize(signal, stop.reason.clone(), signal as usize)
                .context("installing a signal handler")?;
        }
        Ok(stop)
    }

    /// Whether the sweep should stop: no new run starts, runs in flight are abandoned.
    pub fn requested(&self) -> bool {
        self.reason.load(Ordering::Relaxed) != 0
    }

    /// Records that a run could not be saved (first reason wins).
    pub fn save_failed(&self) {
        let _ = self.reason.compare_exchange(
            0,
            Self::SAVE_FAILED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The signal that stopped the sweep, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.reason.load(Ordering::Relaxed) {
            0 | Self::SAVE_FAILED => None,
            s => i32::try_from(s).ok(),
        }
    }

    /// The process's exit status after the signal: 128 + its number (130 for SIGINT, 143 for
    /// SIGTERM).
    pub fn exit_status(&self) -> Option<u8> {
        self.signal().and_then(|s| u8::try_from(128 + s).ok())
    }

    /// Triggers the stop as `signal` would have (for tests).
    #[cfg(test)]
    pub fn raise(&self, signal: i32) {
        self.reason.store(signal as usize, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_signals_map_to_their_exit_status() {
        let stop = Stop::new();
        assert!(!stop.requested());
        assert_eq!(stop.exit_status(), None);
        stop.save_failed();
        assert!(stop.requested());
        assert_eq!(stop.signal(), None);
        let stop = Stop::new();
        stop.raise(SIGTERM);
        stop.save_failed();
        assert_eq!(
            (stop.signal(), stop.exit_status()),
            (Some(SIGTERM), Some(143))
        );
        let stop = Stop::new();
        stop.raise(SIGINT);
        assert_eq!(stop.exit_status(), Some(130));
    }
}
