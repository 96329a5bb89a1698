//! `spike`: the current window's count or sum against the windows before it.
//!
//! Spikes are judged on bucket boundaries, on whole buckets only: at a boundary t the current
//! window is [t-w, t) and baseline window j is [t-(j+1)w, t-jw), j = 1..k (with seasonality P,
//! [t-jP-w, t-jP)). A bucket still filling is in none of them, so constant traffic compares
//! equal windows and never fires. Per group, `sums` keeps `[amount, count]` of each window
//! 0..k side by side, so a boundary moves a bucket's contributions one window on and re-judges
//! only the groups it holds.
//!
//! While a group's condition holds, and until the windows it held in have left the baseline,
//! its baseline stays frozen at its value when the condition first held: a sustained attack
//! never becomes its own baseline.

mod baseline;
mod stages;

use hashlink::LinkedHashMap;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::arith::round_to;
use crate::clock::{BatchClock, NEVER};
use crate::event::Event;
use crate::keymap::KeyMap;
use crate::rule::{Aggregate, Baseline, Direction, RuleSpec};
use crate::select::{Selected, Val};
use crate::value::Number;

use super::{reach, Common, Logic, Parts};
use stages::Stages;

/// A group's amount (exact while every added value is an integer) and event count in a bucket.
type Part = (Number, u64);

/// Groups in the order of their first event in the bucket: a drain re-judges them so.
type Bucket = KeyMap<Part>;

/// A group's baseline while its condition holds, and when it may move again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Frozen {
    amount: f64,
    count: f64,
    /// NEVER while the condition holds.
    release: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpikeLogic {
    stages: Stages,
    factor: f64,
    min_count: f64,
    direction: Direction,
    median: bool,
    counting: bool,
    /// The exact window length.
    span: i64,
    /// How long a group must have been seen before it is judged; also how long a baseline
    /// stays frozen after its condition last held.
    history_ms: i64,
    /// The first bucket still filling: buckets below it are complete.
    boundary: i64,
    /// In creation order: a drain moves them, and re-judges their groups, in that order.
    buckets: LinkedHashMap<i64, Bucket, FxBuildHasher>,
    /// Per group: amount and count of each window 0..k, interleaved.
    sums: FxHashMap<Key, Box<[f64]>>,
    /// First-seen order: the cap evicts from the front.
    first_seen: KeyMap<i64>,
    frozen: FxHashMap<Key, Frozen>,
    true_keys: FxHashSet<Key>,
}

impl SpikeLogic {
    pub fn new(rule: &RuleSpec) -> SpikeLogic {
        let d = &rule.detect;
        let res = d.bucket_ms;
        let n = (d.window_ms + res - 1) / res;
        let span = n * res;
        let k = d.baseline_windows;
        let seasonal = d.seasonality_ms != 0;
        SpikeLogic {
            stages: Stages {
                res,
                n,
                k,
                period: seasonal.then(|| d.seasonality_ms / span),
            },
            factor: d.factor,
            min_count: d.min_count as f64,
            direction: d.direction,
            median: d.baseline == Baseline::Median,
            counting: d.aggregate == Aggregate::Count,
            span,
            history_ms: if seasonal {
                k * d.seasonality_ms + span
            } else {
                (k + 1) * span
            },
            boundary: -NEVER,
            buckets: LinkedHashMap::default(),
            sums: FxHashMap::default(),
            first_seen: KeyMap::default(),
            frozen: FxHashMap::default(),
            true_keys: FxHashSet::default(),
        }
    }

    fn stage(&self, b: i64) -> i64 {
        self.stages.stage(b, self.boundary)
    }

    /// End of the current window.
    fn end(&self) -> i64 {
        self.boundary.saturating_mul(self.stages.res)
    }

    /// (baseline amount, mean count per baseline window) now in force for the group.
    fn baseline_of(&self, key: &Key) -> (f64, f64) {
        if let Some(f) = self.frozen.get(key) {
            return (f.amount, f.count);
        }
        let Some(sums) = self.sums.get(key) else {
            return (0.0, 0.0);
        };
        let k = self.stages.k as f64;
        let amounts = sums[2..].iter().step_by(2).copied();
        let base = if self.median {
            baseline::median(amounts)
        } else {
            baseline::sum(amounts) / k
        };
        (
            base,
            baseline::sum(sums[3..].iter().step_by(2).copied()) / k,
        )
    }

    fn holds(&self, key: &Key) -> bool {
        let Some(&first) = self.first_seen.get(key) else {
            return false;
        };
        if first > self.end().saturating_sub(self.history_ms) {
            return false;
        }
        let Some(sums) = self.sums.get(key) else {
            return false;
        };
        let (base, base_count) = self.baseline_of(key);
        if base <= 0.0 {
            return false;
        }
        let (cur, cur_count) = (sums[0], sums[1]);
        let up = || cur_count >= self.min_count && cur >= self.factor * base;
        let down = || base_count >= self.min_count && cur <= base / self.factor;
        match self.direction {
            Direction::Up => up(),
            Direction::Down => down(),
            Direction::Both => up() || down(),
        }
    }

    fn evidence(&self, c: &Common, key: &Key) -> Evidence {
        let end = self.end();
        let (base, _) = self.baseline_of(key);
        let value = self.sums.get(key).map_or(0.0, |s| s[0]);
        let direction = match self.direction {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        };
        Evidence {
            value: Measure::Num(Number::Float(value)),
            window_start: Some(end.saturating_sub(self.span)),
            window_end: Some(end),
            extra: vec![
                (
                    "baseline".into(),
                    Measure::Num(Number::Float(round_to(base, 6))),
                ),
                ("factor".into(), Measure::Num(Number::Float(self.factor))),
                ("direction".into(), Measure::Text(direction.to_string())),
            ],
            ..c.base_evidence(key)
        }
    }

    /// Re-judge the group at stream time `t`, freezing its baseline when its condition starts
    /// and releasing it once the windows it held in have left the baseline.
    fn evaluate(&mut self, d: &mut Parts, key: &Key, t: i64) {
        if self.frozen.get(key).is_some_and(|f| f.release <= t) {
            self.frozen.remove(key);
        }
        let was = self.true_keys.contains(key);
        let holds = self.holds(key);
        if holds && !was {
            let (amount, count) = self.baseline_of(key);
            let frozen = Frozen {
                amount,
                count,
                release: NEVER,
            };
            self.frozen.insert(key.clone(), frozen);
            self.true_keys.insert(key.clone());
            let common = &d.common;
            d.lc.cond_true(key, t, &mut |k, _| self.evidence(common, k));
        } else if was && !holds {
            self.true_keys.remove(key);
            let common = &d.common;
            d.lc.cond_false(key, t, &mut |k, _| self.evidence(common, k));
            if let Some(f) = self.frozen.get_mut(key) {
                f.release = t + self.history_ms;
            }
        }
        d.note_timer();
    }

    /// The group left the detector (no events in any window, or evicted): a held condition
    /// ends here.
    fn group_gone(&mut self, d: &mut Parts, key: &Key, t: i64) {
        d.common.forget(key);
        if self.true_keys.remove(key) {
            let common = &d.common;
            d.lc.cond_false(key, t, &mut |k, _| self.evidence(common, k));
            d.note_timer();
        }
    }

    fn drop_group(&mut self, key: &Key) {
        self.sums.remove(key);
        self.first_seen.remove(key);
        self.frozen.remove(key);
    }

    /// Drop the least recently seen group when the rule's group cap is reached.
    fn evict(&mut self, d: &mut Parts, key: &Key, t: i64) {
        for bucket in self.buckets.values_mut() {
            bucket.remove(key);
        }
        self.drop_group(key);
        d.common.stats.cap_evictions += 1;
        self.group_gone(d, key, t);
    }

    /// The group still has events in a bucket that is filling or waiting.
    fn stored(&self, key: &Key) -> bool {
        self.buckets
            .iter()
            .any(|(&b, content)| self.stage(b) < 0 && content.contains_key(key))
    }
}

/// Add a bucket's amount and count to window `stage` of the group's sums.
fn add(sums: &mut Box<[f64]>, stage: i64, amount: f64, count: f64) {
    let at = 2 * stage as usize;
    sums[at] += amount;
    sums[at + 1] += count;
}

/// `a + b` with Python's numbers: integers stay exact integers, anything else is a float.
fn plus(a: Number, b: Number) -> Number {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => Number::Int(x.saturating_add(y)),
        _ => Number::Float(a.as_f64() + b.as_f64()),
    }
}

impl Logic for SpikeLogic {
    fn apply(&mut self, d: &mut Parts, events: &[&Event], sel: &Selected, clock: &BatchClock) {
        let res = self.stages.res;
        let width = 2 * (self.stages.k as usize + 1);
        for ((i, key), val) in sel.keyed().zip(sel.vals) {
            let now = reach(self, d, i, clock);
            // No stored bucket changes stage before the next drain (> now), so the boundary
            // can move up to the clock: a late event's bucket is then judged complete.
            self.boundary = self.boundary.max(now.div_euclid(res));
            let e = events[i];
            let b = e.ts.div_euclid(res);
            let stage = self.stage(b);
            if stage > self.stages.k {
                continue; // older than every window
            }
            let amount = match (self.counting, val) {
                (true, _) => Number::Int(1),
                (false, Val::Num(x)) => *x,
                (false, _) => continue,
            };
            if !self.buckets.contains_key(&b) {
                self.buckets.insert(b, Bucket::default());
                d.common.tick = d.common.tick.min(self.next_drain());
            }
            let bucket = self.buckets.get_mut(&b).expect("bucket just made");
            match bucket.get_mut(key) {
                Some(part) => {
                    part.0 = plus(part.0, amount);
                    part.1 += 1;
                }
                None => {
                    bucket.insert(key.clone(), (amount, 1));
                }
            }
            if !self.first_seen.contains_key(key) {
                self.first_seen.insert(key.clone(), e.ts);
                if self.first_seen.len() > d.common.cap {
                    if let Some((oldest, _)) = self.first_seen.front() {
                        let oldest = oldest.clone();
                        self.evict(d, &oldest, now);
                    }
                }
            }
            d.common.note(key, e);
            if stage < 0 {
                continue;
            }
            // A late event into a complete bucket changes a window now.
            let sums = self
                .sums
                .entry(key.clone())
                .or_insert_with(|| vec![0.0; width].into());
            add(sums, stage, amount.as_f64(), 1.0);
            self.evaluate(d, key, now);
            if !d.lc.out.is_empty() {
                d.collect(clock.seq0 + i as u64);
            }
        }
    }

    fn next_drain(&self) -> i64 {
        self.buckets
            .keys()
            .map(|&b| self.stages.next_change(b, self.boundary))
            .min()
            .unwrap_or(NEVER)
    }

    fn drain(&mut self, d: &mut Parts, t: i64) {
        let k = self.stages.k;
        let width = 2 * (k as usize + 1);
        let old: Vec<(i64, i64)> = self.buckets.keys().map(|&b| (b, self.stage(b))).collect();
        self.boundary = t.div_euclid(self.stages.res);
        let mut touched: Vec<Key> = Vec::new();
        let mut seen: FxHashSet<Key> = FxHashSet::default();
        for (b, was) in old {
            let stage = self.stage(b);
            if stage == was {
                continue;
            }
            let Some(content) = self.buckets.get(&b) else {
                continue;
            };
            for (key, &(amount, count)) in content.iter() {
                if was >= 0 {
                    if let Some(sums) = self.sums.get_mut(key) {
                        add(sums, was, -amount.as_f64(), -(count as f64));
                    }
                }
                if (0..=k).contains(&stage) {
                    let sums = self
                        .sums
                        .entry(key.clone())
                        .or_insert_with(|| vec![0.0; width].into());
                    add(sums, stage, amount.as_f64(), count as f64);
                }
                if seen.insert(key.clone()) {
                    touched.push(key.clone());
                }
            }
            if stage > k {
                self.buckets.remove(&b);
            }
        }
        for key in touched {
            let empty = self
                .sums
                .get(&key)
                .is_some_and(|s| s[1..].iter().step_by(2).all(|&c| c == 0.0));
            if empty && !self.stored(&key) {
                self.drop_group(&key);
                self.group_gone(d, &key, t);
            } else {
                self.evaluate(d, &key, t);
            }
        }
    }

    fn evidence_at(&mut self, c: &Common, key: &Key, _at: i64) -> Evidence {
        self.evidence(c, key)
    }

    fn group_count(&self, _d: &Parts) -> usize {
        self.first_seen.len()
    }
}
