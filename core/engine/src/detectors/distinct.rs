//! `distinct`: number of distinct values of a field per group in a sliding window (exact).
//!
//! Per group, each value's newest bucket; a bucket lists the groups it touched.

use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::rule::RuleSpec;
use crate::select::{Selected, Val};
use crate::value::{Number, Scalar, Value};

use super::scalars;
use super::windowed::{self, Drained, Window, Windowed};
use super::{reach, Common, Logic, Parts};
use crate::keymap::NIL;

/// Values shown in the evidence when `evidence.top` does not list the field.
pub const SHOWN_VALUES: usize = 10;

/// A group's values in first-seen order (ties of the evidence's sort keep it), each with the
/// newest bucket it was seen in.
type Values = scalars::Scalars<i64, scalars::Seeded>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistinctLogic {
    /// Per group, its values.
    win: Window<(), Values>,
    /// The field's dotted name, its entry in the evidence's `top`.
    field: String,
}

/// A selected value, copied for the map.
fn owned(v: &Value) -> Scalar {
    v.scalar().expect("a selected value is a scalar")
}

impl DistinctLogic {
    pub fn new(rule: &RuleSpec) -> DistinctLogic {
        let d = &rule.detect;
        DistinctLogic {
            win: Window::new(d),
            field: d.field.as_deref().unwrap_or_default().join("."),
        }
    }

    fn count(&self, key: &Key) -> usize {
        self.win.total(key).map_or(0, |v| v.len())
    }
}

impl Windowed for DistinctLogic {
    type Part = ();
    type Total = Values;

    fn window(&mut self) -> &mut Window<(), Values> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        self.win.slot(key).is_some()
            && self
                .win
                .op
                .holds(self.count(key) as f64, self.win.threshold)
    }

    fn expire(&mut self, d: &mut Parts, content: Drained<()>, t: i64) {
        let limit = self.win.limit(t);
        for (slot, ()) in content {
            if slot == NIL {
                continue;
            }
            let values = self.win.total_at(slot);
            values.retain(|_, b| *b >= limit);
            let (count, gone) = (values.len(), values.is_empty());
            if !gone && (count as f64) < self.win.warm && !self.win.held_at(slot) {
                continue;
            }
            let key = self.win.key_at(slot).clone();
            if gone {
                self.win.remove(&key);
                windowed::group_gone(self, d, &key, t);
            } else {
                windowed::evaluate(self, d, &key, t);
            }
        }
    }
}

impl Logic for DistinctLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let hints = self.win.slots_of(sel.keyed().map(|(_, k)| k));
        for (((i, key), val), hint) in sel.keyed().zip(sel.vals).zip(hints) {
            let Val::Field = val else { continue };
            let now = reach(self, d, i, clock);
            let e = events[i];
            let v = sel.field(e);
            let b = self.win.index(e.ts);
            let Some(added) = self.win.add(b, now, &mut d.common.tick, key, hint) else {
                continue;
            };
            let values = added.total;
            match scalars::get_mut(values, v) {
                Some(newest) => *newest = (*newest).max(b),
                None => {
                    values.insert(owned(v), b);
                }
            }
            let (slot, count) = (added.slot, values.len());
            if added.new_group {
                if let Some(first) = self.win.over_cap(d.common.cap) {
                    windowed::evict(self, d, &first, now);
                }
            }
            if count as f64 >= self.win.warm {
                self.win.move_back(slot);
                d.common.note(key, e);
                windowed::evaluate(self, d, key, now);
            } else if self.win.true_keys.contains(key) {
                windowed::evaluate(self, d, key, now);
            }
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn next_drain(&self) -> i64 {
        self.win.next_drain()
    }

    fn drain(&mut self, d: &mut Parts, t: i64) {
        windowed::drain(self, d, t);
    }

    /// The window's evidence; the group's values stand in for the field's `top` unless
    /// `evidence.top` counts it.
    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        let n = Number::Int(self.count(key) as i128);
        let mut ev = windowed::window_evidence(c, key, at, Measure::Num(n));
        if !ev.top.iter().any(|(name, _)| *name == self.field) {
            let mut values: Vec<(String, &Scalar)> = self
                .win
                .total(key)
                .into_iter()
                .flat_map(|vs| vs.keys())
                .map(|v| (v.sort_text(), v))
                .collect();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            let shown = values
                .into_iter()
                .take(SHOWN_VALUES)
                .map(|(_, v)| (v.clone(), 1))
                .collect();
            ev.top.push((self.field.clone(), shown));
        }
        ev
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.win.len()
    }
}
