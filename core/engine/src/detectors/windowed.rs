//! Sliding event-time windows kept as buckets shared by all groups of a rule.
//!
//! A window of `n` buckets of `res` ms keeps buckets [now/res - n, now/res]: a value may include
//! events up to one bucket older than the window, never fewer. Bucket b leaves the window when
//! the stream clock reaches (b + n + 1) * res; the groups it held are re-evaluated then, so
//! conditions clear (and resolve) as time passes, without the group's next event.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Key, Measure};
use crate::clock::NEVER;
use crate::filter::compare;
use crate::keymap::KeyMap;
use crate::rule::{DetectSpec, Op};
use crate::value::Number;

use super::{Common, Logic, Parts};

/// Per group, in the order groups first appeared (or were moved to the back): the order in
/// which a drained bucket re-evaluates them, and the least recently active group first.
pub type Groups<V> = KeyMap<V>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bucket<V> {
    /// When it was opened, relative to the other buckets: late events open older buckets after
    /// newer ones, and min/max ties go to the value of the bucket opened first.
    opened: u64,
    groups: Groups<V>,
}

/// The buckets of a rule's window and the groups whose condition holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Window<V> {
    res: i64,
    n: i64,
    buckets: BTreeMap<i64, Bucket<V>>,
    opened: u64,
    pub true_keys: FxHashSet<Key>,
    pub op: Op,
    pub threshold: f64,
    /// Evidence (sample ids, top values) is collected only while a group is warm: for an
    /// upward threshold, once it reached half of it. Cold groups cost nothing extra.
    pub warm: f64,
}

impl<V> Window<V> {
    pub fn new(d: &DetectSpec) -> Window<V> {
        Window::sized(d.window_ms, d.bucket_ms, d.op, d.threshold)
    }

    fn sized(window_ms: i64, res: i64, op: Op, threshold: f64) -> Window<V> {
        let warm = if op.upward() && threshold > 0.0 {
            threshold / 2.0
        } else {
            f64::NEG_INFINITY
        };
        Window {
            res,
            n: (window_ms + res - 1) / res,
            buckets: BTreeMap::new(),
            opened: 0,
            true_keys: FxHashSet::default(),
            op,
            threshold,
            warm,
        }
    }

    /// The bucket an event time falls in.
    pub fn index(&self, ts: i64) -> i64 {
        ts.div_euclid(self.res)
    }

    /// The groups of bucket b, and whether it was opened now: an event at stream time `now`
    /// opens it unless it already left the window (None), and the detector must then wake up
    /// (`tick`) when it drains. One lookup for a bucket already open, the usual case.
    pub fn enter(&mut self, b: i64, now: i64, tick: &mut i64) -> Option<(&mut Groups<V>, bool)> {
        match self.buckets.entry(b) {
            Entry::Occupied(bucket) => Some((&mut bucket.into_mut().groups, false)),
            Entry::Vacant(slot) => {
                let drain_at = (b + self.n + 1) * self.res;
                if drain_at <= now {
                    return None;
                }
                self.opened += 1;
                *tick = (*tick).min(drain_at);
                let bucket = slot.insert(Bucket {
                    opened: self.opened,
                    groups: Groups::default(),
                });
                Some((&mut bucket.groups, true))
            }
        }
    }

    pub fn next_drain(&self) -> i64 {
        match self.buckets.keys().next() {
            Some(&b) => (b + self.n + 1) * self.res,
            None => NEVER,
        }
    }

    /// The oldest bucket, taken out, if it left the window by stream time `t`.
    pub fn pop_drained(&mut self, t: i64) -> Option<Groups<V>> {
        let limit = self.limit(t);
        let oldest = self.buckets.first_entry()?;
        if *oldest.key() >= limit {
            return None;
        }
        Some(oldest.remove().groups)
    }

    /// The oldest bucket index still in the window at stream time `t`.
    pub fn limit(&self, t: i64) -> i64 {
        t.div_euclid(self.res) - self.n
    }

    /// The group's part in every live bucket, with the order in which the buckets were opened.
    pub fn parts<'a>(&'a self, key: &'a Key) -> impl Iterator<Item = (u64, &'a V)> + 'a {
        self.buckets
            .values()
            .filter_map(move |b| b.groups.get(key).map(|v| (b.opened, v)))
    }

    fn remove_group(&mut self, key: &Key) {
        for b in self.buckets.values_mut() {
            b.groups.remove(key);
        }
    }
}

/// A detector built on a [`Window`]: what the shared machinery asks of it.
pub trait Windowed: Logic {
    type Part;

    fn window(&mut self) -> &mut Window<Self::Part>;

    /// Whether the group's condition holds now.
    fn holds(&mut self, key: &Key) -> bool;

    /// Remove one drained bucket's contributions and re-evaluate its groups.
    fn expire(&mut self, d: &mut Parts, content: Groups<Self::Part>, t: i64);

    /// Remove every trace of the group from the detector's own totals.
    fn drop_group(&mut self, key: &Key);

    /// Forget the group's evidence.
    fn forget(&mut self, c: &mut Common, key: &Key) {
        c.forget(key);
    }
}

/// Expire every bucket that left the window by stream time `t`, oldest first.
pub fn drain<W: Windowed>(w: &mut W, d: &mut Parts, t: i64) {
    while let Some(content) = w.window().pop_drained(t) {
        w.expire(d, content, t);
    }
}

/// Re-evaluate the group's condition at `t`.
pub fn evaluate<W: Windowed>(w: &mut W, d: &mut Parts, key: &Key, t: i64) {
    let holds = w.holds(key);
    turn(w, d, key, t, holds);
}

/// Tell the lifecycle if the group's condition changed to `holds` at `t`; whether it had.
pub fn turn<W: Windowed>(w: &mut W, d: &mut Parts, key: &Key, t: i64, holds: bool) -> bool {
    let true_keys = &mut w.window().true_keys;
    let common = &d.common;
    if holds {
        if true_keys.contains(key) {
            return false;
        }
        true_keys.insert(key.clone());
        d.lc.cond_true(key, t, &mut |k, at| w.evidence_at(common, k, at));
    } else if true_keys.remove(key) {
        d.lc.cond_false(key, t, &mut |k, at| w.evidence_at(common, k, at));
    } else {
        return false;
    }
    d.note_timer();
    true
}

/// The group left the window (or was evicted): its evidence goes, a held condition ends.
pub fn group_gone<W: Windowed>(w: &mut W, d: &mut Parts, key: &Key, t: i64) {
    w.forget(&mut d.common, key);
    if w.window().true_keys.remove(key) {
        let common = &d.common;
        d.lc.drop_group(key, t, &mut |k, at| w.evidence_at(common, k, at));
        d.note_timer();
    }
}

/// Drop a group to keep the rule under its group cap (the caller picks the least recently
/// active one).
pub fn evict<W: Windowed>(w: &mut W, d: &mut Parts, key: &Key, t: i64) {
    w.window().remove_group(key);
    w.drop_group(key);
    d.common.stats.cap_evictions += 1;
    group_gone(w, d, key, t);
}

/// The first group of `groups` (the one the cap evicts), if there are more than `cap`.
pub fn over_cap<V>(groups: &Groups<V>, cap: usize) -> Option<Key> {
    if groups.len() > cap {
        groups.front().map(|(k, _)| k.clone())
    } else {
        None
    }
}

/// A windowed detector's evidence: its value over the window ending at `at`.
pub fn window_evidence(c: &Common, key: &Key, at: i64, value: Measure) -> Evidence {
    Evidence {
        value,
        window_start: Some(at - c.window_ms),
        window_end: Some(at),
        ..c.base_evidence(key)
    }
}

/// `value <op> threshold`, an int compared with the float threshold exactly.
pub fn op_holds(op: Op, value: Number, threshold: f64) -> bool {
    compare(value, Number::Float(threshold)).is_some_and(|o| match op {
        Op::Gt => o.is_gt(),
        Op::Ge => o.is_ge(),
        Op::Lt => o.is_lt(),
        Op::Le => o.is_le(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Scalar;

    fn key(name: &str) -> Key {
        Key::from([Scalar::Str(name.into())])
    }

    #[test]
    fn a_bucket_drains_one_bucket_after_the_window() {
        // 25 ms in buckets of 10: three buckets; bucket 5 ([50, 60)) leaves at 90.
        let mut w: Window<u64> = Window::sized(25, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        assert_eq!(w.next_drain(), NEVER);
        assert!(w.enter(5, 59, &mut tick).is_some_and(|(_, opened)| opened));
        assert!(w.enter(5, 59, &mut tick).is_some_and(|(_, opened)| !opened));
        assert_eq!((tick, w.next_drain()), (90, 90));
        assert!(w.pop_drained(89).is_none());
        assert!(w.pop_drained(90).is_some());
        assert_eq!(w.next_drain(), NEVER);
        // An event whose bucket left the window by now opens nothing.
        assert!(w.enter(5, 90, &mut tick).is_none());
        assert!(w.enter(5, 89, &mut tick).is_some());
        assert_eq!(w.limit(119), 8);
        assert_eq!(w.index(-1), -1);
    }

    #[test]
    fn parts_come_with_the_order_their_buckets_opened() {
        let mut w: Window<u64> = Window::sized(100, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        for b in [7, 6, 8] {
            let (groups, _) = w.enter(b, 70, &mut tick).unwrap();
            groups.insert(key("a"), b as u64);
        }
        w.enter(8, 70, &mut tick).unwrap().0.remove(&key("a"));
        let parts: Vec<(u64, u64)> = w.parts(&key("a")).map(|(o, &v)| (o, v)).collect();
        assert_eq!(parts, [(2, 6), (1, 7)]);
        w.remove_group(&key("a"));
        assert_eq!(w.parts(&key("a")).count(), 0);
    }

    #[test]
    fn only_an_upward_positive_threshold_has_cold_groups() {
        for (op, threshold, warm) in [
            (Op::Gt, 4.0, 2.0),
            (Op::Ge, 3.0, 1.5),
            (Op::Gt, 0.0, f64::NEG_INFINITY),
            (Op::Lt, 4.0, f64::NEG_INFINITY),
            (Op::Le, 4.0, f64::NEG_INFINITY),
        ] {
            assert_eq!(Window::<()>::sized(60, 1, op, threshold).warm, warm);
        }
    }

    #[test]
    fn ints_compare_with_the_threshold_exactly() {
        let big = Number::Int(9_007_199_254_740_993);
        assert!(op_holds(Op::Gt, big, 9_007_199_254_740_992.0));
        assert!(!op_holds(Op::Le, big, 9_007_199_254_740_992.0));
        assert!(op_holds(Op::Ge, Number::Int(2), 2.0));
        assert!(!op_holds(Op::Gt, Number::Float(f64::NAN), 0.0));
        assert!(!op_holds(Op::Le, Number::Float(f64::NAN), 0.0));
    }
}
