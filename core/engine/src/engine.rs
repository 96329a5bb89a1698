//! The engine: a rule set over batches of raw record values, in event time, no I/O, no clock.
//!
//! `process(batch)` decodes and applies records in arrival order; `advance(now)` moves the
//! stream clock without events (an idle stream in live mode); `flush()` ends the input (the
//! watermark catches up with the highest event time seen, no further). Each returns the alerts
//! that became due, in a deterministic order that does not depend on how the input was batched.

use std::borrow::Cow;
use std::time::Instant;

use crate::alert::Alert;
use crate::clock::{BatchClock, NEVER};
use crate::detectors::{make_detector, Drive, RuleStats};
use crate::event::{Event, EventError, Reason, Schema};
use crate::lanes::{self, decode_all, Lanes};
use crate::merge::{read_forwarded, Merger};
use crate::route::{FamilySpec, Format, Routed, Router};
use crate::rule::{RuleSpec, Settings};
use crate::select::BatchKeys;
use crate::snapshot::{self, EngineState, RuleState, SnapshotError};

/// Records decoded and applied at a time within a batch.
const PART_RECORDS: usize = 2048;

/// What one call produced.
#[derive(Debug, Default)]
pub struct Output {
    pub alerts: Vec<Alert>,
    /// Records that are not usable events: their position in the batch and why.
    pub dead_letters: Vec<(usize, EventError)>,
    /// Events accepted but older than the watermark, not applied.
    pub late: usize,
    /// With routing: per family, the on-time events to forward, by repartition partition.
    pub routed: Vec<Routed>,
    /// With routing: per family, per rule, the late events it would have read.
    pub family_late: Vec<Vec<u64>>,
    /// A family's partition: events the merge released and the engine applied.
    pub released: usize,
}

pub struct Engine {
    pub settings: Settings,
    rules: Vec<RuleSpec>,
    schema: Schema,
    detectors: Vec<Box<dyn Drive + Send + Sync>>,
    /// Group keys shared by rules grouped alike, and each detector's `group_by` among them.
    keys: BatchKeys,
    key_specs: Vec<usize>,
    /// The threads a batch runs on.
    lanes: Lanes,
    now: i64,
    seq: u64,
    late: u64,
    late_by_rule: Vec<u64>,
    router: Option<Router>,
    merger: Option<Merger>,
}

impl Engine {
    pub fn new(rules: Vec<RuleSpec>, settings: Settings) -> Result<Engine, String> {
        let mut schema = Schema::new();
        let detectors = build(&rules, settings, &mut schema)?;
        let mut keys = BatchKeys::default();
        let key_specs = key_specs(&detectors, &mut keys);
        Ok(Engine {
            settings,
            late_by_rule: vec![0; rules.len()],
            rules,
            schema,
            detectors,
            keys,
            key_specs,
            lanes: Lanes::new(settings.threads),
            now: -NEVER,
            seq: 0,
            late: 0,
            router: None,
            merger: None,
        })
    }

    /// Read repartition records from `sources` input partitions from now on (a family's
    /// partition): see `process_forwarded`.
    pub fn merge_from(&mut self, sources: u32) {
        match &mut self.merger {
            Some(merger) => merger.set_sources(sources),
            None => self.merger = Some(Merger::new(sources)),
        }
    }

    /// Apply repartition records `(offset, value)`: their events join the merge, those every
    /// source has passed are applied in event-time order, and the clock moves to the merge
    /// frontier. Events of records before `refill.0` at or before `refill.1` were applied
    /// before a restore and are skipped. Returns the alerts; late events are counted per rule.
    pub fn process_forwarded<B: AsRef<[u8]>>(
        &mut self,
        records: &[(i64, B)],
        refill: Option<(i64, i64)>,
    ) -> Output {
        let mut out = Output::default();
        let Some(mut merger) = self.merger.take() else {
            return out;
        };
        for (n, (offset, value)) in records.iter().enumerate() {
            let batch = match read_forwarded(value.as_ref()) {
                Ok(batch) => batch,
                Err(why) => {
                    let mut message = format!("bad repartition batch: {why}");
                    message.truncate(200);
                    out.dead_letters.push((
                        n,
                        EventError {
                            reason: Reason::Other,
                            message,
                        },
                    ));
                    continue;
                }
            };
            let mut events = batch.events;
            if let Some((until, applied)) = refill {
                if *offset < until {
                    events.retain(|(ts, _)| *ts > applied);
                }
            }
            let late = merger.add(events, *offset, merger.frontier());
            if !late.is_empty() {
                self.count_late_forwarded(&late);
            }
            merger.mark(batch.source, batch.watermark);
        }
        let released = merger.release();
        let frontier = merger.frontier();
        self.merger = Some(merger);
        if !released.is_empty() {
            let mut decoder = self.schema.decoder();
            let decoded: Vec<Event> = released
                .iter()
                .filter_map(|(_, raw)| decoder.decode_forwarded(raw).ok())
                .collect();
            out.released = decoded.len();
            self.apply(&decoded, &mut out);
        }
        if let Some(frontier) = frontier {
            if frontier > self.now {
                // Every source is past the frontier: the clock moves there, as if an event at
                // the frontier had come; not further, where events are still to be released.
                out.alerts.extend(self.advance(frontier));
            }
        }
        out
    }

    fn count_late_forwarded(&mut self, late: &[Vec<u8>]) {
        let mut decoder = self.schema.decoder();
        let events: Vec<Event> = late
            .iter()
            .filter_map(|raw| decoder.decode_forwarded(raw).ok())
            .collect();
        for (n, det) in self.detectors.iter().enumerate() {
            self.late_by_rule[n] += det.selector().count(events.iter()) as u64;
        }
    }

    /// Offset to commit on a family's partition: the oldest record whose events still wait.
    pub fn safe_offset(&self, next_offset: i64) -> i64 {
        self.merger
            .as_ref()
            .map_or(next_offset, |m| m.safe_offset(next_offset))
    }

    /// Events waiting in the merge for every source to pass them.
    pub fn buffered(&self) -> usize {
        self.merger.as_ref().map_or(0, Merger::buffered)
    }

    pub fn frontier(&self) -> Option<i64> {
        self.merger.as_ref().and_then(Merger::frontier)
    }

    /// Forward on-time events to these families' repartition partitions from now on (an
    /// input partition's engine), written in `format`; replaces earlier routing.
    pub fn set_routing(
        &mut self,
        families: &[FamilySpec],
        partitions: u32,
        record_limit: usize,
        format: Format,
    ) -> Result<(), String> {
        self.router = if families.is_empty() {
            None
        } else {
            Some(Router::new(
                families,
                partitions,
                record_limit,
                format,
                &mut self.schema,
            )?)
        };
        Ok(())
    }

    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    /// Switch to a new rule set; rules whose id and version are unchanged keep their state.
    pub fn reload(&mut self, rules: Vec<RuleSpec>) -> Result<(), String> {
        // The schema only grows, so the kept detectors' field slots stay valid.
        let mut kept: Vec<Option<Box<dyn Drive + Send + Sync>>> =
            std::mem::take(&mut self.detectors)
                .into_iter()
                .map(Some)
                .collect();
        let mut detectors = Vec::with_capacity(rules.len());
        let mut late_by_rule = Vec::with_capacity(rules.len());
        for rule in &rules {
            let old = self
                .rules
                .iter()
                .position(|r| r.id == rule.id && r.version == rule.version);
            let det = match old.and_then(|n| kept[n].take()) {
                Some(det) => det,
                None => build(std::slice::from_ref(rule), self.settings, &mut self.schema)?
                    .pop()
                    .expect("one detector per rule"),
            };
            detectors.push(det);
            let same_id = self.rules.iter().position(|r| r.id == rule.id);
            late_by_rule.push(same_id.map_or(0, |n| self.late_by_rule[n]));
        }
        self.key_specs = key_specs(&detectors, &mut self.keys);
        self.detectors = detectors;
        self.late_by_rule = late_by_rule;
        self.rules = rules;
        Ok(())
    }

    pub fn watermark(&self) -> i64 {
        self.now - self.settings.allowed_lateness_ms
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    /// Decode and apply a batch of record values.
    pub fn process<B: AsRef<[u8]> + Sync>(&mut self, records: &[B]) -> Output {
        let mut out = Output::default();
        if let Some(router) = &self.router {
            // Every family and partition has its entry, whatever the batch holds.
            router.route_into(&[], &mut out.routed);
            router.count_late(&[], &mut out.family_late);
        }
        // A large batch goes through in parts: the decoded events of one part stay in the
        // caches while every rule reads them. The outcome is that of one whole batch.
        for (n, part) in records.chunks(PART_RECORDS).enumerate() {
            let start = Instant::now();
            let threads = self.lanes.begin(part.len());
            let (events, dead) = decode_all(&self.schema, part, threads);
            let base = n * PART_RECORDS;
            out.dead_letters
                .extend(dead.into_iter().map(|(at, why)| (base + at, why)));
            self.apply(&events, &mut out);
            lanes::discard(events, threads);
            self.lanes
                .end(part.len(), start.elapsed().as_nanos() as f64);
        }
        out
    }

    /// Apply decoded events in arrival order.
    pub fn apply(&mut self, events: &[Event], out: &mut Output) {
        let lateness = self.settings.allowed_lateness_ms;
        let mut now = self.now;
        let mut accepted: Vec<&Event> = Vec::with_capacity(events.len());
        let mut nows = Vec::with_capacity(events.len());
        let mut late: Vec<&Event> = Vec::new();
        for e in events {
            if e.ts < now - lateness {
                late.push(e);
                continue;
            }
            now = now.max(e.ts);
            accepted.push(e);
            nows.push(now);
        }
        self.now = now;
        if let Some(router) = &self.router {
            // Decided here, in this partition's own order, which is the same in every run.
            router.route_into(&accepted, &mut out.routed);
            router.count_late(&late, &mut out.family_late);
        }
        if !late.is_empty() {
            self.late += late.len() as u64;
            for (n, det) in self.detectors.iter().enumerate() {
                self.late_by_rule[n] += det.selector().count(late.iter().copied()) as u64;
            }
        }
        let clock = BatchClock {
            seq0: self.seq,
            nows,
            lateness,
            final_now: now,
            final_wm: now - lateness,
        };
        self.lanes.run(
            &mut self.detectors,
            &self.key_specs,
            &mut self.keys,
            &accepted,
            &clock,
        );
        self.seq += accepted.len() as u64;
        out.alerts.extend(self.gather());
        out.late += late.len();
    }

    /// Move the stream clock to `now` without events: windows drain, timers fire.
    pub fn advance(&mut self, now: i64) -> Vec<Alert> {
        self.now = self.now.max(now);
        self.catch_up(self.now, self.watermark())
    }

    /// End of input: the watermark becomes the highest event time seen.
    pub fn flush(&mut self) -> Vec<Alert> {
        self.catch_up(self.now, self.now)
    }

    fn catch_up(&mut self, now: i64, wm: i64) -> Vec<Alert> {
        let clock = BatchClock {
            seq0: self.seq,
            nows: Vec::new(),
            lateness: self.settings.allowed_lateness_ms,
            final_now: now,
            final_wm: wm,
        };
        for det in &mut self.detectors {
            det.catch_up(now, wm, &clock);
        }
        self.gather()
    }

    fn gather(&mut self) -> Vec<Alert> {
        let mut tagged = Vec::new();
        for (n, det) in self.detectors.iter_mut().enumerate() {
            tagged.extend(det.take_emitted().into_iter().map(|(seq, tr)| (seq, n, tr)));
        }
        // Stable: one rule's transitions at one position keep their order.
        tagged.sort_by_key(|(seq, n, _)| (*seq, *n));
        tagged
            .into_iter()
            .map(|(_, rule, transition)| Alert { rule, transition })
            .collect()
    }

    pub fn stats(&self) -> Vec<RuleStats> {
        self.detectors.iter().map(|d| d.stats()).collect()
    }

    pub fn group_counts(&self) -> Vec<usize> {
        self.detectors.iter().map(|d| d.group_count()).collect()
    }

    pub fn late(&self) -> u64 {
        self.late
    }

    pub fn late_by_rule(&self) -> &[u64] {
        &self.late_by_rule
    }

    /// The engine's state in the snapshot format.
    pub fn save(&self) -> Result<Vec<u8>, String> {
        let rules = self
            .rules
            .iter()
            .zip(&self.detectors)
            .zip(&self.late_by_rule)
            .map(|((r, d), late)| {
                Ok(RuleState {
                    id: r.id.clone(),
                    version: r.version.clone(),
                    late: *late,
                    detector: d.save()?,
                })
            })
            .collect::<Result<_, String>>()?;
        snapshot::encode(&EngineState {
            now: self.now,
            seq: self.seq,
            late: self.late,
            rules,
            merge: self.merger.as_ref().map(Cow::Borrowed),
        })
    }

    /// An engine for `rules` that takes over a saved state: rules with an unchanged id and
    /// version get their saved detector state, the others start empty.
    pub fn restore(
        rules: Vec<RuleSpec>,
        settings: Settings,
        saved: &[u8],
    ) -> Result<Engine, SnapshotError> {
        let mut engine = Engine::new(rules, settings).map_err(SnapshotError::Corrupt)?;
        engine.load(saved)?;
        Ok(engine)
    }

    fn load(&mut self, saved: &[u8]) -> Result<(), SnapshotError> {
        let state = snapshot::decode(saved)?;
        for (n, rule) in self.rules.iter().enumerate() {
            if let Some(s) = state.rules.iter().find(|s| s.id == rule.id) {
                self.late_by_rule[n] = s.late;
                if s.version == rule.version {
                    self.detectors[n]
                        .load(&s.detector)
                        .map_err(|e| SnapshotError::Corrupt(format!("rule {}: {e}", rule.id)))?;
                }
            }
        }
        self.now = state.now;
        self.seq = state.seq;
        self.late = state.late;
        self.merger = state.merge.map(Cow::into_owned);
        Ok(())
    }
}

/// Each detector's `group_by` among the engine's key specs (added as needed).
fn key_specs(detectors: &[Box<dyn Drive + Send + Sync>], keys: &mut BatchKeys) -> Vec<usize> {
    detectors
        .iter()
        .map(|d| keys.spec(d.selector().group()))
        .collect()
}

fn build(
    rules: &[RuleSpec],
    settings: Settings,
    schema: &mut Schema,
) -> Result<Vec<Box<dyn Drive + Send + Sync>>, String> {
    rules
        .iter()
        .map(|r| make_detector(r, settings, schema).map_err(|e| format!("rule {}: {e}", r.id)))
        .collect()
}
