//! `threshold` with `aggregate: count`: the group's events in a sliding window.
//!
//! Counts are 32 bits wide, which keeps a group's part of a bucket at eight bytes and its
//! total beside its key at 24: most of a count rule's memory per group. A rule whose count
//! would pass `u32::MAX` turns every count 64 bits wide, once, and stays so: counts are exact
//! either way, and the saved form is the same (a count is a varint).
//! Every event first catches up with what is due by its time, timers set by the events before
//! it included: a resolve timer set by evicting a group fires before an event at its due time.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::{Evidence, Key, Measure};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::keymap::NIL;
use crate::rule::RuleSpec;
use crate::select::Selected;
use crate::value::Number;

use super::windowed::{self, Drained, Window, Windowed};
use super::{reach, Common, Logic, Parts};

/// A count's width.
pub trait Counter: Copy + Default + PartialEq + Into<u64> + Serialize + DeserializeOwned {
    /// One more, or None if it would not fit.
    fn plus_one(self) -> Option<Self>;
    fn minus(self, other: Self) -> Self;
}

impl Counter for u32 {
    fn plus_one(self) -> Option<u32> {
        self.checked_add(1)
    }

    fn minus(self, other: u32) -> u32 {
        self.saturating_sub(other)
    }
}

impl Counter for u64 {
    fn plus_one(self) -> Option<u64> {
        // 2**64 events are out of reach.
        Some(self.saturating_add(1))
    }

    fn minus(self, other: u64) -> u64 {
        self.saturating_sub(other)
    }
}

/// Counts of one width: per group and bucket, the events counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counted<C> {
    win: Window<C, C>,
}

impl<C: Counter> Windowed for Counted<C> {
    type Part = C;
    type Total = C;

    fn window(&mut self) -> &mut Window<C, C> {
        &mut self.win
    }

    fn holds(&mut self, key: &Key) -> bool {
        self.win
            .total(key)
            .is_some_and(|&n| self.win.op.holds(n.into() as f64, self.win.threshold))
    }

    fn expire(&mut self, d: &mut Parts, content: Drained<C>, t: i64) {
        for (slot, c) in content {
            if slot == NIL {
                continue;
            }
            let total = self.win.total_at(slot);
            *total = total.minus(c);
            let (total, gone) = (*total, *total == C::default());
            if !gone && (total.into() as f64) < self.win.warm && !self.win.held_at(slot) {
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

impl<C: Counter> Counted<C> {
    /// Apply the selected events from the `from`-th on; Some(j) if the j-th event's count would
    /// not fit, before anything of that event was counted.
    fn apply_from(
        &mut self,
        d: &mut Parts,
        events: &[&Event],
        sel: &Selected,
        clock: &BatchClock,
        from: usize,
    ) -> Option<usize> {
        let hints = self.win.slots_of(sel.keyed().skip(from).map(|(_, k)| k));
        for ((j, (i, key)), hint) in sel.keyed().enumerate().skip(from).zip(hints) {
            let now = reach(self, d, i, clock);
            let e = events[i];
            let b = self.win.index(e.ts);
            let Some(added) = self.win.add(b, now, &mut d.common.tick, key, hint) else {
                continue;
            };
            // A group that is new has counted nothing: only a known group may stop here, and
            // then the event is applied again from its start.
            let (Some(part), Some(total)) = (added.part.plus_one(), added.total.plus_one()) else {
                return Some(j);
            };
            *added.part = part;
            *added.total = total;
            let (total, slot) = (total.into() as f64, added.slot);
            if added.new_group {
                if let Some(first) = self.win.over_cap(d.common.cap) {
                    windowed::evict(self, d, &first, now);
                }
            }
            if total < self.win.warm {
                continue;
            }
            // A warm group moves to the back: the group cap evicts cold groups first.
            self.win.move_back(slot);
            d.common.note(key, e);
            let holds = self.win.op.holds(total, self.win.threshold);
            if !windowed::turn(self, d, key, now, holds) {
                continue;
            }
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
        None
    }
}

impl<C: Counter> Logic for Counted<C> {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        self.apply_from(d, events, sel, clock, 0);
    }

    fn next_drain(&self) -> i64 {
        self.win.next_drain()
    }

    fn drain(&mut self, d: &mut Parts, t: i64) {
        windowed::drain(self, d, t);
    }

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        let n: u64 = self.win.total(key).copied().unwrap_or_default().into();
        windowed::window_evidence(c, key, at, Measure::Num(Number::Int(i128::from(n))))
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.win.len()
    }
}

/// count: 32-bit counts until one would not fit, then 64-bit ones.
#[derive(Debug, Clone)]
pub enum CountLogic {
    Narrow(Counted<u32>),
    Wide(Counted<u64>),
}

impl CountLogic {
    pub fn new(rule: &RuleSpec) -> CountLogic {
        CountLogic::Narrow(Counted {
            win: Window::new(&rule.detect),
        })
    }

    /// Every count 64 bits wide from now on.
    fn widen(&mut self) {
        if let CountLogic::Narrow(narrow) = self {
            let win = narrow.win.take().map(u64::from, u64::from);
            *self = CountLogic::Wide(Counted { win });
        }
    }
}

macro_rules! either {
    ($logic:expr, $c:ident => $body:expr) => {
        match $logic {
            CountLogic::Narrow($c) => $body,
            CountLogic::Wide($c) => $body,
        }
    };
}

impl Logic for CountLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        if let CountLogic::Narrow(narrow) = self {
            let Some(at) = narrow.apply_from(d, events, sel, clock, 0) else {
                return;
            };
            self.widen();
            if let CountLogic::Wide(wide) = self {
                wide.apply_from(d, events, sel, clock, at);
            }
        } else {
            either!(self, c => c.apply(d, events, sel, clock));
        }
    }

    fn next_drain(&self) -> i64 {
        either!(self, c => c.next_drain())
    }

    fn drain(&mut self, d: &mut Parts, t: i64) {
        either!(self, c => c.drain(d, t))
    }

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        either!(self, w => w.evidence_at(c, key, at))
    }

    fn group_count(&self, d: &Parts) -> usize {
        either!(self, c => c.group_count(d))
    }
}

/// Saved as the counts were before they had two widths: the window, counts as varints.
impl Serialize for CountLogic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        either!(self, c => c.serialize(s))
    }
}

impl<'de> Deserialize<'de> for CountLogic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CountLogic, D::Error> {
        let wide = Counted::<u64>::deserialize(d)?;
        let fits = |n: &u64| u32::try_from(*n).is_ok();
        Ok(if wide.win.counts().all(fits) {
            let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            let win = wide.win.map(narrow, narrow);
            CountLogic::Narrow(Counted { win })
        } else {
            CountLogic::Wide(wide)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Action;
    use crate::engine::Engine;
    use crate::lifecycle::Lifecycle;
    use crate::snapshot;

    const BIG: u64 = u32::MAX as u64;

    fn engine(saved: Option<&[u8]>) -> Engine {
        // count per account over 1m in 10s buckets, above u32::MAX
        let rule = format!(
            r#"[{{"id":"big","version":"1","where":{{"kind":"cond","path":["org_id"],"op":"eq","arg":"o"}},"group_by":[["account_id"]],
            "detect":{{"type":"threshold","window_ms":60000,"bucket_ms":10000,
            "aggregate":"count","field":null,"op":">","threshold":{BIG}.0,"numerator":null,
            "min_count":1,"factor":0.0,"baseline_windows":0,"direction":"up",
            "baseline":"mean","seasonality_ms":0,"lookback_ms":0,"warmup_ms":0,"steps":[],
            "within_ms":0}},"for_ms":0,"resolve_after_ms":0,"throttle_ms":0,
            "evidence_top":[],"max_groups":10}}]"#
        );
        let rules = serde_json::from_str(&rule).unwrap();
        let settings = serde_json::from_str(
            r#"{"allowed_lateness_ms":0,"max_groups":10,"sample_ids":5,"threads":1}"#,
        )
        .unwrap();
        match saved {
            None => Engine::new(rules, settings).unwrap(),
            Some(bytes) => Engine::restore(rules, settings, bytes).unwrap(),
        }
    }

    fn event(n: u32, ts: i64) -> String {
        format!(r#"{{"event_id":"e{n}","ts":{ts},"org_id":"o","account_id":"a"}}"#)
    }

    /// The engine's saved state with the group's count (and its one part) set to `n`.
    fn with_count(saved: &[u8], n: u64) -> Vec<u8> {
        let mut state = snapshot::decode(saved).unwrap();
        let (common, lc, logic): (Common, Lifecycle, CountLogic) =
            postcard::from_bytes(&state.rules[0].detector).unwrap();
        let CountLogic::Narrow(narrow) = logic else {
            panic!("small counts are 32 bits wide");
        };
        let mut win = narrow.win.map(u64::from, u64::from);
        let key = win.key_at(0).clone();
        let mut tick = i64::MAX;
        let added = win.add(0, 1_000, &mut tick, &key, NIL).unwrap();
        (*added.part, *added.total) = (n, n);
        let wide = CountLogic::Wide(Counted { win });
        state.rules[0].detector = postcard::to_allocvec(&(common, lc, wide)).unwrap();
        snapshot::encode(&state).unwrap()
    }

    fn count_of(saved: &[u8]) -> CountLogic {
        let state = snapshot::decode(saved).unwrap();
        let (_, _, logic): (Common, Lifecycle, CountLogic) =
            postcard::from_bytes(&state.rules[0].detector).unwrap();
        logic
    }

    #[test]
    fn a_count_past_u32_max_widens_every_count_and_stays_exact() {
        let mut e = engine(None);
        assert!(e
            .process(&[event(1, 1_000), event(2, 2_000)])
            .alerts
            .is_empty());
        // Two events short of u32::MAX + 1, as if the events had been there.
        let saved = with_count(&e.save().unwrap(), BIG - 1);
        assert!(matches!(count_of(&saved), CountLogic::Narrow(_)));
        let mut e = engine(Some(&saved));
        assert!(e.process(&[event(3, 3_000)]).alerts.is_empty());
        assert!(matches!(
            count_of(&e.save().unwrap()),
            CountLogic::Narrow(_)
        ));
        // This one does not fit in 32 bits: counted all the same, and the rule fires.
        let alerts = e.process(&[event(4, 4_000)]).alerts;
        assert_eq!(alerts.len(), 1);
        let t = &alerts[0].transition;
        assert_eq!(t.action, Action::Trigger);
        let want = i128::from(BIG) + 1;
        assert_eq!(t.evidence.value, Measure::Num(Number::Int(want)));
        let saved = e.save().unwrap();
        assert!(matches!(count_of(&saved), CountLogic::Wide(_)));
        // A restore keeps the wide counts, and saves them back unchanged.
        let restored = engine(Some(&saved));
        assert_eq!(restored.save().unwrap(), saved);
        // When the bucket leaves the window the count is back to nothing, and it resolves.
        let mut e = engine(Some(&saved));
        let resolved = e.process(&[event(5, 200_000)]).alerts;
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].transition.action, Action::Resolve);
    }

    #[test]
    fn saved_counts_narrow_again_when_they_fit() {
        let mut e = engine(None);
        e.process(&[event(1, 1_000)]);
        let saved = with_count(&e.save().unwrap(), BIG);
        assert!(matches!(count_of(&saved), CountLogic::Narrow(_)));
        let saved = with_count(&e.save().unwrap(), BIG + 1);
        assert!(matches!(count_of(&saved), CountLogic::Wide(_)));
    }
}
