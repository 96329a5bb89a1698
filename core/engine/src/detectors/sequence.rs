//! `sequence`: ordered steps by the same group within `within`.
//!
//! Every partial match that can still complete is tracked, per group, oldest first. A partial
//! is dropped when a younger one reaches the same progress (whatever completes the older one
//! completes the younger one at the same event, and the younger has more time left), so the
//! list is ordered by age and by progress at once, and holds at most one partial per progress
//! state. Beyond [`MAX_PARTIALS`] per group, new starts are dropped and counted: the partials
//! kept are the ones furthest along.
//!
//! A partial that reached a final `absent` step waits for its deadline (first + within): an
//! event of that step at or before the deadline cancels it, the watermark passing the deadline
//! (or a later event of the group) makes it an occurrence. After an occurrence the group starts
//! over: every partial begun at or before it is dropped (no two matches share an event).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;

use crate::alert::{Evidence, Key, Measure};
use crate::clock::{BatchClock, NEVER};
use crate::event::Event;
use crate::keymap::KeyMap;
use crate::rule::StepSpec;
use crate::select::{Selected, Val};
use crate::value::Number;

use super::evidence::{count_top, empty_counts};
use super::{reach, shown_top, Common, Logic, Parts, TopCounts};

/// Event ids kept per partial.
pub const MAX_IDS: usize = 10;
/// Partials (waiting ones included) kept per group.
pub const MAX_PARTIALS: usize = 32;

/// A match in progress: at step `step`, `count` of its events seen.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Partial {
    step: usize,
    count: u32,
    first: i64,
    ids: VecDeque<Box<str>>,
    /// Counts of the `evidence.top` fields over the partial's events (None without any).
    top: Option<TopCounts>,
}

/// A partial at the final absent step, waiting for its deadline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Waiter {
    first: i64,
    ids: VecDeque<Box<str>>,
    /// Identifies its entry in the deadline heap.
    order: u64,
    top: Option<TopCounts>,
}

type Timers = BinaryHeap<Reverse<(i64, u64, Key)>>;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SequenceLogic {
    need: Box<[u32]>,
    absent: Box<[bool]>,
    within: i64,
    /// Per group, in creation order (the group cap evicts from the front).
    partials: KeyMap<Vec<Partial>>,
    waiting: FxHashMap<Key, Vec<Waiter>>,
    /// (first + within + 1, order, group) of every waiter.
    deadlines: Timers,
    /// When each partial stops being able to complete: (first + within + 1, order, group).
    expiries: Timers,
    order: u64,
}

impl SequenceLogic {
    pub fn new(steps: &[StepSpec], within: i64) -> SequenceLogic {
        SequenceLogic {
            need: steps.iter().map(|s| s.count).collect(),
            absent: steps.iter().map(|s| s.absent).collect(),
            within,
            partials: KeyMap::default(),
            waiting: FxHashMap::default(),
            deadlines: BinaryHeap::new(),
            expiries: BinaryHeap::new(),
            order: 0,
        }
    }

    fn steps(&self) -> usize {
        self.need.len()
    }

    /// Deadlines of the group before `ts` happened first; an event of the absent step cancels
    /// the waiters whose deadline is still ahead.
    fn settle(&mut self, d: &mut Parts, key: &Key, ts: i64, cancel: bool) {
        while let Some(waiting) = self.waiting.get_mut(key) {
            let Some((n, w)) = waiting.iter().enumerate().min_by_key(|(_, w)| w.first) else {
                break;
            };
            let due = w.first + self.within;
            // An absent-step event at the deadline is still in time.
            if due >= ts {
                break;
            }
            let w = waiting.remove(n);
            self.matched_by_deadline(d, key, w, due);
        }
        if cancel {
            self.waiting.remove(key);
        }
    }

    fn step(&mut self, d: &mut Parts, key: &Key, mask: u32, e: &Event) {
        let ts = e.ts;
        let within = self.within;
        let mut tracked = false;
        if let Some(plist) = self.partials.get_mut(key) {
            tracked = true;
            let gone = plist.iter().take_while(|p| ts - p.first > within).count();
            plist.drain(..gone);
            for p in plist.iter_mut() {
                if mask & (1 << p.step) != 0 {
                    advance(p, &self.need, &d.common, e);
                }
            }
        }
        if mask & 1 != 0 {
            if !tracked {
                self.partials.insert(key.clone(), Vec::new());
                tracked = true;
                if self.partials.len() > d.common.cap {
                    d.common.stats.cap_evictions += 1;
                    if let Some(oldest) = self.partials.front().map(|(k, _)| k.clone()) {
                        self.drop_group(&oldest);
                    }
                    if !self.partials.contains_key(key) {
                        return;
                    }
                }
            }
            let held = self.partials.get(key).map_or(0, Vec::len)
                + self.waiting.get(key).map_or(0, Vec::len);
            if held >= MAX_PARTIALS {
                d.common.stats.partials_dropped += 1;
            } else {
                let top =
                    (!d.common.top_fields.is_empty()).then(|| empty_counts(&d.common.top_fields));
                let mut p = Partial {
                    step: 0,
                    count: 0,
                    first: ts,
                    ids: VecDeque::new(),
                    top,
                };
                advance(&mut p, &self.need, &d.common, e);
                if let Some(plist) = self.partials.get_mut(key) {
                    plist.push(p);
                }
                self.order += 1;
                let due = ts + within + 1;
                self.expiries.push(Reverse((due, self.order, key.clone())));
                d.common.tick = d.common.tick.min(due + d.common.lateness);
            }
        }
        if tracked {
            self.settle_progress(d, key, ts);
        }
    }

    /// Complete, park at the absent step, or drop (dominated) the group's partials.
    fn settle_progress(&mut self, d: &mut Parts, key: &Key, ts: i64) {
        let Some(plist) = self.partials.get_mut(key) else {
            return;
        };
        let plist = std::mem::take(plist);
        let mut kept: Vec<Partial> = Vec::with_capacity(plist.len());
        for p in plist {
            if p.step == self.steps() {
                self.drop_group(key);
                let evidence = self.evidence(&d.common, p.first, &p.ids, ts, p.top.as_ref());
                self.occurred(d, key, ts, evidence);
                return;
            }
            if self.absent[p.step] {
                self.wait(d, key, p);
                continue;
            }
            match kept.last_mut() {
                // The younger partial dominates the older one.
                Some(last) if last.step == p.step && last.count == p.count => *last = p,
                _ => kept.push(p),
            }
        }
        if kept.is_empty() {
            self.partials.remove(key);
        } else if let Some(plist) = self.partials.get_mut(key) {
            *plist = kept;
        }
    }

    fn wait(&mut self, d: &mut Parts, key: &Key, p: Partial) {
        self.order += 1;
        self.waiting.entry(key.clone()).or_default().push(Waiter {
            first: p.first,
            ids: p.ids,
            order: self.order,
            top: p.top,
        });
        // The window includes its last instant: decided once the watermark is past it.
        let after = p.first + self.within + 1;
        self.deadlines
            .push(Reverse((after, self.order, key.clone())));
        d.common.tick = d.common.tick.min(after + d.common.lateness);
    }

    fn drop_group(&mut self, key: &Key) {
        self.partials.remove(key);
        self.waiting.remove(key);
    }

    /// A waiter reached its deadline: an occurrence; the group starts over from the partials
    /// begun after the deadline (moved to the back of the group order).
    fn matched_by_deadline(&mut self, d: &mut Parts, key: &Key, w: Waiter, due: i64) {
        let plist: Vec<Partial> = self
            .partials
            .remove(key)
            .unwrap_or_default()
            .into_iter()
            .filter(|x| x.first > due)
            .collect();
        let waiting: Vec<Waiter> = self
            .waiting
            .remove(key)
            .unwrap_or_default()
            .into_iter()
            .filter(|x| x.first > due)
            .collect();
        if !plist.is_empty() {
            self.partials.insert(key.clone(), plist);
        }
        if !waiting.is_empty() {
            self.waiting.insert(key.clone(), waiting);
        }
        let evidence = self.evidence(&d.common, w.first, &w.ids, due, w.top.as_ref());
        self.occurred(d, key, due, evidence);
    }

    fn occurred(&mut self, d: &mut Parts, key: &Key, t: i64, evidence: Evidence) {
        let common = &d.common;
        d.lc.occurred(key, t, evidence, &mut |k, a| self.evidence_at(common, k, a));
        d.note_timer();
    }

    fn evidence(
        &self,
        c: &Common,
        first: i64,
        ids: &VecDeque<Box<str>>,
        at: i64,
        top: Option<&TopCounts>,
    ) -> Evidence {
        Evidence {
            value: Measure::Num(Number::Int(self.steps() as i128)),
            window_start: Some(first),
            window_end: Some(at),
            sample_event_ids: ids.iter().cloned().collect(),
            top: top.map_or_else(Vec::new, |t| shown_top(t, &c.top_fields)),
            ..Evidence::default()
        }
    }
}

/// Count event `e` for partial `p`, moving it to the next step once the step has its count.
fn advance(p: &mut Partial, need: &[u32], c: &Common, e: &Event) {
    p.count += 1;
    if let Some(top) = p.top.as_mut() {
        count_top(top, &c.top_fields, e);
    }
    p.ids.push_back(e.event_id().into());
    if p.ids.len() > MAX_IDS {
        p.ids.pop_front();
    }
    if p.count >= need[p.step] {
        p.step += 1;
        p.count = 0;
    }
}

impl Logic for SequenceLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let last_bit = 1u32 << self.steps().saturating_sub(1);
        let absent_last = self.absent.last().copied().unwrap_or(false);
        for ((i, key), val) in sel.keyed().zip(sel.vals) {
            reach(self, d, i, clock);
            let Val::Mask(mask) = *val else { continue };
            let e = events[i];
            if self.waiting.contains_key(key) {
                self.settle(d, key, e.ts, absent_last && mask & last_bit != 0);
            }
            self.step(d, key, mask, e);
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn next_timer(&self) -> i64 {
        let soonest = |h: &Timers| h.peek().map_or(NEVER, |Reverse((due, _, _))| *due);
        soonest(&self.deadlines).min(soonest(&self.expiries))
    }

    fn fire(&mut self, d: &mut Parts, wm: i64) {
        let within = self.within;
        while let Some(Reverse((due, _, _))) = self.expiries.peek() {
            if *due > wm {
                break;
            }
            let Some(Reverse((_, _, key))) = self.expiries.pop() else {
                break;
            };
            let Some(plist) = self.partials.get_mut(&key) else {
                continue;
            };
            let gone = plist.iter().take_while(|p| p.first + within < wm).count();
            plist.drain(..gone);
            if plist.is_empty() {
                self.partials.remove(&key);
            }
        }
        while let Some(Reverse((due, _, _))) = self.deadlines.peek() {
            if *due > wm {
                break;
            }
            let Some(Reverse((_, order, key))) = self.deadlines.pop() else {
                break;
            };
            let Some(waiting) = self.waiting.get_mut(&key) else {
                continue;
            };
            if let Some(n) = waiting.iter().position(|w| w.order == order) {
                let w = waiting.remove(n);
                let due = w.first + within;
                self.matched_by_deadline(d, &key, w, due);
            }
        }
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.partials.len()
            + self
                .waiting
                .keys()
                .filter(|k| !self.partials.contains_key(k))
                .count()
    }
}
