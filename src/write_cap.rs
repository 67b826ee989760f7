//! A cap on how many records of one kind a process writes per second, so
//! that a flood of forged requests cannot become a flood of writes.

use std::sync::Mutex;

pub struct PerSecond {
    limit: u32,
    /// The current second and how many were allowed in it.
    window: Mutex<(i64, u32)>,
}

impl PerSecond {
    pub const fn new(limit: u32) -> PerSecond {
        PerSecond { limit, window: Mutex::new((0, 0)) }
    }

    /// Whether one more may be written in second `now_secs`.
    pub fn allow(&self, now_secs: i64) -> bool {
        // A poisoned lock only means a panic elsewhere: keep recording.
        let Ok(mut window) = self.window.lock() else { return true };
        if window.0 != now_secs {
            *window = (now_secs, 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 <= self.limit
    }
}
