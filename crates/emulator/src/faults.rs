//! Fault injection knobs, adjustable while the emulator runs.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug)]
pub(crate) struct Faults {
    pub error_rate: f64,
    pub fault_discovery: bool,
    pub latency: Duration,
    pub drop_watch_after: Option<Duration>,
    pub read_only_token: Option<String>,
    /// How many of the next successful writes lose their response: the change is made,
    /// the client gets a 504, as when a proxy times out after the server committed.
    pub lost_write_responses: u32,
    /// How many of the next watches that resume from a resourceVersion are told it is too
    /// old (410 Expired), as after an etcd compaction.
    pub expired_watches: u32,
    rng: StdRng,
}

impl Faults {
    pub(crate) fn new(
        seed: u64,
        error_rate: f64,
        fault_discovery: bool,
        latency: Duration,
        drop_watch_after: Option<Duration>,
        read_only_token: Option<String>,
    ) -> Self {
        Self {
            error_rate,
            fault_discovery,
            latency,
            drop_watch_after,
            read_only_token,
            lost_write_responses: 0,
            expired_watches: 0,
            // A separate stream from the store's, so object names do not shift with faults.
            rng: StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Whether this request gets an injected 500. Discovery is spared unless asked for,
    /// because kubectl retries discovery five times and then fails in confusing ways.
    pub(crate) fn roll(&mut self, discovery: bool) -> bool {
        if self.error_rate <= 0.0 || (discovery && !self.fault_discovery) {
            return false;
        }
        self.rng.random::<f64>() < self.error_rate
    }

    /// Takes one from `counter` if it is not zero; whether it did.
    pub(crate) fn take(counter: &mut u32) -> bool {
        let took = *counter > 0;
        *counter = counter.saturating_sub(1);
        took
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_are_deterministic_and_spare_discovery() {
        let mut a = Faults::new(3, 0.5, false, Duration::ZERO, None, None);
        let mut b = Faults::new(3, 0.5, false, Duration::ZERO, None, None);
        let ra: Vec<bool> = (0..32).map(|_| a.roll(false)).collect();
        let rb: Vec<bool> = (0..32).map(|_| b.roll(false)).collect();
        assert_eq!(ra, rb);
        assert!(ra.contains(&true) && ra.contains(&false));
        assert!(!(0..32).any(|_| a.roll(true)));
        let mut never = Faults::new(3, 0.0, true, Duration::ZERO, None, None);
        assert!(!(0..32).any(|_| never.roll(false)));
    }
}
