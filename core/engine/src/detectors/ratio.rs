//! `ratio`: events matching `numerator` over the group's events in a sliding window.
//!
//! Per bucket and per group `(numerator, denominator)`; totals the same.

use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::arith::{round_to, true_div};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::rule::RuleSpec;
use crate::select::{Selected, Val};
use crate::value::Number;

use super::windowed::{self, Drained, Window, Windowed};
use super::{reach, Common, Logic, Parts};
use crate::keymap::NIL;

/// Digits after the point of the ratio shown in evidence.
const SHOWN_DIGITS: usize = 6;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatioLogic {
    win: Window<(u64, u64), (u64, u64)>,
    min_count: i64,
}

impl RatioLogic {
    pub fn new(rule: &RuleSpec) -> RatioLogic {
        let d = &rule.detect;
        RatioLogic {
            win: Window::new(d),
            min_count: d.min_count,
        }
    }
}

fn ratio((hits, n): (u64, u64)) -> f64 {
    true_div(i128::from(hits), n)
}

impl Windowed for RatioLogic {
    type Part = (u64, u64);
    type Total = (u64, u64);

    fn window(&mut self) -> &mut Window<(u64, u64), (u64, u64)> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        self.win.total(key).is_some_and(|&acc| {
            i128::from(acc.1) >= i128::from(self.min_count)
                && self.win.op.holds(ratio(acc), self.win.threshold)
        })
    }

    fn expire(&mut self, d: &mut Parts, content: Drained<(u64, u64)>, t: i64) {
        for (slot, part) in content {
            if slot == NIL {
                continue;
            }
            let key = self.win.key_at(slot).clone();
            let acc = self.win.total_at(slot);
            acc.0 = acc.0.saturating_sub(part.0);
            acc.1 = acc.1.saturating_sub(part.1);
            if acc.1 == 0 {
                self.win.remove(&key);
                windowed::group_gone(self, d, &key, t);
            } else {
                windowed::evaluate(self, d, &key, t);
            }
        }
    }
}

impl Logic for RatioLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let hints = self.win.slots_of(sel.keyed().map(|(_, k)| k));
        for (((i, key), val), hint) in sel.keyed().zip(sel.vals).zip(hints) {
            let hit = u64::from(matches!(val, Val::Flag(true)));
            let now = reach(self, d, i, clock);
            let e = events[i];
            let b = self.win.index(e.ts);
            let Some(added) = self.win.add(b, now, &mut d.common.tick, key, hint) else {
                continue;
            };
            *added.part = (added.part.0 + hit, added.part.1 + 1);
            *added.total = (added.total.0 + hit, added.total.1 + 1);
            let slot = added.slot;
            if added.new_group {
                if let Some(first) = self.win.over_cap(d.common.cap) {
                    windowed::evict(self, d, &first, now);
                }
            } else {
                self.win.move_back(slot);
            }
            if hit == 1 {
                d.common.note(key, e);
            }
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
        // no events: no ratio
        let value = self.win.total(key).map_or(Measure::Null, |&acc| {
            Measure::Num(Number::Float(round_to(ratio(acc), SHOWN_DIGITS)))
        });
        windowed::window_evidence(c, key, at, value)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.win.len()
    }
}
