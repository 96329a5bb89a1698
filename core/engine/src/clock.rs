//! Event-time bookkeeping of one batch: the stream clock at every accepted event.
//!
//! `nows[i]` is the highest event time seen up to and including accepted event i; it never
//! decreases, so the position at which any instant was first reached is a binary search. Effects
//! that happen as time passes (window drains, timers) are tagged with that position, which makes
//! the output independent of how the input was cut into batches.

/// Later than any event time.
pub const NEVER: i64 = 1 << 62;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchClock {
    pub seq0: u64,
    pub nows: Vec<i64>,
    pub lateness: i64,
    pub final_now: i64,
    pub final_wm: i64,
}

impl BatchClock {
    /// Sequence number of the first event whose stream clock reached `t`.
    pub fn seq_for_now(&self, t: i64) -> u64 {
        self.seq0 + self.nows.partition_point(|&n| n < t) as u64
    }

    pub fn end(&self) -> u64 {
        self.seq0 + self.nows.len() as u64
    }
}
