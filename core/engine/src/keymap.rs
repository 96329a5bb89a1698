//! Per-group state in the order groups came (or were moved to the back), compact: a group
//! costs its slot (the key, the value, two u32 links) and four bytes of index.
//!
//! It stands where a linked hash map would, which allocates a node per entry and indexes it
//! by an eight-byte pointer: with a million groups in a window's totals and its buckets, those
//! nodes and pointers were most of a group's memory. Slots live in one vector; a removed one
//! is reused by the next insert. The index hashes the key's stored hash (see `key`).

use hashbrown::HashTable;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::key::Key;

/// No slot: the end of a list, or a slot number no group has.
pub const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Slot<V> {
    /// None: free, and `next` is the next free slot.
    entry: Option<(Key, V)>,
    prev: u32,
    next: u32,
}

/// Groups by key, in order: insertion, or the last [`KeyMap::to_back`].
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    slots: Vec<Slot<V>>,
    index: HashTable<u32>,
    head: u32,
    tail: u32,
    free: u32,
}

impl<V> Default for KeyMap<V> {
    fn default() -> KeyMap<V> {
        KeyMap {
            slots: Vec::new(),
            index: HashTable::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
        }
    }
}

impl<V> KeyMap<V> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn entry(&self, n: u32) -> &(Key, V) {
        self.slots[n as usize]
            .entry
            .as_ref()
            .expect("an indexed slot is in use")
    }

    fn find(&self, key: &Key) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(key.hash_value(), |&n| {
                slots[n as usize]
                    .entry
                    .as_ref()
                    .is_some_and(|(k, _)| k == key)
            })
            .copied()
    }

    /// The group's slot: its number while it stays in the map (a removed group's slot is
    /// given to a later one).
    pub fn slot(&self, key: &Key) -> Option<u32> {
        self.find(key)
    }

    /// The group's slot, as [`KeyMap::slot`], the map holding `key`'s allocation from now on
    /// where it held another of the same spelling. A `group_by`'s interner may make a group's
    /// key again (see `key::Interner`): a map that kept the first would compare the two by
    /// their parts at each of the group's events, where one allocation compares by address.
    /// `hint` is the slot found beforehand ([`KeyMap::slots_of`]) or NIL: taken without a
    /// lookup if it still holds this very allocation of the key.
    pub fn slot_sharing(&mut self, key: &Key, hint: u32) -> Option<u32> {
        if self.holds_at(hint, key) {
            return Some(hint);
        }
        let n = self.find(key)?;
        let held = &mut self.slots[n as usize].entry.as_mut().expect("in use").0;
        if !held.same_allocation(key) && held.spelled_alike(key) {
            *held = key.clone();
        }
        Some(n)
    }

    /// The slots of groups `keys`, NIL for those not in the map. Looked up apart from the
    /// work each event does with its group, the lookups of a batch do not wait for each other
    /// (nor for that work): their cache misses overlap. A slot found so is checked again with
    /// [`KeyMap::slot_sharing`] before use, as groups come and go meanwhile.
    pub fn slots_of<'k>(&self, keys: impl Iterator<Item = &'k Key>) -> Vec<u32> {
        keys.map(|k| self.find(k).unwrap_or(NIL)).collect()
    }

    /// Whether slot `n` holds the group of this very allocation of its key.
    fn holds_at(&self, n: u32, key: &Key) -> bool {
        self.slots
            .get(n as usize)
            .and_then(|slot| slot.entry.as_ref())
            .is_some_and(|(k, _)| k.same_allocation(key))
    }

    /// The key and value in slot `n`, which must be in use.
    pub fn at(&self, n: u32) -> (&Key, &V) {
        let (k, v) = self.entry(n);
        (k, v)
    }

    /// The value in slot `n`, which must be in use.
    pub fn at_mut(&mut self, n: u32) -> &mut V {
        &mut self.slots[n as usize]
            .entry
            .as_mut()
            .expect("a slot in use")
            .1
    }

    /// Add a group that is not in the map, at the back; its slot.
    pub fn push(&mut self, key: Key, value: V) -> u32 {
        debug_assert!(self.find(&key).is_none(), "a new group");
        let hash = key.hash_value();
        let n = if self.free == NIL {
            let n = u32::try_from(self.slots.len()).expect("fewer than 2**32 groups");
            assert!(n != NIL, "fewer than 2**32 - 1 groups");
            self.slots.push(Slot {
                entry: Some((key, value)),
                prev: NIL,
                next: NIL,
            });
            n
        } else {
            let n = self.free;
            let slot = &mut self.slots[n as usize];
            self.free = slot.next;
            slot.entry = Some((key, value));
            n
        };
        self.link_back(n);
        let slots = &self.slots;
        self.index.insert_unique(hash, n, |&m| {
            slots[m as usize]
                .entry
                .as_ref()
                .expect("in use")
                .0
                .hash_value()
        });
        n
    }

    pub fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_some()
    }

    pub fn get(&self, key: &Key) -> Option<&V> {
        self.find(key).map(|n| &self.entry(n).1)
    }

    pub fn get_mut(&mut self, key: &Key) -> Option<&mut V> {
        let n = self.find(key)?;
        self.slots[n as usize].entry.as_mut().map(|(_, v)| v)
    }

    /// Set the group's value and move it to the back (a linked hash map's `insert`). Returns
    /// the value it replaced.
    pub fn insert(&mut self, key: Key, value: V) -> Option<V> {
        if let Some(n) = self.find(&key) {
            if n != self.tail {
                self.unlink(n);
                self.link_back(n);
            }
            let slot = self.slots[n as usize].entry.as_mut().expect("in use");
            return Some(std::mem::replace(&mut slot.1, value));
        }
        self.push(key, value);
        None
    }

    pub fn remove(&mut self, key: &Key) -> Option<V> {
        let slots = &self.slots;
        let found = self.index.find_entry(key.hash_value(), |&n| {
            slots[n as usize]
                .entry
                .as_ref()
                .is_some_and(|(k, _)| k == key)
        });
        let n = found.ok()?.remove().0;
        self.unlink(n);
        let slot = &mut self.slots[n as usize];
        let (_, value) = slot.entry.take().expect("in use");
        slot.next = self.free;
        self.free = n;
        if self.index.is_empty() {
            // Nothing left: give the slots' memory back.
            *self = KeyMap::default();
        }
        Some(value)
    }

    /// Move the group in slot `n` (in use) to the back.
    pub fn to_back_at(&mut self, n: u32) {
        if n != self.tail {
            self.unlink(n);
            self.link_back(n);
        }
    }

    /// The same groups in the same slots and order, each value mapped.
    pub fn map<W>(self, mut f: impl FnMut(V) -> W) -> KeyMap<W> {
        let slots = self.slots.into_iter().map(|slot| Slot {
            entry: slot.entry.map(|(k, v)| (k, f(v))),
            prev: slot.prev,
            next: slot.next,
        });
        KeyMap {
            slots: slots.collect(),
            index: self.index,
            head: self.head,
            tail: self.tail,
            free: self.free,
        }
    }

    /// Take the first group out.
    pub fn pop_front(&mut self) -> Option<(Key, V)> {
        let key = self.front()?.0.clone();
        let value = self.remove(&key)?;
        Some((key, value))
    }

    /// The first group in order.
    pub fn front(&self) -> Option<(&Key, &V)> {
        (self.head != NIL).then(|| {
            let (k, v) = self.entry(self.head);
            (k, v)
        })
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            map: self,
            at: self.head,
            left: self.len(),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.iter().map(|(k, _)| k)
    }

    fn link_back(&mut self, n: u32) {
        let slot = &mut self.slots[n as usize];
        slot.prev = self.tail;
        slot.next = NIL;
        if self.tail == NIL {
            self.head = n;
        } else {
            self.slots[self.tail as usize].next = n;
        }
        self.tail = n;
    }

    fn unlink(&mut self, n: u32) {
        let Slot { prev, next, .. } = self.slots[n as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }
}

impl<V> std::ops::Index<&Key> for KeyMap<V> {
    type Output = V;

    fn index(&self, key: &Key) -> &V {
        self.get(key).expect("a group in the map")
    }
}

pub struct Iter<'a, V> {
    map: &'a KeyMap<V>,
    at: u32,
    left: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);

    fn next(&mut self) -> Option<(&'a Key, &'a V)> {
        if self.at == NIL {
            return None;
        }
        let slot = &self.map.slots[self.at as usize];
        self.at = slot.next;
        self.left -= 1;
        let (k, v) = slot.entry.as_ref().expect("a linked slot is in use");
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, V> IntoIterator for &'a KeyMap<V> {
    type Item = (&'a Key, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

pub struct IntoIter<V> {
    slots: Vec<Slot<V>>,
    at: u32,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (Key, V);

    fn next(&mut self) -> Option<(Key, V)> {
        if self.at == NIL {
            return None;
        }
        let slot = &mut self.slots[self.at as usize];
        self.at = slot.next;
        slot.entry.take()
    }
}

impl<V> IntoIterator for KeyMap<V> {
    type Item = (Key, V);
    type IntoIter = IntoIter<V>;

    fn into_iter(self) -> IntoIter<V> {
        IntoIter {
            slots: self.slots,
            at: self.head,
        }
    }
}

/// Saved as a map in order, as the linked hash map it replaced was.
impl<V: Serialize> Serialize for KeyMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A saved map of group key -> value, in its order.
pub struct Pairs<T>(pub Vec<(Key, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Pairs<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pairs<T>, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = Pairs<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of group keys")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Pairs<T>, A::Error> {
                let mut pairs = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some(pair) = access.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }

        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for KeyMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyMap<V>, D::Error> {
        let mut map = KeyMap::default();
        for (k, v) in Pairs::deserialize(d)?.0 {
            map.insert(k, v);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Scalar;

    fn key(n: i128) -> Key {
        Key::from([Scalar::Int(n)])
    }

    fn order(map: &KeyMap<u64>) -> Vec<(i128, u64)> {
        map.iter()
            .map(|(k, &v)| match k.scalars()[..] {
                [Scalar::Int(n)] => (n, v),
                _ => unreachable!("int keys"),
            })
            .collect()
    }

    #[test]
    fn keeps_insertion_order_through_moves_removals_and_reuse() {
        let mut map = KeyMap::default();
        for n in 0..5 {
            assert_eq!(map.insert(key(n), n as u64 * 10), None);
        }
        assert_eq!(map.insert(key(2), 21), Some(20));
        for n in [0, 0, 9] {
            if let Some(slot) = map.slot_sharing(&key(n), NIL) {
                map.to_back_at(slot);
            }
        }
        assert_eq!(map.remove(&key(3)), Some(30));
        assert_eq!(map.remove(&key(3)), None);
        map.insert(key(7), 70);
        assert_eq!(order(&map), [(1, 10), (4, 40), (2, 21), (0, 0), (7, 70)]);
        assert_eq!(map.front().map(|(_, &v)| v), Some(10));
        assert_eq!(
            (map.len(), map.get(&key(4)), map.contains_key(&key(3))),
            (5, Some(&40), false)
        );
        *map.get_mut(&key(4)).unwrap() += 1;
        let drained: Vec<u64> = map.clone().into_iter().map(|(_, v)| v).collect();
        assert_eq!(drained, [10, 41, 21, 0, 70]);
        for n in [1, 2, 4, 0, 7] {
            map.remove(&key(n));
        }
        assert!(map.is_empty() && map.front().is_none());
        map.insert(key(5), 5);
        assert_eq!(order(&map), [(5, 5)]);
    }

    #[test]
    fn a_group_found_by_another_allocation_of_its_key_keeps_that_one_if_spelled_alike() {
        let mut map = KeyMap::default();
        let first = key(1);
        let n = map.push(first.clone(), 10);
        let again = key(1);
        assert!(!again.same_allocation(&first));
        assert_eq!(map.slot_sharing(&again, NIL), Some(n));
        assert!(map.at(n).0.same_allocation(&again));
        // an equal key spelled otherwise finds the group, which keeps its own spelling
        let float = Key::from([Scalar::Float(1.0f64.to_bits())]);
        assert_eq!(float, again);
        assert_eq!(map.slot_sharing(&float, NIL), Some(n));
        assert!(map.at(n).0.same_allocation(&again));
        assert_eq!(map.at(n).0.scalars(), [Scalar::Int(1)]);
        assert_eq!(map.slot_sharing(&key(2), NIL), None);
        assert_eq!(order(&map), [(1, 10)]);
    }

    #[test]
    fn does_what_a_linked_hash_map_does() {
        // Random operations on a few keys, against the map this one stands for.
        let mut map = KeyMap::default();
        let mut linked: hashlink::LinkedHashMap<Key, u64> = hashlink::LinkedHashMap::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for step in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let k = key(i128::from((seed >> 8) as u8 % 24));
            match seed % 6 {
                0 | 1 => assert_eq!(map.insert(k.clone(), step), linked.insert(k, step)),
                2 => assert_eq!(map.remove(&k), linked.remove(&k)),
                3 => {
                    let moved = map.slot_sharing(&k, NIL).map(|n| {
                        map.to_back_at(n);
                        *map.at(n).1
                    });
                    assert_eq!(moved, linked.to_back(&k).copied());
                }
                4 => assert_eq!(map.pop_front(), linked.pop_front()),
                _ => {
                    if let Some(v) = map.get_mut(&k) {
                        *v += 1;
                    }
                    if let Some(v) = linked.get_mut(&k) {
                        *v += 1;
                    }
                }
            }
            let mine: Vec<(&Key, &u64)> = map.iter().collect();
            let theirs: Vec<(&Key, &u64)> = linked.iter().collect();
            assert_eq!(mine, theirs, "step {step}");
            assert_eq!(map.front(), linked.front());
            assert_eq!(map.len(), linked.len());
        }
    }

    #[test]
    fn saved_as_the_linked_hash_map_was() {
        let mut map = KeyMap::default();
        let mut linked: hashlink::LinkedHashMap<Key, u64> = hashlink::LinkedHashMap::new();
        for n in [3, 1, 2] {
            map.insert(key(n), n as u64);
            linked.insert(key(n), n as u64);
        }
        let three = map.slot(&key(3)).unwrap();
        map.to_back_at(three);
        linked.to_back(&key(3));
        map.insert(key(1), 10);
        linked.insert(key(1), 10);
        let bytes = postcard::to_allocvec(&map).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&linked).unwrap());
        let back: KeyMap<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(order(&back), order(&map));
    }
}
