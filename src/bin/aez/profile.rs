//! `AEZ_PROFILE=1`: the wall time of each phase of a run, on stderr, as `aez: profile: PHASE: MS ms`
//! (for the start-up profile in BENCHMARKS.md, `aez-bench startup`). Off (and free) otherwise.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

static LAST: OnceLock<Option<Mutex<Instant>>> = OnceLock::new();

/// Starts the clock (the first phase is measured from here) when `AEZ_PROFILE` is set and not `0`.
pub fn start() {
    LAST.get_or_init(|| {
        std::env::var_os("AEZ_PROFILE")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| Mutex::new(Instant::now()))
    });
}

/// Ends the phase `phase`: prints the time since the previous mark (or [`start`]).
pub fn mark(phase: &str) {
    if let Some(Some(last)) = LAST.get() {
        let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        eprintln!(
            "aez: profile: {phase}: {:.3} ms",
            (now - *last).as_secs_f64() * 1e3
        );
        *last = now;
    }
}
