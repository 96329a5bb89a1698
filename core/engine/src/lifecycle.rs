//! Alert lifecycle per group: for / resolve_after / throttle, driven by event time only.
//!
//! Detectors report what they see (a condition turned true or false, or an occurrence); the
//! lifecycle decides what is paged. Its timers (a pending `for`, a trigger deferred to the end
//! of a throttle, a due resolve) fire when the stream clock reaches them, in event-time order
//! with everything else: a key's due timer fires before any later change of that key, and a
//! timer due at t fires before another change at t. So the same input gives the same pages
//! live, in a backtest and whatever the allowed lateness.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::alert::{Action, Evidence, Key, Transition};
use crate::keymap::KeyMap;

/// Asked for a group's evidence at the moment a transition is emitted.
pub type EvidenceAt<'a> = dyn FnMut(&Key, i64) -> Evidence + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    pub for_ms: i64,
    pub resolve_after_ms: Option<i64>,
    pub throttle_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Pending,
    Firing,
    Resolving,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    state: State,
    due: i64,
    /// The timer generation that belongs to this episode; 0 when no timer is set.
    generation: u64,
    /// Evidence as of the moment the condition cleared, sent with the resolve.
    cleared: Option<Evidence>,
    /// Position of what set the timer: the page it fires is never put before it. Positions
    /// of earlier batches are all lower than the next batch's, so it is not saved.
    #[serde(skip)]
    armed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    /// From the rule: not part of saved state.
    #[serde(skip)]
    pub policy: Policy,
    episodes: FxHashMap<Key, Episode>,
    /// In trigger order, so the throttles that can no longer matter are at the front.
    last_trigger: KeyMap<i64>,
    timers: BinaryHeap<Reverse<(i64, u64, Key)>>,
    /// Transitions to collect, each with the lowest position it may be put at.
    pub out: Vec<(u64, Transition)>,
    /// Position in the stream of what is being applied (an event, or time reaching a point):
    /// the floor of what it pages and of the timers it sets.
    #[serde(skip)]
    pub seq: u64,
    pub suppressed: u64,
    generation: u64,
}

impl Lifecycle {
    pub fn new(policy: Policy) -> Lifecycle {
        Lifecycle {
            policy,
            ..Lifecycle::default()
        }
    }

    // -- condition detectors -----------------------------------------------------------------

    /// The group's condition turned true at `t`. Returns the due time of a timer it set.
    pub fn cond_true(&mut self, key: &Key, t: i64, evidence_at: &mut EvidenceAt) -> Option<i64> {
        match self.settle(key, t, evidence_at) {
            None => {
                let mut due = t + self.policy.for_ms;
                if self.policy.throttle_ms != 0 {
                    if let Some(&last) = self.last_trigger.get(key) {
                        let free_at = last + self.policy.throttle_ms;
                        if free_at > due {
                            self.suppressed += 1;
                            due = free_at;
                        }
                    }
                }
                if due <= t {
                    let evidence = evidence_at(key, t);
                    self.trigger(self.seq, key, t, evidence);
                    self.episodes.insert(key.clone(), Episode::firing());
                    None
                } else {
                    let ep = self.schedule(key, State::Pending, due);
                    self.episodes.insert(key.clone(), ep);
                    Some(due)
                }
            }
            Some(State::Resolving) => {
                let ep = self.episodes.get_mut(key).expect("settled episode");
                ep.state = State::Firing;
                ep.generation = 0;
                None
            }
            Some(_) => None,
        }
    }

    /// The group's condition turned false at `t`. Returns the due time of a timer it set.
    pub fn cond_false(&mut self, key: &Key, t: i64, evidence_at: &mut EvidenceAt) -> Option<i64> {
        match self.settle(key, t, evidence_at) {
            Some(State::Pending) => {
                self.episodes.remove(key);
                None
            }
            Some(State::Firing) => {
                let after = self.policy.resolve_after_ms.unwrap_or(0);
                if after == 0 {
                    self.episodes.remove(key);
                    let evidence = evidence_at(key, t);
                    self.out.push((
                        self.seq,
                        Transition {
                            action: Action::Resolve,
                            key: key.clone(),
                            at: t,
                            evidence,
                        },
                    ));
                    None
                } else {
                    let mut ep = self.schedule(key, State::Resolving, t + after);
                    ep.cleared = Some(evidence_at(key, t));
                    self.episodes.insert(key.clone(), ep);
                    Some(t + after)
                }
            }
            _ => None,
        }
    }

    /// The detector forgot the group (state cap): a held condition ends here.
    pub fn drop_group(&mut self, key: &Key, t: i64, evidence_at: &mut EvidenceAt) -> Option<i64> {
        self.cond_false(key, t, evidence_at)
    }

    // -- occurrence detectors ----------------------------------------------------------------

    /// An occurrence triggers unless throttled; with `resolve_after`, the page it opened (or the
    /// open page it falls into) resolves that long after the group's last occurrence. A
    /// suppressed occurrence after that resolve opens nothing: one resolve per trigger.
    pub fn occurred(
        &mut self,
        key: &Key,
        t: i64,
        evidence: Evidence,
        evidence_at: &mut EvidenceAt,
    ) -> Option<i64> {
        let state = self.settle(key, t, evidence_at);
        let throttled = self
            .last_trigger
            .get(key)
            .is_some_and(|&last| t < last + self.policy.throttle_ms);
        if throttled {
            self.suppressed += 1;
            state?;
        } else {
            self.trigger(self.seq, key, t, evidence);
        }
        let after = self.policy.resolve_after_ms.unwrap_or(0);
        if after == 0 {
            return None;
        }
        let open_until = state.and(self.episodes.get(key).map(|ep| ep.due));
        if open_until.is_none_or(|due| due < t + after) {
            let ep = self.schedule(key, State::Resolving, t + after);
            self.episodes.insert(key.clone(), ep);
            return Some(t + after);
        }
        None
    }

    // -- time --------------------------------------------------------------------------------

    pub fn next_due(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Fire every timer due at or before stream time `now`, in due order.
    pub fn fire_due(&mut self, now: i64, evidence_at: &mut EvidenceAt) {
        while let Some(Reverse((due, _, _))) = self.timers.peek() {
            if *due > now {
                break;
            }
            let Some(Reverse((_, generation, key))) = self.timers.pop() else {
                break;
            };
            if self
                .episodes
                .get(&key)
                .is_some_and(|ep| ep.generation == generation)
            {
                self.fire(&key, evidence_at);
            }
        }
    }

    /// The key's episode state once its timer due at or before `t` has fired (its heap entry is
    /// then stale and skipped).
    fn settle(&mut self, key: &Key, t: i64, evidence_at: &mut EvidenceAt) -> Option<State> {
        let ep = self.episodes.get(key)?;
        if ep.generation != 0 && ep.due <= t {
            self.fire(key, evidence_at);
            return self.episodes.get(key).map(|ep| ep.state);
        }
        Some(ep.state)
    }

    fn fire(&mut self, key: &Key, evidence_at: &mut EvidenceAt) {
        let Some(ep) = self.episodes.get_mut(key) else {
            return;
        };
        let due = ep.due;
        let floor = ep.armed.max(self.seq);
        match ep.state {
            State::Pending => {
                ep.state = State::Firing;
                ep.generation = 0;
                let evidence = evidence_at(key, due);
                self.trigger(floor, key, due, evidence);
            }
            State::Resolving => {
                let ep = self.episodes.remove(key).expect("present");
                let evidence = match ep.cleared {
                    Some(evidence) => evidence,
                    None => evidence_at(key, due),
                };
                self.out.push((
                    floor,
                    Transition {
                        action: Action::Resolve,
                        key: key.clone(),
                        at: due,
                        evidence,
                    },
                ));
            }
            State::Firing => {}
        }
    }

    fn trigger(&mut self, floor: u64, key: &Key, t: i64, evidence: Evidence) {
        self.out.push((
            floor,
            Transition {
                action: Action::Trigger,
                key: key.clone(),
                at: t,
                evidence,
            },
        ));
        if self.policy.throttle_ms != 0 {
            self.last_trigger.remove(key);
            self.last_trigger.insert(key.clone(), t);
        }
    }

    fn schedule(&mut self, key: &Key, state: State, due: i64) -> Episode {
        self.generation += 1;
        self.timers
            .push(Reverse((due, self.generation, key.clone())));
        Episode {
            state,
            due,
            generation: self.generation,
            cleared: None,
            armed: self.seq,
        }
    }

    /// Drop throttle memory that no event at or after the watermark can hit.
    pub fn forget_throttles(&mut self, watermark: i64) {
        let horizon = watermark - self.policy.throttle_ms;
        while let Some((_, &last)) = self.last_trigger.front() {
            if last > horizon {
                break;
            }
            self.last_trigger.pop_front();
        }
    }

    /// Groups with an open episode (pending, firing or resolving).
    pub fn active(&self) -> usize {
        self.episodes.len()
    }

    /// Groups whose throttle is remembered.
    pub fn throttled(&self) -> usize {
        self.last_trigger.len()
    }
}

impl Episode {
    fn firing() -> Episode {
        Episode {
            state: State::Firing,
            due: 0,
            generation: 0,
            cleared: None,
            armed: 0,
        }
    }
}
