//! What every detector shares: selection, the lifecycle, time catch-up, samples, evidence.
//!
//! A detector type implements [`Logic`]: `apply` (the per-event loop over its selected events)
//! and, if it keeps time-driven state, `next_drain`/`drain` (window buckets leaving the window,
//! on the stream clock) and `next_timer`/`fire` (deadlines on the watermark: absence,
//! sequences). [`Detector`] drives it and owns what all types share ([`Parts`]).

mod absence;
mod count;
mod distinct;
mod evidence;
mod matching;
mod new_value;
mod ratio;
mod scalars;
mod sequence;
mod spike;
mod threshold;
mod windowed;

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Transition};
use crate::clock::{BatchClock, NEVER};
use crate::event::{Event, Schema};
use crate::filter::Path;
use crate::lifecycle::{Lifecycle, Policy};
use crate::rule::{Aggregate, DetectorType, RuleSpec, Settings};
use crate::select::{GroupKeys, Selected, Selection, Selector};

pub use evidence::{shown_top, TopCounts, TOP_SHOWN, TOP_VALUES_PER_FIELD};

/// Counters per rule, read by the CLI summary and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    pub matches: u64,
    pub triggers: u64,
    pub resolves: u64,
    pub cap_evictions: u64,
    /// Sequence partial matches not started because their group had the most already.
    pub partials_dropped: u64,
    /// Pages held back by the throttle (the lifecycle's count, read with the others).
    pub suppressed: u64,
}

/// The state every detector type has besides its own. Fields marked `skip` come from the rule
/// and the settings, not from saved state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Common {
    #[serde(skip)]
    pub settings: Settings,
    /// Most groups the rule keeps (the rule's `max_groups` or the engine's).
    #[serde(skip)]
    pub cap: usize,
    pub stats: RuleStats,
    pub emitted: Vec<(u64, Transition)>,
    pub samples: FxHashMap<Key, VecDeque<String>>,
    pub tops: FxHashMap<Key, TopCounts>,
    /// Per group: event time of the first counted event, events counted.
    pub counted: FxHashMap<Key, (i64, u64)>,
    #[serde(skip)]
    pub top_fields: Box<[(String, Path)]>,
    /// Stream time at which the detector next needs to catch up by itself.
    pub tick: i64,
    pub now: i64,
    pub wm: i64,
    #[serde(skip)]
    pub lateness: i64,
    #[serde(skip)]
    pub window_ms: i64,
}

impl Common {
    /// Remember a selected event of the group for evidence (ids, top values).
    pub fn note(&mut self, key: &Key, e: &Event) {
        match self.counted.get_mut(key) {
            Some(span) => {
                span.0 = span.0.min(e.ts);
                span.1 += 1;
            }
            None => {
                self.counted.insert(key.clone(), (e.ts, 1));
            }
        }
        let keep = self.settings.sample_ids;
        let ids = match self.samples.get_mut(key) {
            Some(ids) => ids,
            None => self.samples.entry(key.clone()).or_default(),
        };
        let id = e.event_id();
        if !ids.is_empty() && ids.len() >= keep {
            // The oldest id's buffer takes the new one: a full group allocates nothing.
            let mut oldest = ids.pop_front().unwrap_or_default();
            oldest.clear();
            oldest.push_str(id);
            ids.push_back(oldest);
        } else if keep > 0 {
            ids.push_back(id.to_string());
        }
        if !self.top_fields.is_empty() {
            let counts = match self.tops.get_mut(key) {
                Some(counts) => counts,
                None => self
                    .tops
                    .entry(key.clone())
                    .or_insert_with(|| evidence::empty_counts(&self.top_fields)),
            };
            evidence::count_top(counts, &self.top_fields, e);
        }
    }

    /// `evidence.top` of an occurrence that is one event: its own values.
    pub fn event_top(&self, e: &Event) -> Vec<(String, Vec<(crate::value::Scalar, u64)>)> {
        if self.top_fields.is_empty() {
            return Vec::new();
        }
        let mut counts = evidence::empty_counts(&self.top_fields);
        evidence::count_top(&mut counts, &self.top_fields, e);
        shown_top(&counts, &self.top_fields)
    }

    pub fn sample_ids(&self, key: &Key) -> Vec<Box<str>> {
        self.samples
            .get(key)
            .map(|ids| ids.iter().map(|id| id.as_str().into()).collect())
            .unwrap_or_default()
    }

    pub fn top_of(&self, key: &Key) -> Vec<(String, Vec<(crate::value::Scalar, u64)>)> {
        self.tops
            .get(key)
            .map(|c| shown_top(c, &self.top_fields))
            .unwrap_or_default()
    }

    /// (first counted event time, events counted) behind the group's samples and top.
    pub fn counted_span(&self, key: &Key) -> (Option<i64>, u64) {
        match self.counted.get(key) {
            Some(&(since, n)) => (Some(since), n),
            None => (None, 0),
        }
    }

    /// Evidence with the group's samples, top values and counted span.
    pub fn base_evidence(&self, key: &Key) -> Evidence {
        let (since, counted) = self.counted_span(key);
        Evidence {
            sample_event_ids: self.sample_ids(key),
            top: self.top_of(key),
            counted_since: since,
            counted_events: counted,
            ..Evidence::default()
        }
    }

    pub fn forget(&mut self, key: &Key) {
        self.samples.remove(key);
        self.tops.remove(key);
        self.counted.remove(key);
    }
}

/// A detector's shared state and its lifecycle, borrowed apart from the type's own state so the
/// lifecycle can ask the type for evidence while it decides.
#[derive(Debug, Clone)]
pub struct Parts {
    pub common: Common,
    pub lc: Lifecycle,
}

impl Parts {
    /// Move the lifecycle's new transitions to the output, tagged with position `seq`, or with
    /// a transition's own floor where that is later (a timer set after `seq`).
    pub fn collect(&mut self, seq: u64) {
        for (floor, tr) in self.lc.out.drain(..) {
            match tr.action {
                crate::alert::Action::Trigger => self.common.stats.triggers += 1,
                crate::alert::Action::Resolve => self.common.stats.resolves += 1,
            }
            self.common.emitted.push((seq.max(floor), tr));
        }
    }

    /// Wake up no later than the lifecycle's next timer.
    pub fn note_timer(&mut self) {
        if let Some(due) = self.lc.next_due() {
            self.common.tick = self.common.tick.min(due);
        }
    }
}

/// One detector type's own state and per-event logic.
pub trait Logic {
    /// Apply the rule's selected events of a batch (catching up with time as it goes).
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock);

    /// Stream time at which window state next changes by itself.
    fn next_drain(&self) -> i64 {
        NEVER
    }

    /// Apply every window change due at stream time `t`.
    fn drain(&mut self, _d: &mut Parts, _t: i64) {}

    /// Watermark at which a detector deadline next falls due.
    fn next_timer(&self) -> i64 {
        NEVER
    }

    /// Fire detector deadlines due at or before watermark `wm`.
    fn fire(&mut self, _d: &mut Parts, _wm: i64) {}

    fn evidence_at(&mut self, c: &Common, key: &Key, at: i64) -> Evidence {
        let _ = at;
        Evidence {
            sample_event_ids: c.sample_ids(key),
            top: c.top_of(key),
            ..Evidence::default()
        }
    }

    /// Groups the detector holds state for.
    fn group_count(&self, d: &Parts) -> usize;
}

/// Bring the rule to accepted event `i` of the batch: what fell due before the event happens
/// first, and what the event pages or sets goes at its position. Returns the stream clock at
/// the event.
pub fn reach<L: Logic>(logic: &mut L, d: &mut Parts, i: usize, clock: &BatchClock) -> i64 {
    let now = clock.nows[i];
    if now >= d.common.tick {
        catch_up(logic, d, now, now - clock.lateness, clock);
    }
    d.lc.seq = clock.seq0 + i as u64;
    now
}

/// Run every drain and deadline up to stream time `now` / watermark `wm`, in event-time order:
/// lifecycle timers and window drains on the stream clock, detector deadlines on the watermark;
/// at equal event times a deadline goes before a drain. Each step goes at the position where
/// the stream clock reached its time (a deadline: its time plus the lateness), and what it
/// pages no earlier than what set the timer that fired.
pub fn catch_up<L: Logic>(logic: &mut L, d: &mut Parts, now: i64, wm: i64, clock: &BatchClock) {
    let lateness = clock.lateness;
    let position = |at: i64| {
        if at <= now {
            clock.seq_for_now(at)
        } else {
            clock.end()
        }
    };
    loop {
        let nd = logic.next_drain();
        let lt = d.lc.next_due().unwrap_or(NEVER);
        let dt = logic.next_timer();
        let seq;
        if lt <= now && lt <= nd && (lt <= dt || dt > wm) {
            seq = position(lt);
            d.lc.seq = seq;
            d.common.now = d.common.now.max(lt);
            let common = &d.common;
            d.lc.fire_due(lt, &mut |k, a| logic.evidence_at(common, k, a));
        } else if dt <= wm && dt <= nd {
            seq = position(dt + lateness);
            d.lc.seq = seq;
            d.common.wm = dt;
            logic.fire(d, dt);
        } else if nd <= now {
            seq = position(nd);
            d.lc.seq = seq;
            d.common.now = nd;
            logic.drain(d, nd);
        } else {
            break;
        }
        d.collect(seq);
    }
    d.common.now = d.common.now.max(now);
    d.common.wm = d.common.wm.max(wm);
    d.lc.forget_throttles(wm);
    let lt = d.lc.next_due().unwrap_or(NEVER);
    d.common.tick = logic
        .next_drain()
        .min(lt)
        .min(logic.next_timer().saturating_add(d.common.lateness));
}

/// A rule's detector: its selection, shared parts and the type's logic.
#[derive(Debug, Clone)]
pub struct Detector<L> {
    pub selector: Selector,
    pub parts: Parts,
    pub logic: L,
    /// A batch's selection, kept for its buffers.
    sel: Selection,
}

/// What the engine needs of any detector, whatever its type.
pub trait Drive {
    fn selector(&self) -> &Selector;
    /// Apply this rule's selected events of a batch (keys from `keys`, the batch's keys for
    /// its `group_by`), then catch up to the batch's end.
    fn process(&mut self, events: &[&Event], keys: &mut GroupKeys, clock: &BatchClock);
    fn catch_up(&mut self, now: i64, wm: i64, clock: &BatchClock);
    fn take_emitted(&mut self) -> Vec<(u64, Transition)>;
    fn stats(&self) -> RuleStats;
    fn group_count(&self) -> usize;
    /// The detector's state in the snapshot format (docs/worker.md).
    fn save(&self) -> Result<Vec<u8>, String>;
    /// Take over saved state, keeping what comes from the rule and the settings.
    fn load(&mut self, saved: &[u8]) -> Result<(), String>;
}

#[derive(Serialize)]
struct SavedRef<'a, L> {
    common: &'a Common,
    lc: &'a Lifecycle,
    logic: &'a L,
}

#[derive(Deserialize)]
struct Saved<L> {
    common: Common,
    lc: Lifecycle,
    logic: L,
}

impl<L: Logic + Serialize + DeserializeOwned> Drive for Detector<L> {
    fn selector(&self) -> &Selector {
        &self.selector
    }

    fn process(&mut self, events: &[&Event], keys: &mut GroupKeys, clock: &BatchClock) {
        let sel = &mut self.sel;
        self.selector.select_all(events, keys, sel);
        if !sel.is_empty() {
            self.parts.common.stats.matches += sel.len() as u64;
            let selected = Selected::new(sel, keys);
            self.logic.apply(&mut self.parts, events, &selected, clock);
        }
        sel.clear();
        catch_up(
            &mut self.logic,
            &mut self.parts,
            clock.final_now,
            clock.final_wm,
            clock,
        );
    }

    fn catch_up(&mut self, now: i64, wm: i64, clock: &BatchClock) {
        catch_up(&mut self.logic, &mut self.parts, now, wm, clock);
    }

    fn take_emitted(&mut self) -> Vec<(u64, Transition)> {
        std::mem::take(&mut self.parts.common.emitted)
    }

    fn stats(&self) -> RuleStats {
        RuleStats {
            suppressed: self.parts.lc.suppressed,
            ..self.parts.common.stats
        }
    }

    fn group_count(&self) -> usize {
        self.logic.group_count(&self.parts)
    }

    fn save(&self) -> Result<Vec<u8>, String> {
        let saved = SavedRef {
            common: &self.parts.common,
            lc: &self.parts.lc,
            logic: &self.logic,
        };
        crate::snapshot::to_vec(&saved)
    }

    fn load(&mut self, saved: &[u8]) -> Result<(), String> {
        let Saved {
            mut common,
            mut lc,
            logic,
        } = postcard::from_bytes::<Saved<L>>(saved).map_err(|e| e.to_string())?;
        let fresh = &mut self.parts.common;
        common.settings = fresh.settings;
        common.cap = fresh.cap;
        common.top_fields = std::mem::take(&mut fresh.top_fields);
        common.lateness = fresh.lateness;
        common.window_ms = fresh.window_ms;
        lc.policy = self.parts.lc.policy;
        self.parts = Parts { common, lc };
        self.logic = logic;
        Ok(())
    }
}

/// The detector for a rule, with its fields added to the schema.
pub fn make_detector(
    rule: &RuleSpec,
    settings: Settings,
    schema: &mut Schema,
) -> Result<Box<dyn Drive + Send + Sync>, String> {
    let selector = Selector::new(rule, schema)?;
    let sel = selector.selection();
    let top_fields = rule
        .evidence_top
        .iter()
        .map(|p| (p.join("."), Path::new(schema, p)))
        .collect();
    let parts = Parts {
        common: Common {
            settings,
            cap: rule.max_groups.unwrap_or(settings.max_groups),
            stats: RuleStats::default(),
            emitted: Vec::new(),
            samples: FxHashMap::default(),
            tops: FxHashMap::default(),
            counted: FxHashMap::default(),
            top_fields,
            tick: NEVER,
            now: -NEVER,
            wm: -NEVER,
            lateness: settings.allowed_lateness_ms,
            window_ms: rule.detect.window_ms,
        },
        lc: Lifecycle::new(Policy {
            for_ms: rule.for_ms,
            resolve_after_ms: rule.resolve_after_ms,
            throttle_ms: rule.throttle_ms,
        }),
    };
    match rule.detect.kind {
        DetectorType::Match => Ok(Box::new(Detector {
            selector,
            parts,
            logic: matching::MatchLogic,
            sel,
        })),
        DetectorType::Spike => Ok(Box::new(Detector {
            selector,
            parts,
            logic: spike::SpikeLogic::new(rule),
            sel,
        })),
        DetectorType::NewValue => Ok(Box::new(Detector {
            selector,
            parts,
            logic: new_value::NewValueLogic::new(rule),
            sel,
        })),
        DetectorType::Absence => Ok(Box::new(Detector {
            selector,
            parts,
            logic: absence::AbsenceLogic::new(rule.detect.window_ms),
            sel,
        })),
        DetectorType::Sequence => Ok(Box::new(Detector {
            selector,
            parts,
            logic: sequence::SequenceLogic::new(&rule.detect.steps, rule.detect.within_ms),
            sel,
        })),
        DetectorType::Threshold if rule.detect.aggregate == Aggregate::Count => {
            Ok(Box::new(Detector {
                selector,
                parts,
                logic: count::CountLogic::new(rule),
                sel,
            }))
        }
        DetectorType::Threshold => Ok(Box::new(Detector {
            selector,
            parts,
            logic: threshold::AggregateLogic::new(rule),
            sel,
        })),
        DetectorType::Distinct => Ok(Box::new(Detector {
            selector,
            parts,
            logic: distinct::DistinctLogic::new(rule),
            sel,
        })),
        DetectorType::Ratio => Ok(Box::new(Detector {
            selector,
            parts,
            logic: ratio::RatioLogic::new(rule),
            sel,
        })),
    }
}
