//! `match`: every event that passes `where` is an occurrence for its group.

use crate::alert::{Evidence, Measure};
use crate::clock::BatchClock;
use crate::event::Event;
use crate::select::Selected;
use crate::value::Number;

use super::{reach, Logic, Parts};

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MatchLogic;

impl Logic for MatchLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        for (i, key) in sel.keyed() {
            reach(self, d, i, clock);
            let e = events[i];
            let evidence = Evidence {
                value: Measure::Num(Number::Int(1)),
                sample_event_ids: vec![e.event_id().into()],
                top: d.common.event_top(e),
                ..Evidence::default()
            };
            let common = &d.common;
            d.lc.occurred(key, e.ts, evidence, &mut |k, at| {
                self.evidence_at(common, k, at)
            });
            d.note_timer();
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn group_count(&self, d: &Parts) -> usize {
        d.lc.throttled()
    }
}
