//! `absence`: a group that was seen sends no selected event for `window`.
//!
//! Each tracked group has exactly one entry in a heap of deadlines, pushed when it is created.
//! When the watermark passes an entry, the group is silent if its last event is still that old;
//! if it was seen since, the entry goes back with the new deadline. Events cost no heap work,
//! and silences fire in deadline order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::alert::{Evidence, Key, Measure};
use crate::clock::{BatchClock, NEVER};
use crate::event::Event;
use crate::keymap::KeyMap;
use crate::select::Selected;
use crate::value::Number;

use super::{reach, Common, Logic, Parts};

/// A seen group: its last event time and the deadline its heap entry holds.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Seen {
    last: i64,
    queued: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AbsenceLogic {
    window: i64,
    /// In creation order: the group cap evicts from the front.
    groups: KeyMap<Seen>,
    /// Silent groups with the deadline their silence began at, in the order they fell silent.
    silent: KeyMap<i64>,
    /// (due, push order, group): the order keeps equal deadlines first-pushed first.
    deadlines: BinaryHeap<Reverse<(i64, u64, Key)>>,
    order: u64,
}

impl AbsenceLogic {
    pub fn new(window: i64) -> AbsenceLogic {
        AbsenceLogic {
            window,
            groups: KeyMap::default(),
            silent: KeyMap::default(),
            deadlines: BinaryHeap::new(),
            order: 0,
        }
    }

    fn evidence(&self, c: &Common, key: &Key, at: i64) -> Evidence {
        // A group that is no longer silent (its resolve) measures no silence: an int 0.
        let value = match self.silent.get(key) {
            Some(&since) => Number::Float((at - (since - self.window)) as f64 / 1000.0),
            None => Number::Int(0),
        };
        Evidence {
            value: Measure::Num(value),
            window_start: Some(at - self.window),
            window_end: Some(at),
            ..c.base_evidence(key)
        }
    }

    fn track(&mut self, d: &mut Parts, key: &Key, ts: i64) {
        let due = ts + self.window;
        self.groups.insert(
            key.clone(),
            Seen {
                last: ts,
                queued: due,
            },
        );
        self.order += 1;
        self.deadlines.push(Reverse((due, self.order, key.clone())));
        d.common.tick = d.common.tick.min(due + d.common.lateness);
    }

    /// Over the cap: the oldest seen group goes first, a silent one only when none is left
    /// (which can be the group just tracked).
    fn evict_oldest(&mut self, d: &mut Parts, t: i64) {
        d.common.stats.cap_evictions += 1;
        let old = if let Some((old, _)) = self.groups.pop_front() {
            old
        } else {
            let Some((old, _)) = self.silent.pop_front() else {
                return;
            };
            let common = &d.common;
            d.lc.drop_group(&old, t, &mut |k, a| self.evidence(common, k, a));
            d.note_timer();
            old
        };
        d.common.forget(&old);
    }

    fn silence(&mut self, d: &mut Parts, key: &Key, due: i64) {
        self.groups.remove(key);
        self.silent.insert(key.clone(), due);
        let common = &d.common;
        d.lc.cond_true(key, due, &mut |k, a| self.evidence(common, k, a));
        d.note_timer();
    }
}

impl Logic for AbsenceLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        for (i, key) in sel.keyed() {
            reach(self, d, i, clock);
            let e = events[i];
            let ts = e.ts;
            let mut last = self.groups.get(key).map(|g| g.last);
            if let Some(seen) = last {
                if ts >= seen + self.window {
                    // The gap ended past the deadline: the silence happened first, whatever
                    // the watermark's lag, exactly as if the deadline had fired on time.
                    self.silence(d, key, seen + self.window);
                    last = None;
                }
            }
            match last {
                None => {
                    if self.silent.remove(key).is_some() {
                        let common = &d.common;
                        d.lc.cond_false(key, ts, &mut |k, a| self.evidence(common, k, a));
                        d.note_timer();
                    }
                    self.track(d, key, ts);
                    if self.groups.len() + self.silent.len() > d.common.cap {
                        self.evict_oldest(d, ts);
                    }
                }
                Some(seen) if ts > seen => {
                    if let Some(g) = self.groups.get_mut(key) {
                        g.last = ts;
                    }
                }
                Some(_) => {}
            }
            d.common.note(key, e);
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn next_timer(&self) -> i64 {
        self.deadlines
            .peek()
            .map_or(NEVER, |Reverse((due, _, _))| *due)
    }

    fn fire(&mut self, d: &mut Parts, wm: i64) {
        while let Some(Reverse((due, _, _))) = self.deadlines.peek() {
            if *due > wm {
                break;
            }
            let Some(Reverse((due, _, key))) = self.deadlines.pop() else {
                break;
            };
            let Some(g) = self.groups.get_mut(&key) else {
                continue; // evicted, or already silent
            };
            if g.queued != due {
                continue;
            }
            let actual = g.last + self.window;
            if actual > due {
                g.queued = actual;
                self.order += 1;
                self.deadlines.push(Reverse((actual, self.order, key)));
                continue;
            }
            self.silence(d, &key, due);
        }
    }

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        self.evidence(c, key, at)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.groups.len() + self.silent.len()
    }
}
