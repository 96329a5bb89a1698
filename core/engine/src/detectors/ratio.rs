//! `ratio`: events matching `numerator` over the group's events in a sliding window.
//!
//! Per bucket and per group `(numerator, denominator)`; totals the same.

use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::arith::{round_to, true_div};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::rule::RuleSpec;
use crate::select::{Selection, Val};
use crate::value::Number;

use super::windowed::{self, Groups, Window, Windowed};
use super::{catch_up, Common, Logic, Parts};

/// Digits after the point of the ratio shown in evidence.
const SHOWN_DIGITS: usize = 6;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatioLogic {
    win: Window<(u64, u64)>,
    totals: Groups<(u64, u64)>,
    min_count: i64,
}

impl RatioLogic {
    pub fn new(rule: &RuleSpec) -> RatioLogic {
        let d = &rule.detect;
        RatioLogic {
            win: Window::new(d),
            totals: Groups::default(),
            min_count: d.min_count,
        }
    }
}

fn ratio((hits, n): (u64, u64)) -> f64 {
    true_div(i128::from(hits), n)
}

impl Windowed for RatioLogic {
    type Part = (u64, u64);

    fn window(&mut self) -> &mut Window<(u64, u64)> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        self.totals.get(key).is_some_and(|&acc| {
            i128::from(acc.1) >= i128::from(self.min_count)
                && self.win.op.holds(ratio(acc), self.win.threshold)
        })
    }

    fn expire(&mut self, d: &mut Parts, content: Groups<(u64, u64)>, t: i64) {
        for (key, part) in content {
            let acc = self.totals.get_mut(&key).expect("a counted group");
            acc.0 = acc.0.saturating_sub(part.0);
            acc.1 = acc.1.saturating_sub(part.1);
            if acc.1 == 0 {
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

impl Logic for RatioLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selection, clock: &BatchClock) {
        for ((&i, key), val) in sel.idxs.iter().zip(&sel.keys).zip(&sel.vals) {
            let hit = u64::from(matches!(val, Val::Flag(true)));
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
                Some(part) => *part = (part.0 + hit, part.1 + 1),
                None => {
                    groups.insert(key.clone(), (hit, 1));
                }
            }
            match self.totals.to_back(key) {
                Some(acc) => *acc = (acc.0 + hit, acc.1 + 1),
                None => {
                    self.totals.insert(key.clone(), (hit, 1));
                    if let Some(first) = windowed::over_cap(&self.totals, d.common.cap) {
                        windowed::evict(self, d, &first, now);
                    }
                }
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
        let value = self.totals.get(key).map_or(Measure::Null, |&acc| {
            Measure::Num(Number::Float(round_to(ratio(acc), SHOWN_DIGITS)))
        });
        windowed::window_evidence(c, key, at, value)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.totals.len()
    }
}
