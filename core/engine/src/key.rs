//! Group keys: made once per group, with their hash, and found again from an event's borrowed
//! values without building a key.
//!
//! Every map that holds a group hashes the key's stored hash, never its text. That hash is
//! seeded at random once per process: keys (ips, account ids) are chosen by whoever sends the
//! events, so a fixed hash would let them pile groups into one bucket.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::thin::Shared;
use crate::value::{Canon, KeyPart, Scalar, ScalarRef};

fn seed() -> &'static foldhash::quality::RandomState {
    static SEED: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    SEED.get_or_init(foldhash::quality::RandomState::default)
}

/// The hash of a key from its parts' canonical forms (equal keys, equal hashes).
fn hash_parts<'a>(parts: impl Iterator<Item = Canon<'a>>) -> u64 {
    let mut h = seed().build_hasher();
    for part in parts {
        part.hash(&mut h);
    }
    h.finish()
}

/// A group's key: one scalar per `group_by` field, shared (not copied) by every map that
/// holds the group. One allocation holds the count, the hash and the parts, encoded (see
/// [`encode`]): a key of one short string takes 32 bytes, a pointer to it 8.
#[derive(Clone)]
pub struct Key(Shared);

const FALSE: u8 = 0;
const TRUE: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const STR: u8 = 4;

/// A part as bytes: a tag, then nothing (bools), an int zigzag-encoded in LEB128, a float's
/// eight bits little-endian, or a string's length in LEB128 and its UTF-8.
fn encode(part: ScalarRef<'_>, out: &mut Vec<u8>) {
    match part {
        ScalarRef::Bool(b) => out.push(if b { TRUE } else { FALSE }),
        ScalarRef::Int(i) => {
            out.push(INT);
            leb128(((i << 1) ^ (i >> 127)) as u128, out);
        }
        ScalarRef::Float(bits) => {
            out.push(FLOAT);
            out.extend_from_slice(&bits.to_le_bytes());
        }
        ScalarRef::Str(s) => {
            out.push(STR);
            leb128(s.len() as u128, out);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn leb128(mut n: u128, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The parts of an encoded key, in order (the bytes are only ever made by [`encode`]).
#[derive(Clone)]
pub struct Parts<'a>(&'a [u8]);

impl<'a> Parts<'a> {
    fn leb128(&mut self) -> u128 {
        let mut n = 0u128;
        let mut shift = 0;
        while let Some((&b, rest)) = self.0.split_first() {
            self.0 = rest;
            n |= u128::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        n
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = ScalarRef<'a>;

    fn next(&mut self) -> Option<ScalarRef<'a>> {
        let (&tag, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(match tag {
            FALSE => ScalarRef::Bool(false),
            TRUE => ScalarRef::Bool(true),
            INT => {
                let z = self.leb128();
                ScalarRef::Int(((z >> 1) as i128) ^ -((z & 1) as i128))
            }
            FLOAT => {
                let (bits, rest) = self.0.split_at(8);
                self.0 = rest;
                ScalarRef::Float(u64::from_le_bytes(bits.try_into().expect("eight bytes")))
            }
            _ => {
                let len = self.leb128() as usize;
                let (text, rest) = self.0.split_at(len);
                self.0 = rest;
                // SAFETY: `Parts` is only made (here, by `Key::parts`) over a key's bytes, which
                // only `encode` writes and nothing changes after: after a STR tag and its length
                // come exactly the bytes of a `&str`, so `text` is whole, valid UTF-8. Checking
                // it again was a sixth of saving a state, and a cost of every key comparison.
                ScalarRef::Str(unsafe { std::str::from_utf8_unchecked(text) })
            }
        })
    }
}

impl Key {
    pub fn new(parts: &[Scalar]) -> Key {
        Key::encoded(parts.iter().map(Scalar::as_ref))
    }

    fn encoded<'p>(parts: impl Iterator<Item = ScalarRef<'p>> + Clone) -> Key {
        let hash = hash_parts(parts.clone().map(ScalarRef::canon));
        Key::with_hash(hash, parts)
    }

    fn with_hash<'p>(hash: u64, parts: impl Iterator<Item = ScalarRef<'p>>) -> Key {
        let mut bytes = Vec::new();
        for part in parts {
            encode(part, &mut bytes);
        }
        Key(Shared::new(hash, &bytes))
    }

    pub fn hash_value(&self) -> u64 {
        self.0.header()
    }

    /// The parts, read in place.
    pub fn parts(&self) -> Parts<'_> {
        Parts(self.0.bytes())
    }

    /// The parts, copied.
    pub fn scalars(&self) -> Vec<Scalar> {
        self.parts().map(ScalarRef::to_scalar).collect()
    }

    /// Whether the key is `parts`, spelled alike, in order.
    fn is<'p, P: KeyPart + 'p>(&self, parts: impl Iterator<Item = &'p P>) -> bool {
        let mut mine = self.parts();
        for part in parts {
            match mine.next() {
                Some(s) if part.spelled() == Some(s) => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }

    pub fn same_allocation(&self, other: &Key) -> bool {
        self.0.ptr_eq(&other.0)
    }

    /// Two allocations of one key: equal parts, whatever their spelling.
    #[inline(never)]
    fn equal_parts(&self, other: &Key) -> bool {
        self.hash_value() == other.hash_value()
            && self
                .parts()
                .map(ScalarRef::canon)
                .eq(other.parts().map(ScalarRef::canon))
    }

    /// Whether `other` is this key spelled alike, byte for byte: the same key in every
    /// respect, its alerts' spelling of the group included.
    pub fn spelled_alike(&self, other: &Key) -> bool {
        self.same_allocation(other)
            || (self.hash_value() == other.hash_value() && self.0.bytes() == other.0.bytes())
    }

    /// How many holders the key has.
    #[cfg(test)]
    fn holders(&self) -> usize {
        self.0.holders()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Key").field(&self.scalars()).finish()
    }
}

impl<const N: usize> From<[Scalar; N]> for Key {
    fn from(parts: [Scalar; N]) -> Key {
        Key::new(&parts)
    }
}

impl From<Vec<Scalar>> for Key {
    fn from(parts: Vec<Scalar>) -> Key {
        Key::new(&parts)
    }
}

impl PartialEq for Key {
    /// Inlined for the usual case, one allocation; the parts are compared out of line.
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.same_allocation(other) || self.equal_parts(other)
    }
}

impl Eq for Key {}

/// By parts, as the list of scalars it is (deadlines of equal times are ordered by key).
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.parts()
            .map(ScalarRef::canon)
            .cmp(other.parts().map(ScalarRef::canon))
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_value());
    }
}

/// Saved as the list of its parts, read in place: a state of a million keys is saved without
/// a copy of each.
impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.parts().count()))?;
        for part in self.parts() {
            seq.serialize_element(&part)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        Ok(Key::new(&Vec::<Scalar>::deserialize(d)?))
    }
}

/// The keys of recent events: a selected event whose group came lately finds its key by hash
/// and borrowed values instead of allocating it again, and so shares the allocation the rules
/// hold, which they then compare by address. Keys sit in sets of [`WAYS`], the set picked by
/// the hash, the one found or made last first, a full set letting go of its least recent: the
/// rules hold their groups' keys themselves. Where a table of every live key cost a group 19
/// bytes, the cache costs 8 KiB for a `group_by` of few groups and grows, while groups often
/// push each other out, to 512 KiB for one of many. Keys are told apart by spelling, so an
/// event gets the key it would have built itself.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    /// Made on first use: a `group_by` no event reaches costs nothing.
    sets: Vec<Set>,
    /// Lookups, and those that pushed another group's key out of its set, since the size was
    /// last weighed.
    lookups: usize,
    conflicts: usize,
}

/// Keys per set. One key per slot, picked by hash alone (and grown at one conflict in eight),
/// made 282,215 keys for the catalogue's 20,000 groups over the bench's 1M events, and every
/// rule holding a group's first key then compared it with the event's by their parts; four to
/// a set, grown at one conflict in 64, made 31,255.
const WAYS: usize = 4;

/// One set, a cache line: its keys with their hashes beside them, the most recent first, the
/// empty ways last.
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
struct Set {
    hashes: [u64; WAYS],
    keys: [Option<Key>; WAYS],
}

impl Set {
    /// Put `key` first, the others after it in their order; the last one goes if the set was
    /// full (true then).
    fn put_first(&mut self, hash: u64, key: Key) -> bool {
        let full = self.keys[WAYS - 1].is_some();
        self.hashes.copy_within(0..WAYS - 1, 1);
        self.keys.rotate_right(1);
        (self.hashes[0], self.keys[0]) = (hash, Some(key));
        full
    }

    /// Move way `w` first, the ways before it one down.
    fn move_first(&mut self, w: usize) {
        self.hashes[..=w].rotate_right(1);
        self.keys[..=w].rotate_right(1);
    }

    fn held(&self) -> impl Iterator<Item = (u64, &Key)> {
        self.hashes
            .iter()
            .zip(&self.keys)
            .filter_map(|(&h, k)| Some((h, k.as_ref()?)))
    }
}

/// A hint to the processor to load `item`'s cache line; nothing else happens.
#[inline(always)]
fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache: it reads nothing the program sees, cannot fault
    // (not even on a bad address, and this one is a live reference), and changes no state the
    // program can observe. SSE, which it needs, is part of every x86_64 processor.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// log2 of the interner's first and largest number of sets.
const FIRST_BITS: u32 = 7;
const MAX_BITS: u32 = 13;
/// The sets double when more than one lookup in this many pushed another group's key out,
/// over a span of lookups twice the slots (a group seen first finds room, or pushes out
/// another's key: only too few sets make the latter frequent).
const CONFLICT_SHARE: usize = 64;

impl Interner {
    /// The key whose parts are `parts()` (a fresh iterator over the same parts each call),
    /// found or made; None if a part is no scalar.
    pub fn get<'p, P, I>(&mut self, parts: impl Fn() -> I) -> Option<Key>
    where
        P: KeyPart + 'p,
        I: Iterator<Item = &'p P>,
    {
        let hash = Interner::hash(parts())?;
        self.get_hashed(hash, parts)
    }

    /// The hash of the key whose parts are `parts`; None if a part is no scalar.
    pub fn hash<'p, P: KeyPart + 'p>(parts: impl Iterator<Item = &'p P>) -> Option<u64> {
        let mut h = seed().build_hasher();
        for part in parts {
            part.canon()?.hash(&mut h);
        }
        Some(h.finish())
    }

    /// Ask for the set of `hash` to be brought into the cache ahead of [`Interner::get_hashed`]:
    /// lookups of many keys then wait for memory side by side, not one after the other.
    pub fn prefetch(&self, hash: u64) {
        if let Some(set) = self.sets.get(Interner::index(hash, self.sets.len())) {
            prefetch(set);
        }
    }

    /// [`Interner::get`] of a key whose hash is known (`Interner::hash` of the same parts).
    pub fn get_hashed<'p, P, I>(&mut self, hash: u64, parts: impl Fn() -> I) -> Option<Key>
    where
        P: KeyPart + 'p,
        I: Iterator<Item = &'p P>,
    {
        if self.sets.is_empty() {
            self.sets.resize(1 << FIRST_BITS, Set::default());
        }
        self.lookups += 1;
        if self.lookups >= 2 * WAYS * self.sets.len() {
            self.weigh();
        }
        let at = Interner::index(hash, self.sets.len());
        let set = &mut self.sets[at];
        for w in 0..WAYS {
            let Some(k) = &set.keys[w] else { break };
            if set.hashes[w] == hash && k.is(parts()) {
                let found = k.clone();
                if w > 0 {
                    set.move_first(w);
                }
                return Some(found);
            }
        }
        let spelled: Vec<ScalarRef> = parts().map(KeyPart::spelled).collect::<Option<_>>()?;
        let key = Key::with_hash(hash, spelled.into_iter());
        if set.put_first(hash, key.clone()) {
            self.conflicts += 1;
        }
        Some(key)
    }

    /// The set of a hash among `len` (a power of two): its top bits.
    fn index(hash: u64, len: usize) -> usize {
        if len <= 1 {
            return 0;
        }
        (hash >> (64 - len.trailing_zeros())) as usize
    }

    /// Double the sets if lookups often pushed another group's key out since the last time.
    /// The keys of a set go to one of the two it became, in their order: every key stays.
    fn weigh(&mut self) {
        let grow =
            self.conflicts * CONFLICT_SHARE > self.lookups && self.sets.len() < 1 << MAX_BITS;
        (self.lookups, self.conflicts) = (0, 0);
        if !grow {
            return;
        }
        let len = 2 * self.sets.len();
        let mut sets = vec![Set::default(); len];
        let mut filled = vec![0usize; len];
        for old in std::mem::take(&mut self.sets) {
            for (hash, key) in old.held() {
                let at = Interner::index(hash, len);
                let w = filled[at];
                (sets[at].hashes[w], sets[at].keys[w]) = (hash, Some(key.clone()));
                filled[at] += 1;
            }
        }
        self.sets = sets;
    }

    /// Every key held, with its set.
    #[cfg(test)]
    fn held(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.sets
            .iter()
            .enumerate()
            .flat_map(|(at, set)| set.held().map(move |(_, k)| (at, k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scalar {
        Scalar::Str(text.into())
    }

    #[test]
    fn equal_keys_hash_alike_whichever_spelling() {
        let a = Key::from([Scalar::Int(1), s("x")]);
        let b = Key::from([Scalar::from_float(1.0), s("x")]);
        assert_eq!(a, b);
        assert_eq!(a.hash_value(), b.hash_value());
        assert_ne!(a, Key::from([Scalar::Bool(true), s("x")]));
    }

    #[test]
    fn the_interner_hands_back_one_key_per_group_and_keeps_a_bounded_few() {
        let mut interner = Interner::default();
        let parts = [s("o1"), s("k1")];
        let first = interner.get(|| parts.iter()).unwrap();
        let again = interner.get(|| parts.iter()).unwrap();
        assert!(first.same_allocation(&again));
        assert_eq!(first, Key::from(parts.clone()));
        // Few groups, seen over and over: the sets double while groups push each other out
        // of theirs (how often depends on the process's hash seed), then no more, every group
        // finding its key.
        let few: Vec<[Scalar; 1]> = (0..200).map(|n| [Scalar::Int(n)]).collect();
        let mut sizes = Vec::new();
        let mut last: Vec<Key> = Vec::new();
        // (A doubling is weighed over twice as many lookups as the one before: the 300 rounds
        // leave room for six.)
        for _ in 0..300 {
            last = few
                .iter()
                .map(|p| interner.get(|| p.iter()).unwrap())
                .collect();
            sizes.push(interner.sets.len());
        }
        assert_eq!(sizes[250], sizes[299], "{sizes:?}");
        assert!(sizes[299] < 1 << MAX_BITS, "{sizes:?}");
        for (p, key) in few.iter().zip(&last) {
            assert!(interner.get(|| p.iter()).unwrap().same_allocation(key));
        }
        // Many more groups than slots: they grow to the most, and a key the interner let go
        // of is freed once nobody else holds it.
        for n in 0..(4 * WAYS) << MAX_BITS {
            let other = [Scalar::Int(n as i128)];
            interner.get(|| other.iter());
        }
        assert_eq!(interner.sets.len(), 1 << MAX_BITS);
        assert!(interner.held().count() > WAYS << (MAX_BITS - 1));
        assert!(first.holders() <= 3);
        let kept = interner.get(|| parts.iter()).unwrap();
        assert!(kept.is(parts.iter()));
        assert_eq!(kept, first);
        // A full interner is weighed again without growing, and keeps its keys.
        let recent = [Scalar::Int(((4 * WAYS) << MAX_BITS) as i128 - 1)];
        let made = interner.get(|| recent.iter()).unwrap();
        interner.weigh();
        assert_eq!(interner.sets.len(), 1 << MAX_BITS);
        assert!(interner
            .get(|| recent.iter())
            .unwrap()
            .same_allocation(&made));
    }

    /// `WAYS + 1` groups whose keys fall in one set of a fresh interner.
    fn one_set_of_groups() -> Vec<[Scalar; 1]> {
        let mut by_set: Vec<Vec<[Scalar; 1]>> = vec![Vec::new(); 1 << FIRST_BITS];
        for n in 0.. {
            let parts = [Scalar::Int(n)];
            let at = Interner::index(Key::from(parts.clone()).hash_value(), 1 << FIRST_BITS);
            by_set[at].push(parts);
            if by_set[at].len() > WAYS {
                return by_set.swap_remove(at);
            }
        }
        unreachable!()
    }

    #[test]
    fn groups_that_share_a_set_keep_their_keys_until_one_too_many_comes() {
        let groups = one_set_of_groups();
        let mut interner = Interner::default();
        let keys: Vec<Key> = groups[..WAYS]
            .iter()
            .map(|p| interner.get(|| p.iter()).unwrap())
            .collect();
        // found again in any order, each its own allocation
        for round in 0..3 {
            for n in (0..WAYS).rev().chain(0..WAYS) {
                let found = interner.get(|| groups[n].iter()).unwrap();
                assert!(found.same_allocation(&keys[n]), "round {round}, group {n}");
            }
        }
        assert_eq!(interner.conflicts, 0);
        // the last lookups went 0, 1, ..: one more group pushes out the least recent, 0
        let extra = interner.get(|| groups[WAYS].iter()).unwrap();
        assert_eq!(interner.conflicts, 1);
        assert!(interner
            .get(|| groups[WAYS].iter())
            .unwrap()
            .same_allocation(&extra));
        for n in 1..WAYS {
            let found = interner.get(|| groups[n].iter()).unwrap();
            assert!(found.same_allocation(&keys[n]), "group {n}");
        }
        let again = interner.get(|| groups[0].iter()).unwrap();
        assert!(!again.same_allocation(&keys[0]));
        assert_eq!(again, keys[0]);
    }

    #[test]
    fn a_grown_interner_finds_the_keys_it_held() {
        let mut interner = Interner::default();
        let parts: Vec<[Scalar; 1]> = (0..2000).map(|n| [Scalar::Int(n)]).collect();
        let keys: Vec<Key> = parts
            .iter()
            .map(|p| interner.get(|| p.iter()).unwrap())
            .collect();
        let before = interner.sets.len();
        let cached = interner.held().count();
        // every lookup pushed another group's key out since the size was last weighed
        (interner.lookups, interner.conflicts) = (10, 10);
        interner.weigh();
        assert_eq!(interner.sets.len(), 2 * before);
        assert_eq!(interner.held().count(), cached);
        for (at, key) in interner.held() {
            assert_eq!(Interner::index(key.hash_value(), 2 * before), at);
        }
        let held: Vec<(&Key, &[Scalar; 1])> = keys
            .iter()
            .zip(&parts)
            .filter(|(k, _)| interner.held().any(|(_, c)| c.same_allocation(k)))
            .collect();
        assert_eq!(held.len(), cached);
        for (key, p) in held {
            assert!(interner.get(|| p.iter()).unwrap().same_allocation(key));
        }
    }

    #[test]
    fn an_event_value_finds_the_key_it_would_have_built() {
        use crate::value::Value;
        let mut interner = Interner::default();
        let first = [Value::Float(1e19), Value::Str("x".into())];
        let made = interner.get(|| first.iter()).unwrap();
        assert_eq!(made.scalars(), [Scalar::Float(1e19f64.to_bits()), s("x")]);
        let same = [
            Value::Int(10_000_000_000_000_000_000),
            Value::Str("x".into()),
        ];
        let found = interner.get(|| same.iter()).unwrap();
        assert_eq!((found.hash_value(), &found), (made.hash_value(), &made));
        assert!(matches!(found.parts().next(), Some(ScalarRef::Int(_))));
        // the two spellings share the interner's slot (equal keys hash alike): each event
        // still gets its own
        let again = interner.get(|| first.iter()).unwrap();
        assert!(again.is(first.iter()) && !again.is(same.iter()));
        assert_eq!(again, found);
        for v in [
            Value::Float(3.0),
            Value::Float(-0.0),
            Value::Float(2.5),
            Value::Bool(true),
        ] {
            let key = Key::from([v.scalar().unwrap()]);
            let got = interner.get(|| std::iter::once(&v)).unwrap();
            assert_eq!((got.hash_value(), &got), (key.hash_value(), &key));
        }
        assert!(interner.get(|| [Value::Null].iter()).is_none());
    }

    #[test]
    fn parts_read_back_as_written() {
        let parts = vec![
            Scalar::Bool(false),
            Scalar::Bool(true),
            Scalar::Int(0),
            Scalar::Int(-1),
            Scalar::Int(i128::MAX),
            Scalar::Int(i128::MIN),
            Scalar::Int(18_446_744_073_709_551_615),
            Scalar::Float((-0.0f64).to_bits()),
            Scalar::from_float(2.5e20),
            s(""),
            s(&"\u{e9}x".repeat(100)),
        ];
        let key = Key::from(parts.clone());
        let back: Vec<ScalarRef> = key.parts().collect();
        let want: Vec<ScalarRef> = parts.iter().map(Scalar::as_ref).collect();
        assert_eq!(back, want);
        assert_eq!(Key::from(Vec::new()).parts().count(), 0);
    }

    #[test]
    fn saved_as_its_parts() {
        let key = Key::from([
            s("a"),
            Scalar::Int(2),
            Scalar::Bool(true),
            Scalar::Int(i128::MIN),
            Scalar::Float(2.5f64.to_bits()),
            s("\u{e9}x"),
        ]);
        let parts: Box<[Scalar]> = key.scalars().into();
        assert_eq!(
            postcard::to_allocvec(&key).unwrap(),
            postcard::to_allocvec(&parts).unwrap()
        );
        let back: Key = postcard::from_bytes(&postcard::to_allocvec(&key).unwrap()).unwrap();
        assert_eq!(back, key);
    }
}
