//! `threshold`: count / sum / avg / min / max of the group's events in a sliding window.
//!
//! Count keeps one integer per group and bucket; the other aggregates keep `(acc, events)`.
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
use crate::select::{Selection, Val};
use crate::value::Number;

use super::windowed::{self, Groups, Window, Windowed};
use super::{catch_up, Common, Logic, Parts};

/// count: per group and bucket, the events counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountLogic {
    win: Window<u64>,
    totals: Groups<u64>,
}

impl CountLogic {
    pub fn new(rule: &RuleSpec) -> CountLogic {
        CountLogic {
            win: Window::new(&rule.detect),
            totals: Groups::default(),
        }
    }
}

impl Windowed for CountLogic {
    type Part = u64;

    fn window(&mut self) -> &mut Window<u64> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        self.totals
            .get(key)
            .is_some_and(|&n| self.win.op.holds(n as f64, self.win.threshold))
    }

    fn expire(&mut self, d: &mut Parts, content: Groups<u64>, t: i64) {
        for (key, c) in content {
            let total = self.totals.get_mut(&key).expect("a counted group");
            *total = total.saturating_sub(c);
            if *total == 0 {
                self.totals.remove(&key);
                windowed::group_gone(self, d, &key, t);
            } else {
                windowed::evaluate(self, d, &key, t);
            }
        }
    }

    fn drop_group(&mut self, key: &Key) {
        self.totals.remove(key);
    }
}

impl Logic for CountLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selection, clock: &BatchClock) {
        for (&i, key) in sel.idxs.iter().zip(&sel.keys) {
            let now = clock.nows[i];
            if now >= d.common.tick {
                catch_up(self, d, now, now - clock.lateness, clock);
            }
            let e = events[i];
            let b = self.win.index(e.ts);
            let Some((groups, _)) = self.win.enter(b, now, &mut d.common.tick) else {
                continue;
            };
            match groups.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    groups.insert(key.clone(), 1);
                }
            }
            let total = match self.totals.get_mut(key) {
                Some(n) => {
                    *n += 1;
                    *n
                }
                None => {
                    self.totals.insert(key.clone(), 1);
                    if let Some(first) = windowed::over_cap(&self.totals, d.common.cap) {
                        windowed::evict(self, d, &first, now);
                    }
                    1
                }
            };
            if (total as f64) < self.win.warm {
                continue;
            }
            // A warm group moves to the back: the group cap evicts cold groups first.
            self.totals.to_back(key);
            d.common.note(key, e);
            let holds = self.win.op.holds(total as f64, self.win.threshold);
            if !windowed::turn(self, d, key, now, holds) {
                continue;
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

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        let n = self.totals.get(key).copied().unwrap_or(0);
        windowed::window_evidence(c, key, at, Measure::Num(Number::Int(i128::from(n))))
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.totals.len()
    }
}

/// sum / avg / min / max: per group and bucket `(acc, events)`, totals the same.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AggregateLogic {
    win: Window<(Number, u64)>,
    totals: Groups<(Number, u64)>,
    aggregate: Aggregate,
    /// max aggregates whose stored value is only an upper bound (cold groups)
    stale: FxHashSet<Key>,
}

impl AggregateLogic {
    pub fn new(rule: &RuleSpec) -> AggregateLogic {
        AggregateLogic {
            win: Window::new(&rule.detect),
            totals: Groups::default(),
            aggregate: rule.detect.aggregate,
            stale: FxHashSet::default(),
        }
    }

    /// Fold `v` into `acc`: add it, or keep the more extreme of the two (the first of equals).
    fn fold(aggregate: Aggregate, acc: &mut (Number, u64), v: Number) {
        acc.1 += 1;
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
        if !self.totals.contains_key(key) {
            // no events in the window: a sum of nothing is 0, an extreme or mean none
            return if self.aggregate == Aggregate::Sum {
                Measure::Num(Number::Int(0))
            } else {
                Measure::Null
            };
        }
        if self.stale.contains(key) {
            let x = self.extreme(key);
            self.totals.get_mut(key).expect("present").0 = x;
        }
        let acc = self.totals[key];
        match self.aggregate {
            Aggregate::Avg => Measure::Num(Number::Float(div(acc.0, acc.1))),
            _ => Measure::Num(acc.0),
        }
    }
}

impl Windowed for AggregateLogic {
    type Part = (Number, u64);

    fn window(&mut self) -> &mut Window<(Number, u64)> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        match self.value(key) {
            Measure::Num(v) => windowed::op_holds(self.win.op, v, self.win.threshold),
            _ => false,
        }
    }

    fn expire(&mut self, d: &mut Parts, content: Groups<(Number, u64)>, t: i64) {
        for (key, (part, n)) in content {
            let acc = self.totals.get_mut(&key).expect("a counted group");
            acc.1 = acc.1.saturating_sub(n);
            if acc.1 == 0 {
                self.totals.remove(&key);
                windowed::group_gone(self, d, &key, t);
                continue;
            }
            if self.aggregate == Aggregate::Sum || self.aggregate == Aggregate::Avg {
                acc.0 = sub(acc.0, part);
            } else if compare(part, acc.0) != Some(Ordering::Equal) {
                continue; // the extreme is elsewhere: value unchanged
            } else if self.aggregate == Aggregate::Max
                && less(acc.0, self.win.warm)
                && !self.win.true_keys.contains(&key)
            {
                // A cold group's max only matters once it could be warm: keep the old max as
                // an upper bound and recompute it then.
                self.stale.insert(key);
                continue;
            } else {
                let x = self.extreme(&key);
                self.totals.get_mut(&key).expect("present").0 = x;
            }
            windowed::evaluate(self, d, &key, t);
        }
    }

    fn drop_group(&mut self, key: &Key) {
        self.totals.remove(key);
    }

    fn forget(&mut self, c: &mut Common, key: &Key) {
        c.forget(key);
        self.stale.remove(key);
    }
}

impl Logic for AggregateLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selection, clock: &BatchClock) {
        let upward = self.aggregate == Aggregate::Max;
        for ((&i, key), val) in sel.idxs.iter().zip(&sel.keys).zip(&sel.vals) {
            let Val::Num(v) = *val else { continue };
            let now = clock.nows[i];
            if now >= d.common.tick {
                catch_up(self, d, now, now - clock.lateness, clock);
            }
            let e = events[i];
            let b = self.win.index(e.ts);
            let aggregate = self.aggregate;
            let Some((groups, _)) = self.win.enter(b, now, &mut d.common.tick) else {
                continue;
            };
            match groups.get_mut(key) {
                Some(part) => Self::fold(aggregate, part, v),
                None => {
                    groups.insert(key.clone(), (v, 1));
                }
            }
            match self.totals.get_mut(key) {
                Some(acc) => Self::fold(aggregate, acc, v),
                None => {
                    self.totals.insert(key.clone(), (v, 1));
                    if let Some(first) = windowed::over_cap(&self.totals, d.common.cap) {
                        windowed::evict(self, d, &first, now);
                    }
                }
            }
            let acc = self.totals[key];
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
                self.totals.get_mut(key).expect("present").0 = x;
            }
            self.totals.to_back(key);
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
        self.totals.len()
    }
}
