//! `threshold`: sum / avg / min / max of the group's events in a sliding window (count has
//! its own module): per group and bucket, `(acc, events)`.
//! Every event first catches up with what is due by its time, timers set by the events before
//! it included: a resolve timer set by evicting a group fires before an event at its due time.

use std::cmp::Ordering;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::arith::{add, div, less, sub};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::filter::compare;
use crate::rule::{Aggregate, RuleSpec};
use crate::select::{Selected, Val};
use crate::value::Number;

use super::windowed::{self, Drained, Window, Windowed};
use super::{reach, Common, Logic, Parts};
use crate::keymap::NIL;

/// sum / avg / min / max: per group and bucket `(acc, events)`, totals the same.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AggregateLogic {
    win: Window<(Number, u64), (Number, u64)>,
    aggregate: Aggregate,
    /// max aggregates whose stored value is only an upper bound (cold groups)
    stale: FxHashSet<Key>,
}

impl AggregateLogic {
    pub fn new(rule: &RuleSpec) -> AggregateLogic {
        AggregateLogic {
            win: Window::new(&rule.detect),
            aggregate: rule.detect.aggregate,
            stale: FxHashSet::default(),
        }
    }

    /// Fold `v` into `acc`: add it, or keep the more extreme of the two (the first of equals);
    /// the first value of none is itself.
    fn fold(aggregate: Aggregate, acc: &mut (Number, u64), v: Number) {
        acc.1 += 1;
        if acc.1 == 1 {
            acc.0 = v;
            return;
        }
        match aggregate {
            Aggregate::Sum | Aggregate::Avg => acc.0 = add(acc.0, v),
            Aggregate::Max if compare(v, acc.0).is_some_and(|o| o.is_gt()) => acc.0 = v,
            Aggregate::Min if compare(v, acc.0).is_some_and(|o| o.is_lt()) => acc.0 = v,
            _ => {}
        }
    }

    /// min/max of the group over the live buckets; on ties, the value of the bucket opened
    /// first.
    fn extreme(&mut self, key: &Key) -> Number {
        self.stale.remove(key);
        let want = if self.aggregate == Aggregate::Min {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        let mut best: Option<(u64, Number)> = None;
        for (opened, &(v, _)) in self.win.parts(key) {
            best = Some(match best {
                None => (opened, v),
                Some((first, b)) => match compare(v, b) {
                    Some(o) if o == want => (opened, v),
                    Some(Ordering::Equal) if opened < first => (opened, v),
                    _ => (first, b),
                },
            });
        }
        best.expect("a counted group has a part in a live bucket").1
    }

    fn value(&mut self, key: &Key) -> Measure {
        let Some(slot) = self.win.slot(key) else {
            // no events in the window: a sum of nothing is 0, an extreme or mean none
            return if self.aggregate == Aggregate::Sum {
                Measure::Num(Number::Int(0))
            } else {
                Measure::Null
            };
        };
        if self.stale.contains(key) {
            let x = self.extreme(key);
            self.win.total_at(slot).0 = x;
        }
        let acc = *self.win.total_at(slot);
        match self.aggregate {
            Aggregate::Avg => Measure::Num(Number::Float(div(acc.0, acc.1))),
            _ => Measure::Num(acc.0),
        }
    }
}

impl Windowed for AggregateLogic {
    type Part = (Number, u64);
    type Total = (Number, u64);

    fn window(&mut self) -> &mut Window<(Number, u64), (Number, u64)> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        match self.value(key) {
            Measure::Num(v) => windowed::op_holds(self.win.op, v, self.win.threshold),
            _ => false,
        }
    }

    fn expire(&mut self, d: &mut Parts, content: Drained<(Number, u64)>, t: i64) {
        for (slot, (part, n)) in content {
            if slot == NIL {
                continue;
            }
            let acc = self.win.total_at(slot);
            acc.1 = acc.1.saturating_sub(n);
            if acc.1 == 0 {
                let key = self.win.key_at(slot).clone();
                self.win.remove(&key);
                windowed::group_gone(self, d, &key, t);
                continue;
            }
            // Whether the group's extreme left with the part and must be found again.
            let recompute = if self.aggregate == Aggregate::Sum || self.aggregate == Aggregate::Avg
            {
                acc.0 = sub(acc.0, part);
                let level = if self.aggregate == Aggregate::Avg {
                    Number::Float(div(acc.0, acc.1))
                } else {
                    acc.0
                };
                if less(level, self.win.warm) && !self.win.held_at(slot) {
                    continue;
                }
                false
            } else if compare(part, acc.0) != Some(Ordering::Equal) {
                continue; // the extreme is elsewhere: value unchanged
            } else if self.aggregate == Aggregate::Max
                && less(acc.0, self.win.warm)
                && !self.win.held_at(slot)
            {
                // A cold group's max only matters once it could be warm: keep the old max as
                // an upper bound and recompute it then.
                self.stale.insert(self.win.key_at(slot).clone());
                continue;
            } else {
                true
            };
            let key = self.win.key_at(slot).clone();
            if recompute {
                let x = self.extreme(&key);
                self.win.total_at(slot).0 = x;
            }
            windowed::evaluate(self, d, &key, t);
        }
    }

    fn forget(&mut self, c: &mut Common, key: &Key) {
        c.forget(key);
        self.stale.remove(key);
    }
}

impl Logic for AggregateLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let upward = self.aggregate == Aggregate::Max;
        let hints = self.win.slots_of(sel.keyed().map(|(_, k)| k));
        for (((i, key), val), hint) in sel.keyed().zip(sel.vals).zip(hints) {
            let Val::Num(v) = *val else { continue };
            let now = reach(self, d, i, clock);
            let e = events[i];
            let b = self.win.index(e.ts);
            let aggregate = self.aggregate;
            let Some(added) = self.win.add(b, now, &mut d.common.tick, key, hint) else {
                continue;
            };
            Self::fold(aggregate, added.part, v);
            Self::fold(aggregate, added.total, v);
            let (acc, slot) = (*added.total, added.slot);
            if added.new_group {
                if let Some(first) = self.win.over_cap(d.common.cap) {
                    windowed::evict(self, d, &first, now);
                }
            }
            let level = if aggregate == Aggregate::Avg {
                Number::Float(div(acc.0, acc.1))
            } else {
                acc.0
            };
            if less(level, self.win.warm) && !self.win.true_keys.contains(key) {
                continue;
            }
            if upward && self.stale.contains(key) {
                let x = self.extreme(key);
                self.win.total_at(slot).0 = x;
            }
            self.win.move_back(slot);
            d.common.note(key, e);
            windowed::evaluate(self, d, key, now);
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

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        let value = self.value(key);
        windowed::window_evidence(c, key, at, value)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.win.len()
    }
}
