//! Facts: the cheap conditions of the rule set (`event_type: request`, `flagged: true`,
//! `status: {in: [401, 403]}`), each tested once per event as it is decoded, its answer one
//! bit of [`Event::facts`].
//!
//! Many rules test the same conditions, and every rule tests its filter on every event of a
//! batch: fourteen rules reading `event_type` and comparing it with `request` one by one cost
//! more than decoding the field. A rule's filter reads the bits instead, several with one mask
//! (see `Filter::Facts`). They are tested where events are decoded, which runs on all of a
//! batch's threads at once, while a rule runs on one.
//!
//! Conditions are pure, so testing one eagerly changes no rule's answer, only when it is
//! computed. The table only grows (a reloaded rule set keeps the slots and the bits its kept
//! rules compiled against) and holds at most [`MAX_FACTS`]; a condition beyond is tested by its
//! rule in place, as any other.

use crate::event::Event;
use crate::filter::{Path, Test};

/// Bits of `Event::facts`.
pub const MAX_FACTS: usize = 64;

#[derive(Debug, Clone)]
pub struct Facts {
    conds: Vec<(Path, Test)>,
    limit: usize,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::with_limit(MAX_FACTS)
    }
}

impl Facts {
    /// A table of at most `limit` facts (0: none, every condition is tested in place).
    pub fn with_limit(limit: usize) -> Facts {
        Facts {
            conds: Vec::new(),
            limit: limit.min(MAX_FACTS),
        }
    }

    /// The bit of the condition `path` `test`, added if new; None if the test is not cheap
    /// enough to run on every event, or the table is full.
    pub fn bit(&mut self, path: &Path, test: &Test) -> Option<u32> {
        if !test.is_cheap() {
            return None;
        }
        if let Some(n) = self
            .conds
            .iter()
            .position(|(p, t)| p == path && t.same_as(test))
        {
            return Some(n as u32);
        }
        if self.conds.len() >= self.limit {
            return None;
        }
        self.conds.push((path.clone(), test.clone()));
        Some((self.conds.len() - 1) as u32)
    }

    /// The event's answer to every fact, bit n for fact n.
    pub fn of(&self, e: &Event) -> u64 {
        let mut bits = 0u64;
        for (n, (path, test)) in self.conds.iter().enumerate() {
            bits |= u64::from(test.holds(path.get(e))) << n;
        }
        bits
    }

    pub fn len(&self) -> usize {
        self.conds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conds.is_empty()
    }
}
