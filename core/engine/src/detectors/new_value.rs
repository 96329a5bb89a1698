//! `new_value`: a value of `field` not seen for the group within `lookback`.
//!
//! Groups are kept in order of their last activity (re-ordered at most once per slot of
//! lookback/60), so groups idle for longer than `lookback` are forgotten from the front; a
//! returning group learns again (warmup).

use crate::alert::{Evidence, Key, Measure};
use crate::clock::{BatchClock, NEVER};
use crate::event::Event;
use crate::keymap::KeyMap;
use crate::rule::RuleSpec;
use crate::select::{Selected, Val};
use crate::value::{Scalar, Value};

use super::{reach, scalars, Common, Logic, Parts};

/// A group's known values are pruned of expired ones once there are more than this many.
const PRUNE_AT: usize = 64;
/// Known values shown in the evidence.
const KNOWN_SHOWN: usize = 10;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Group {
    first_ts: i64,
    /// The activity slot the group was last moved to the back in.
    touch: i64,
    /// Known values with the event time each was last seen, in first-seen order (the
    /// evidence lists them in that order).
    values: scalars::Scalars<i64, scalars::Seeded>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NewValueLogic {
    lookback: i64,
    warmup: i64,
    slot: i64,
    field: String,
    /// Least recently active first: idle groups expire and the cap evicts from the front.
    groups: KeyMap<Group>,
}

impl NewValueLogic {
    pub fn new(rule: &RuleSpec) -> NewValueLogic {
        let d = &rule.detect;
        NewValueLogic {
            lookback: d.lookback_ms,
            warmup: d.warmup_ms,
            slot: (d.lookback_ms / 60).max(1),
            field: d.field.as_deref().unwrap_or_default().join("."),
            groups: KeyMap::default(),
        }
    }

    fn expires_at(&self, touch: i64) -> i64 {
        (touch + 1) * self.slot + self.lookback
    }
}

/// The evidence of an occurrence: the new value and the group's other known values.
fn occurrence(c: &Common, field: &str, e: &Event, v: &Scalar, g: &Group) -> Evidence {
    let known = g
        .values
        .keys()
        .filter(|x| *x != v)
        .take(KNOWN_SHOWN)
        .cloned()
        .collect();
    Evidence {
        value: Measure::Scalar(v.clone()),
        sample_event_ids: vec![e.event_id().into()],
        top: c.event_top(e),
        extra: vec![
            ("field".into(), Measure::Text(field.to_string())),
            ("known".into(), Measure::List(known)),
        ],
        ..Evidence::default()
    }
}

/// Record that the group saw `v` at `ts`; a known value keeps its place in the order.
fn set_seen(g: &mut Group, v: &Value, ts: i64) {
    match scalars::get_mut(&mut g.values, v) {
        Some(seen) => *seen = ts,
        None => {
            g.values.insert(owned(v), ts);
        }
    }
}

/// A selected value, copied for the map or the evidence.
fn owned(v: &Value) -> Scalar {
    v.scalar().expect("a selected value is a scalar")
}

/// Evidence of a later transition (a due resolve): what the rule collected for the group.
fn collected(c: &Common, key: &Key) -> Evidence {
    Evidence {
        sample_event_ids: c.sample_ids(key),
        top: c.top_of(key),
        ..Evidence::default()
    }
}

impl Logic for NewValueLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let hints = self.groups.slots_of(sel.keyed().map(|(_, k)| k));
        for (((i, key), val), hint) in sel.keyed().zip(sel.vals).zip(hints) {
            reach(self, d, i, clock);
            let Val::Field = val else { continue };
            let e = events[i];
            let v = sel.field(e);
            let ts = e.ts;
            let touch = ts.div_euclid(self.slot);
            // A group evicted as soon as it is made (a cap of 0) still sees its event.
            let mut detached = None;
            let slot = match self.groups.slot_sharing(key, hint) {
                Some(n) => Some(n),
                None => {
                    let g = Group {
                        first_ts: ts,
                        touch,
                        values: scalars::Scalars::default(),
                    };
                    let mut n = Some(self.groups.push(key.clone(), g));
                    if self.groups.len() > d.common.cap {
                        d.common.stats.cap_evictions += 1;
                        if let Some((k, g)) = self.groups.pop_front() {
                            if k == *key {
                                (detached, n) = (Some(g), None);
                            }
                        }
                    }
                    d.common.tick = d.common.tick.min(self.expires_at(touch));
                    n
                }
            };
            let lookback = self.lookback;
            let g = match (detached.as_mut(), slot) {
                (Some(g), _) => g,
                (None, n) => self.groups.at_mut(n.expect("a group kept or detached")),
            };
            // A value seen within the lookback, the usual case, is found and updated at once.
            let seen_lately = match scalars::get_mut(&mut g.values, v) {
                Some(last) if ts - *last <= lookback => {
                    *last = (*last).max(ts);
                    true
                }
                _ => false,
            };
            if !seen_lately {
                if ts >= g.first_ts + self.warmup {
                    let evidence = occurrence(&d.common, &self.field, e, &owned(v), g);
                    let common = &d.common;
                    d.lc.occurred(key, ts, evidence, &mut |k, _| collected(common, k));
                    d.note_timer();
                }
                set_seen(g, v, ts);
                if g.values.len() > PRUNE_AT {
                    g.values.retain(|_, seen| ts - *seen <= lookback);
                }
            }
            if touch > g.touch {
                g.touch = touch;
                if let Some(n) = slot {
                    self.groups.to_back_at(n);
                }
            }
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn next_drain(&self) -> i64 {
        match self.groups.front() {
            Some((_, g)) => self.expires_at(g.touch),
            None => NEVER,
        }
    }

    fn drain(&mut self, _d: &mut Parts, t: i64) {
        while let Some((_, g)) = self.groups.front() {
            if self.expires_at(g.touch) > t {
                break;
            }
            self.groups.pop_front();
        }
    }

    fn evidence_at(&mut self, c: &Common, key: &Key, _at: i64) -> Evidence {
        collected(c, key)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.groups.len()
    }
}
