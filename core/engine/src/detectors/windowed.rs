//! Sliding event-time windows kept as buckets shared by all groups of a rule.
//!
//! A window of `n` buckets of `res` ms keeps buckets [now/res - n, now/res]: a value may include
//! events up to one bucket older than the window, never fewer. Bucket b leaves the window when
//! the stream clock reaches (b + n + 1) * res; the groups it held are re-evaluated then, so
//! conditions clear (and resolve) as time passes, without the group's next event.
//!
//! The window owns its groups: each group's key and total sit once in a [`KeyMap`], and a
//! bucket lists its parts by the group's slot there (twelve bytes for a count), in the order
//! the groups came into it. A group remembers where its part in the newest bucket (the one of
//! the highest index) is, so events in time order find their part without an index; a bucket
//! is indexed by slot only when an older part must be found (a late event, an evicted group,
//! a min/max recomputed).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::de::Error as _;
use serde::ser::{SerializeMap, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::{Evidence, Key, Measure};
use crate::clock::NEVER;
use crate::filter::compare;
use crate::keymap::{KeyMap, Pairs, NIL};
use crate::rule::{DetectSpec, Op};
use crate::value::Number;

use super::{Common, Logic, Parts};

/// A group of the window: the detector's total over the live buckets, and the position of
/// its part in the newest bucket (meaningful only if the part there names this group).
#[derive(Debug, Clone)]
struct Group<G> {
    total: G,
    at: u32,
}

#[derive(Debug, Clone)]
struct Bucket<V> {
    /// When it was opened, relative to the other buckets: late events open older buckets after
    /// newer ones, and min/max ties go to the value of the bucket opened first.
    opened: u64,
    /// The groups' slots in the order they came, NIL once a group left, and beside them
    /// their parts (apart, so a part needs no padding after its slot).
    slots: Vec<u32>,
    parts: Vec<V>,
    /// Positions by slot, made the first time a part is looked up by slot.
    index: Option<HashTable<u32>>,
    /// Parts of groups that left (NIL slots): past half of the bucket, they are dropped, so a
    /// group cap under a key explosion bounds the buckets as it bounds the groups.
    dead: u32,
}

/// Dead parts a bucket keeps whatever its size: compacting a small bucket often gains nothing.
const MIN_DEAD: u32 = 64;

fn slot_hash(slot: u32) -> u64 {
    FxBuildHasher.hash_one(slot)
}

impl<V> Bucket<V> {
    fn new(opened: u64) -> Bucket<V> {
        Bucket {
            opened,
            slots: Vec::new(),
            parts: Vec::new(),
            index: None,
            dead: 0,
        }
    }

    /// The position of the group's part, found through the index (made if need be).
    fn find(&mut self, slot: u32) -> Option<usize> {
        let slots = &self.slots;
        let index = self.index.get_or_insert_with(|| {
            let mut index = HashTable::with_capacity(slots.len());
            for (pos, &s) in slots.iter().enumerate() {
                if s != NIL {
                    index
                        .insert_unique(slot_hash(s), pos as u32, |&p| slot_hash(slots[p as usize]));
                }
            }
            index
        });
        index
            .find(slot_hash(slot), |&p| slots[p as usize] == slot)
            .map(|&p| p as usize)
    }

    /// The position of the group's part: in the newest bucket where the group says it is,
    /// elsewhere through the index.
    fn locate(&mut self, newest: bool, slot: u32, at: u32) -> Option<usize> {
        if newest {
            let at = at as usize;
            (self.slots.get(at) == Some(&slot)).then_some(at)
        } else {
            self.find(slot)
        }
    }

    fn push(&mut self, slot: u32, part: V) -> usize {
        let pos = self.slots.len();
        self.slots.push(slot);
        self.parts.push(part);
        if let Some(index) = &mut self.index {
            let slots = &self.slots;
            index.insert_unique(slot_hash(slot), pos as u32, |&p| {
                slot_hash(slots[p as usize])
            });
        }
        pos
    }

    /// Its parts with their groups' slots, the groups that left skipped.
    fn live(&self) -> impl Iterator<Item = (u32, &V)> {
        self.slots
            .iter()
            .zip(&self.parts)
            .filter(|(&slot, _)| slot != NIL)
            .map(|(&slot, part)| (slot, part))
    }

    /// The part at `pos` belongs to no group any more; true if the bucket was compacted, its
    /// parts moved.
    fn drop_part(&mut self, pos: usize) -> bool {
        self.slots[pos] = NIL;
        self.dead += 1;
        if self.dead < MIN_DEAD || (self.dead as usize) * 2 <= self.slots.len() {
            return false;
        }
        let mut kept = 0;
        for pos in 0..self.slots.len() {
            if self.slots[pos] != NIL {
                self.slots.swap(kept, pos);
                self.parts.swap(kept, pos);
                kept += 1;
            }
        }
        self.slots.truncate(kept);
        self.parts.truncate(kept);
        if self.slots.capacity() > 4 * kept {
            self.seal();
        }
        self.index = None;
        self.dead = 0;
        true
    }

    /// No more parts to come but late ones: give back the room kept for growth.
    fn seal(&mut self) {
        self.slots.shrink_to_fit();
        self.parts.shrink_to_fit();
    }
}

impl<C> Window<C, C> {
    /// Every part and total.
    pub fn counts(&self) -> impl Iterator<Item = &C> {
        let parts = self.buckets.values().flat_map(|b| b.live().map(|(_, c)| c));
        parts.chain(self.groups.iter().map(|(_, g)| &g.total))
    }
}

/// A drained bucket's parts: (group slot, part), NIL for a group evicted since.
pub type Drained<V> = std::iter::Zip<std::vec::IntoIter<u32>, std::vec::IntoIter<V>>;

/// What adding an event to a group's part in a bucket gives the detector.
pub struct Added<'a, V, G> {
    pub part: &'a mut V,
    pub total: &'a mut G,
    pub slot: u32,
    /// The group was not in the window before.
    pub new_group: bool,
}

/// The buckets of a rule's window, its groups and the groups whose condition holds.
#[derive(Debug, Clone)]
pub struct Window<V, G> {
    res: i64,
    n: i64,
    buckets: BTreeMap<i64, Bucket<V>>,
    opened: u64,
    groups: KeyMap<Group<G>>,
    pub true_keys: FxHashSet<Key>,
    pub op: Op,
    pub threshold: f64,
    /// Evidence (sample ids, top values) is collected only while a group is warm: for an
    /// upward threshold, once it reached half of it. Cold groups cost nothing extra.
    pub warm: f64,
}

impl<V: Default, G: Default> Window<V, G> {
    pub fn new(d: &DetectSpec) -> Window<V, G> {
        Window::sized(d.window_ms, d.bucket_ms, d.op, d.threshold)
    }

    fn sized(window_ms: i64, res: i64, op: Op, threshold: f64) -> Window<V, G> {
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
            groups: KeyMap::default(),
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

    /// The slots of the groups of `keys` (see [`KeyMap::slots_of`]), hints for [`Window::add`].
    pub fn slots_of<'k>(&self, keys: impl Iterator<Item = &'k Key>) -> Vec<u32> {
        self.groups.slots_of(keys)
    }

    /// The group's part in bucket b and its total, made (empty) if new; None if the bucket
    /// already left the window by stream time `now`. An event opens its bucket, and the
    /// detector must then wake up (`tick`) when it drains. `hint` is the group's slot if found
    /// beforehand ([`Window::slots_of`]), else NIL.
    pub fn add(
        &mut self,
        b: i64,
        now: i64,
        tick: &mut i64,
        key: &Key,
        hint: u32,
    ) -> Option<Added<'_, V, G>> {
        let last = self.buckets.last_key_value().map(|(&last, _)| last);
        let newest = last.is_none_or(|last| b >= last);
        if let Some(last) = last.filter(|&last| b > last) {
            if (b + self.n + 1) * self.res > now {
                self.buckets.get_mut(&last).expect("the last bucket").seal();
            }
        }
        let bucket = if last == Some(b) {
            // Most events fall in the newest bucket: reached down the tree's last edges, with
            // no key compared on the way.
            self.buckets
                .last_entry()
                .expect("the last bucket")
                .into_mut()
        } else {
            match self.buckets.entry(b) {
                Entry::Occupied(bucket) => bucket.into_mut(),
                Entry::Vacant(slot) => {
                    let drain_at = (b + self.n + 1) * self.res;
                    if drain_at <= now {
                        return None;
                    }
                    self.opened += 1;
                    *tick = (*tick).min(drain_at);
                    slot.insert(Bucket::new(self.opened))
                }
            }
        };
        let (slot, new_group) = match self.groups.slot_sharing(key, hint) {
            Some(slot) => (slot, false),
            None => {
                let group = Group {
                    total: G::default(),
                    at: NIL,
                };
                (self.groups.push(key.clone(), group), true)
            }
        };
        let group = self.groups.at_mut(slot);
        let found = if new_group {
            None
        } else {
            bucket.locate(newest, slot, group.at)
        };
        let pos = match found {
            Some(pos) => pos,
            None => {
                let pos = bucket.push(slot, V::default());
                if newest {
                    group.at = pos as u32;
                }
                pos
            }
        };
        Some(Added {
            part: &mut bucket.parts[pos],
            total: &mut group.total,
            slot,
            new_group,
        })
    }
}

impl<V, G> Window<V, G> {
    /// The window's contents, leaving it empty (of the same shape).
    pub fn take(&mut self) -> Window<V, G> {
        let empty = Window {
            res: self.res,
            n: self.n,
            buckets: BTreeMap::new(),
            opened: 0,
            groups: KeyMap::default(),
            true_keys: FxHashSet::default(),
            op: self.op,
            threshold: self.threshold,
            warm: self.warm,
        };
        std::mem::replace(self, empty)
    }

    /// The same window with every part and total mapped.
    pub fn map<V2, G2>(
        self,
        mut fv: impl FnMut(V) -> V2,
        fg: impl FnMut(G) -> G2,
    ) -> Window<V2, G2> {
        let mut fg = fg;
        let buckets = self.buckets.into_iter().map(|(b, bucket)| {
            let parts = bucket.parts.into_iter().map(&mut fv).collect();
            let mapped = Bucket {
                opened: bucket.opened,
                slots: bucket.slots,
                parts,
                index: bucket.index,
                dead: bucket.dead,
            };
            (b, mapped)
        });
        Window {
            res: self.res,
            n: self.n,
            buckets: buckets.collect(),
            opened: self.opened,
            groups: self.groups.map(|g| Group {
                total: fg(g.total),
                at: g.at,
            }),
            true_keys: self.true_keys,
            op: self.op,
            threshold: self.threshold,
            warm: self.warm,
        }
    }

    pub fn next_drain(&self) -> i64 {
        match self.buckets.keys().next() {
            Some(&b) => (b + self.n + 1) * self.res,
            None => NEVER,
        }
    }

    /// The oldest bucket's parts (slot, part), taken out, if it left the window by stream time
    /// `t`; a NIL slot is a group evicted since.
    pub fn pop_drained(&mut self, t: i64) -> Option<Drained<V>> {
        let limit = self.limit(t);
        let oldest = self.buckets.first_entry()?;
        if *oldest.key() >= limit {
            return None;
        }
        let bucket = oldest.remove();
        Some(bucket.slots.into_iter().zip(bucket.parts))
    }

    /// The oldest bucket index still in the window at stream time `t`.
    pub fn limit(&self, t: i64) -> i64 {
        t.div_euclid(self.res) - self.n
    }

    /// The groups of the window.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn slot(&self, key: &Key) -> Option<u32> {
        self.groups.slot(key)
    }

    /// The key of the group in `slot`.
    pub fn key_at(&self, slot: u32) -> &Key {
        self.groups.at(slot).0
    }

    /// Whether the condition of the group in `slot` holds. A group that is cold (its level
    /// below `warm`) and not held is not evaluated again when a part of it leaves the window:
    /// nothing could change, as for an event that leaves a group cold.
    pub fn held_at(&self, slot: u32) -> bool {
        !self.true_keys.is_empty() && self.true_keys.contains(self.key_at(slot))
    }

    pub fn total(&self, key: &Key) -> Option<&G> {
        self.groups.get(key).map(|g| &g.total)
    }

    pub fn total_at(&mut self, slot: u32) -> &mut G {
        &mut self.groups.at_mut(slot).total
    }

    /// Move the group to the back: the group cap evicts the least recently moved first.
    pub fn move_back(&mut self, slot: u32) {
        self.groups.to_back_at(slot);
    }

    /// The group that left the window: its total goes (its parts all drained).
    pub fn remove(&mut self, key: &Key) -> Option<G> {
        self.groups.remove(key).map(|g| g.total)
    }

    /// The first group (the one the cap evicts), if there are more than `cap`.
    pub fn over_cap(&self, cap: usize) -> Option<Key> {
        if self.groups.len() > cap {
            self.groups.front().map(|(k, _)| k.clone())
        } else {
            None
        }
    }

    /// The group's part in every live bucket, with the order in which the buckets were opened.
    pub fn parts(&mut self, key: &Key) -> Vec<(u64, &V)> {
        let Some(slot) = self.groups.slot(key) else {
            return Vec::new();
        };
        let at = self.groups.at(slot).1.at;
        let newest = self.buckets.keys().next_back().copied();
        let found: Vec<Option<usize>> = self
            .buckets
            .iter_mut()
            .map(|(&b, bucket)| bucket.locate(Some(b) == newest, slot, at))
            .collect();
        self.buckets
            .values()
            .zip(found)
            .filter_map(|(bucket, pos)| pos.map(|p| (bucket.opened, &bucket.parts[p])))
            .collect()
    }

    /// Take the group out of every bucket and out of the window.
    fn remove_group(&mut self, key: &Key) {
        let Some(slot) = self.groups.slot(key) else {
            return;
        };
        let at = self.groups.at(slot).1.at;
        let newest = self.buckets.keys().next_back().copied();
        for (&b, bucket) in self.buckets.iter_mut() {
            let is_newest = Some(b) == newest;
            let Some(pos) = bucket.locate(is_newest, slot, at) else {
                continue;
            };
            if bucket.drop_part(pos) && is_newest {
                for (pos, &s) in bucket.slots.iter().enumerate() {
                    self.groups.at_mut(s).at = pos as u32;
                }
            }
        }
        self.groups.remove(key);
    }
}

// Saved as the window and the detector's totals were before the groups moved into the
// window (snapshot format 1, docs/worker.md): the window's fields, each bucket a map of group
// key -> part; then the totals, a map of group key -> total in the groups' order.

struct BucketParts<'a, V, G>(&'a Bucket<V>, &'a KeyMap<Group<G>>);

impl<V: Serialize, G> Serialize for BucketParts<'_, V, G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.live().count()))?;
        for (slot, part) in self.0.live() {
            map.serialize_entry(self.1.at(slot).0, part)?;
        }
        map.end()
    }
}

struct SavedBuckets<'a, V, G>(&'a Window<V, G>);

impl<V: Serialize, G> Serialize for SavedBuckets<'_, V, G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.0;
        let mut map = s.serialize_map(Some(w.buckets.len()))?;
        for (b, bucket) in &w.buckets {
            map.serialize_entry(b, &(bucket.opened, BucketParts(bucket, &w.groups)))?;
        }
        map.end()
    }
}

struct Totals<'a, G>(&'a KeyMap<Group<G>>);

impl<G: Serialize> Serialize for Totals<'_, G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, group) in self.0 {
            map.serialize_entry(key, &group.total)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct SavedWindow<'a, V, G> {
    res: i64,
    n: i64,
    buckets: SavedBuckets<'a, V, G>,
    opened: u64,
    true_keys: &'a FxHashSet<Key>,
    op: Op,
    threshold: f64,
    warm: f64,
}

impl<V: Serialize, G: Serialize> Serialize for Window<V, G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let window = SavedWindow {
            res: self.res,
            n: self.n,
            buckets: SavedBuckets(self),
            opened: self.opened,
            true_keys: &self.true_keys,
            op: self.op,
            threshold: self.threshold,
            warm: self.warm,
        };
        let mut both = s.serialize_tuple(2)?;
        both.serialize_element(&window)?;
        both.serialize_element(&Totals(&self.groups))?;
        both.end()
    }
}

#[derive(Deserialize)]
struct LoadedWindow<V> {
    res: i64,
    n: i64,
    buckets: BTreeMap<i64, (u64, Pairs<V>)>,
    opened: u64,
    true_keys: FxHashSet<Key>,
    op: Op,
    threshold: f64,
    warm: f64,
}

impl<'de, V: Deserialize<'de>, G: Deserialize<'de>> Deserialize<'de> for Window<V, G> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Window<V, G>, D::Error> {
        let (saved, totals): (LoadedWindow<V>, Pairs<G>) = Deserialize::deserialize(d)?;
        let mut groups = KeyMap::default();
        for (key, total) in totals.0 {
            if groups.slot(&key).is_some() {
                return Err(D::Error::custom("a group saved twice"));
            }
            groups.push(key, Group { total, at: NIL });
        }
        let newest = saved.buckets.keys().next_back().copied();
        let mut buckets = BTreeMap::new();
        for (b, (opened, pairs)) in saved.buckets {
            let mut bucket = Bucket::new(opened);
            for (key, part) in pairs.0 {
                let slot = groups
                    .slot(&key)
                    .ok_or_else(|| D::Error::custom("a bucket's group has no total"))?;
                let pos = bucket.push(slot, part);
                if Some(b) == newest {
                    groups.at_mut(slot).at = pos as u32;
                }
            }
            buckets.insert(b, bucket);
        }
        Ok(Window {
            res: saved.res,
            n: saved.n,
            buckets,
            opened: saved.opened,
            groups,
            true_keys: saved.true_keys,
            op: saved.op,
            threshold: saved.threshold,
            warm: saved.warm,
        })
    }
}

/// A detector built on a [`Window`]: what the shared machinery asks of it.
pub trait Windowed: Logic {
    /// A group's share of one bucket.
    type Part;
    /// A group's total over the live buckets.
    type Total;

    fn window(&mut self) -> &mut Window<Self::Part, Self::Total>;

    /// Whether the group's condition holds now.
    fn holds(&mut self, key: &Key) -> bool;

    /// Remove one drained bucket's parts (group slot, part; a NIL slot is an evicted group)
    /// from the totals and re-evaluate their groups.
    fn expire(&mut self, d: &mut Parts, content: Drained<Self::Part>, t: i64);

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
/// active one, [`Window::over_cap`]).
pub fn evict<W: Windowed>(w: &mut W, d: &mut Parts, key: &Key, t: i64) {
    w.window().remove_group(key);
    d.common.stats.cap_evictions += 1;
    group_gone(w, d, key, t);
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
        let mut w: Window<u64, u64> = Window::sized(25, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        assert_eq!(w.next_drain(), NEVER);
        assert!(w
            .add(5, 59, &mut tick, &key("a"), NIL)
            .is_some_and(|a| a.new_group));
        assert!(w
            .add(5, 59, &mut tick, &key("a"), NIL)
            .is_some_and(|a| !a.new_group));
        assert_eq!((tick, w.next_drain()), (90, 90));
        assert!(w.pop_drained(89).is_none());
        assert_eq!(w.pop_drained(90).map(|parts| parts.count()), Some(1));
        assert_eq!(w.next_drain(), NEVER);
        // An event whose bucket left the window by now opens nothing.
        assert!(w.add(5, 90, &mut tick, &key("b"), NIL).is_none());
        assert!(w.add(5, 89, &mut tick, &key("b"), NIL).is_some());
        assert_eq!(w.limit(119), 8);
        assert_eq!(w.index(-1), -1);
    }

    #[test]
    fn a_slot_found_beforehand_is_used_only_while_it_holds_that_group() {
        let mut w: Window<u64, u64> = Window::sized(25, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        let (a, b) = (key("a"), key("b"));
        *w.add(5, 59, &mut tick, &a, NIL).unwrap().part += 1;
        let hints = w.slots_of([&a, &b].into_iter());
        assert_eq!((hints[0], hints[1]), (w.slot(&a).unwrap(), NIL));
        let added = w.add(5, 59, &mut tick, &a, hints[0]).unwrap();
        assert!(!added.new_group);
        *added.part += 1;
        *added.total += 2;
        // a's slot given for b: b is a group of its own all the same
        let added = w.add(5, 59, &mut tick, &b, hints[0]).unwrap();
        assert!(added.new_group);
        assert_ne!(added.slot, hints[0]);
        *added.total += 1;
        assert_eq!((w.total(&a), w.total(&b)), (Some(&2), Some(&1)));
        // a leaves; its old slot no longer holds it, whoever comes to it
        w.remove(&a);
        let c = key("c");
        let added = w.add(5, 59, &mut tick, &c, NIL).unwrap();
        assert_eq!(added.slot, hints[0], "the freed slot is reused");
        let added = w.add(5, 59, &mut tick, &a, hints[0]).unwrap();
        assert!(added.new_group);
        assert_ne!(added.slot, hints[0]);
        // another allocation of a key is not taken for it by slot: it is looked up
        let again = key("c");
        let added = w.add(5, 59, &mut tick, &again, hints[0]).unwrap();
        assert_eq!((added.slot, added.new_group), (hints[0], false));
    }

    #[test]
    fn parts_come_with_the_order_their_buckets_opened() {
        let mut w: Window<u64, u64> = Window::sized(100, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        for b in [7, 6, 8, 6] {
            for name in ["a", "b"] {
                *w.add(b, 70, &mut tick, &key(name), NIL).unwrap().part += b as u64;
            }
        }
        let parts: Vec<(u64, u64)> = w
            .parts(&key("a"))
            .into_iter()
            .map(|(o, &v)| (o, v))
            .collect();
        assert_eq!(parts, [(2, 12), (1, 7), (3, 8)]);
        w.remove_group(&key("a"));
        assert!(w.parts(&key("a")).is_empty());
        assert_eq!(w.len(), 1);
        // the drained bucket still lists the evicted group's part, without a group
        let drained: Vec<(u32, u64)> = w.pop_drained(170).unwrap().collect();
        assert_eq!(drained, [(NIL, 12), (1, 12)]);
    }

    #[test]
    fn groups_that_leave_free_their_room_in_the_buckets() {
        // A key explosion under a cap: a group in, the oldest out, all in one long bucket.
        let mut w: Window<u64, u64> = Window::sized(100, 10, Op::Gt, 4.0);
        let mut tick = NEVER;
        let live = 100;
        for n in 0..10_000 {
            for b in [5, 4] {
                *w.add(b, 50, &mut tick, &key(&format!("g{n}")), NIL)
                    .unwrap()
                    .part += 1;
            }
            if n >= live {
                w.remove_group(&key(&format!("g{}", n - live)));
            }
        }
        for bucket in w.buckets.values() {
            // 10,000 groups came through, 100 are left.
            assert!(bucket.slots.len() < 1_000, "{}", bucket.slots.len());
            assert_eq!(bucket.slots.len(), bucket.parts.len());
        }
        // Every group left finds its parts, in the newest bucket and in the older one, and
        // the next event adds to them rather than opening new ones.
        for n in 10_000 - live..10_000 {
            let k = key(&format!("g{n}"));
            for b in [5, 4] {
                *w.add(b, 50, &mut tick, &k, NIL).unwrap().part += 1;
            }
            let parts: Vec<u64> = w.parts(&k).into_iter().map(|(_, &v)| v).collect();
            assert_eq!(parts, [2, 2], "g{n}");
        }
        assert!(w.parts(&key("g0")).is_empty());
        assert_eq!(w.len(), live);
    }

    /// A window as plain lists: buckets of (group, part) in arrival order, totals in the
    /// groups' order (moved to the back when told).
    #[derive(Default)]
    struct Model {
        buckets: BTreeMap<i64, Vec<(Key, u64)>>,
        totals: Vec<(Key, u64)>,
    }

    impl Model {
        fn total(&mut self, key: &Key) -> Option<&mut u64> {
            self.totals
                .iter_mut()
                .find(|(k, _)| k == key)
                .map(|(_, t)| t)
        }
    }

    type Listed = Vec<(Key, u64)>;

    fn view(w: &Window<u64, u64>) -> (Vec<(i64, Listed)>, Listed) {
        let buckets = w
            .buckets
            .iter()
            .map(|(&b, bucket)| {
                let parts = bucket.live().map(|(s, &v)| (w.key_at(s).clone(), v));
                (b, parts.collect())
            })
            .collect();
        let totals = w.groups.iter().map(|(k, g)| (k.clone(), g.total)).collect();
        (buckets, totals)
    }

    #[test]
    fn does_what_plain_lists_do_in_and_out_of_order_through_evictions_and_restores() {
        let mut w: Window<u64, u64> = Window::sized(50, 10, Op::Gt, 4.0);
        let mut model = Model::default();
        let mut tick = NEVER;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut draw = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut now = 0_i64;
        for step in 0..20_000 {
            let k = key(&format!("g{}", draw(40)));
            match draw(100) {
                0..=69 => {
                    // mostly in order, now and then up to 80 ms late
                    let late = if draw(5) == 0 { draw(80) as i64 } else { 0 };
                    let ts = now - late;
                    let b = w.index(ts);
                    let open = model.buckets.contains_key(&b);
                    match w.add(b, now, &mut tick, &k, NIL) {
                        None => assert!(!open && (b + w.n + 1) * w.res <= now),
                        Some(added) => {
                            *added.part += 1;
                            *added.total += 1;
                            let parts = model.buckets.entry(b).or_default();
                            match parts.iter_mut().find(|(g, _)| *g == k) {
                                Some(part) => part.1 += 1,
                                None => parts.push((k.clone(), 1)),
                            }
                            match model.total(&k) {
                                Some(t) => *t += 1,
                                None => model.totals.push((k.clone(), 1)),
                            }
                        }
                    }
                }
                70..=79 => {
                    if let Some(slot) = w.slot(&k) {
                        w.move_back(slot);
                        let at = model.totals.iter().position(|(g, _)| *g == k).unwrap();
                        let moved = model.totals.remove(at);
                        model.totals.push(moved);
                    }
                }
                80..=84 => {
                    w.remove_group(&k);
                    model.totals.retain(|(g, _)| *g != k);
                    for parts in model.buckets.values_mut() {
                        parts.retain(|(g, _)| *g != k);
                    }
                }
                85..=86 => {
                    let bytes = postcard::to_allocvec(&w).unwrap();
                    w = postcard::from_bytes(&bytes).unwrap();
                }
                _ => {
                    now += draw(15) as i64;
                    while let Some(parts) = w.pop_drained(now) {
                        let (_, expected) = model.buckets.pop_first().unwrap();
                        let live: Vec<(u32, u64)> =
                            parts.into_iter().filter(|&(s, _)| s != NIL).collect();
                        assert_eq!(live.len(), expected.len());
                        for ((slot, c), (k, m)) in live.into_iter().zip(expected) {
                            assert_eq!((w.key_at(slot), c), (&k, m));
                            let total = w.total_at(slot);
                            *total -= c;
                            if *total == 0 {
                                w.remove(&k);
                            }
                            let t = model.total(&k).unwrap();
                            *t -= m;
                            if *t == 0 {
                                model.totals.retain(|(g, _)| *g != k);
                            }
                        }
                    }
                }
            }
            let (buckets, totals) = view(&w);
            let expected: Vec<(i64, Listed)> =
                model.buckets.iter().map(|(&b, p)| (b, p.clone())).collect();
            assert_eq!(buckets, expected, "step {step}");
            assert_eq!(totals, model.totals, "step {step}");
            let mine: Vec<u64> = w.parts(&k).into_iter().map(|(_, &v)| v).collect();
            let theirs: Vec<u64> = model
                .buckets
                .values()
                .filter_map(|p| p.iter().find(|(g, _)| *g == k).map(|(_, v)| *v))
                .collect();
            assert_eq!(mine, theirs, "step {step}");
        }
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
            assert_eq!(Window::<(), ()>::sized(60, 1, op, threshold).warm, warm);
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
