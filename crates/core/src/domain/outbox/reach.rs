//! Which remote hosts the outbox found unreachable, so sending stops knocking on them: after a
//! host does not answer (connection refused, no DNS answer, no answer in time), nothing more is
//! sent there until its pause ends; then one action probes it. A probe that fails again doubles
//! the pause (30 s, 1 min, … up to 10 min); any answer ends it. One `Reach` is shared by
//! everything that sends for a lead (decisions, the background sender), so a decision taken
//! while the forge is down is queued at once instead of waiting on the network.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The first pause after a host is found unreachable.
pub const FIRST_PAUSE_SECS: i64 = 30;
/// The longest pause between probes.
pub const MAX_PAUSE_SECS: i64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Pause {
    /// Nothing is sent before this.
    until: i64,
    secs: i64,
    /// A decision does not wait on this host before this (it was slow to answer one); the
    /// background sender still sends.
    slow_until: i64,
}

/// Reachability of remote hosts, shared (cloning shares it).
#[derive(Debug, Clone, Default)]
pub struct Reach(Arc<Mutex<HashMap<String, Pause>>>);

impl Reach {
    /// When sending to `host` may resume, if it is paused at `now`.
    pub fn paused_until(&self, host: &str, now: i64) -> Option<i64> {
        let map = self.0.lock().ok()?;
        map.get(host).map(|p| p.until).filter(|until| now < *until)
    }

    /// Whether a decision should leave its action to the sender rather than wait on `host`:
    /// paused, or slow to answer a decision lately.
    pub fn avoid_inline(&self, host: &str, now: i64) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(host).copied())
            .is_some_and(|p| now < p.until || now < p.slow_until)
    }

    /// A decision waited its whole time on `host` at `now` without an answer: the next ones
    /// for a while leave their actions to the sender, which does not give up as soon.
    pub fn slow(&self, host: &str, now: i64) {
        if let Ok(mut map) = self.0.lock() {
            map.entry(host.to_string()).or_default().slow_until = now + FIRST_PAUSE_SECS;
        }
    }

    /// `host` did not answer at `now`: pause it, twice as long as last time.
    pub fn unreachable(&self, host: &str, now: i64) {
        if let Ok(mut map) = self.0.lock() {
            let secs = map
                .get(host)
                .map_or(FIRST_PAUSE_SECS, |p| (p.secs * 2).min(MAX_PAUSE_SECS));
            map.insert(
                host.to_string(),
                Pause {
                    until: now + secs,
                    secs,
                    slow_until: 0,
                },
            );
        }
    }

    /// `host` answered: no pause.
    pub fn reachable(&self, host: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_end_on_an_answer() {
        let r = Reach::default();
        assert_eq!(r.paused_until("h", 0), None);
        r.unreachable("h", 100);
        assert_eq!(r.paused_until("h", 100), Some(130));
        assert_eq!(r.paused_until("h", 130), None, "the pause is over: probe");
        assert_eq!(r.paused_until("other", 100), None, "per host");
        let mut now = 130;
        for want in [60, 120, 240, 480, 600, 600] {
            r.unreachable("h", now);
            assert_eq!(r.paused_until("h", now), Some(now + want));
            now += want;
        }
        r.reachable("h");
        assert_eq!(r.paused_until("h", now), None);
        r.unreachable("h", now);
        assert_eq!(r.paused_until("h", now), Some(now + FIRST_PAUSE_SECS));
        r.reachable("h");
        // Slow: decisions leave it to the sender for a while; the sender is not paused.
        r.slow("h", now);
        assert!(r.avoid_inline("h", now + FIRST_PAUSE_SECS - 1));
        assert_eq!(r.paused_until("h", now), None);
        assert!(!r.avoid_inline("h", now + FIRST_PAUSE_SECS));
        r.slow("h", now);
        r.reachable("h");
        assert!(!r.avoid_inline("h", now), "an answer ends it");
    }
}
