//! Group keys: made once per group, with their hash, and found again from an event's borrowed
//! values without building a key.
//!
//! Every map that holds a group hashes the key's stored hash, never its text. That hash is
//! seeded at random once per process: keys (ips, account ids) are chosen by whoever sends the
//! events, so a fixed hash would let them pile groups into one bucket.

use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{Canon, KeyPart, Scalar};

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

#[derive(Debug)]
struct KeyData {
    hash: u64,
    parts: Box<[Scalar]>,
}

/// A group's key: one scalar per `group_by` field, shared (not copied) by every map that
/// holds the group.
#[derive(Debug, Clone)]
pub struct Key(Arc<KeyData>);

impl Key {
    pub fn new(parts: Box<[Scalar]>) -> Key {
        let hash = hash_parts(parts.iter().map(Scalar::canon));
        Key(Arc::new(KeyData { hash, parts }))
    }

    pub fn hash_value(&self) -> u64 {
        self.0.hash
    }

    /// Whether the key is `parts`, spelled alike, in order.
    fn is<'p, P: KeyPart + 'p>(&self, parts: impl Iterator<Item = &'p P>) -> bool {
        let mut mine = self.0.parts.iter();
        for part in parts {
            match mine.next() {
                Some(s) if part.spells(s) => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }
}

impl Deref for Key {
    type Target = [Scalar];

    fn deref(&self) -> &[Scalar] {
        &self.0.parts
    }
}

impl<const N: usize> From<[Scalar; N]> for Key {
    fn from(parts: [Scalar; N]) -> Key {
        Key::new(parts.into())
    }
}

impl From<Vec<Scalar>> for Key {
    fn from(parts: Vec<Scalar>) -> Key {
        Key::new(parts.into())
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.parts == other.0.parts)
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
        self.0.parts.cmp(&other.0.parts)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

/// Saved as the list of its parts, as before keys kept their hash.
impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.parts.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        Ok(Key::new(Box::<[Scalar]>::deserialize(d)?))
    }
}

/// One rule's known keys: a selected event finds its group's key by hash and borrowed values,
/// allocating only for a group not seen before. Keys are told apart by spelling, so an event
/// gets the key it would have built itself (equal keys of two spellings are two entries).
#[derive(Debug, Clone, Default)]
pub struct Interner {
    keys: HashTable<Key>,
    /// Size after the last sweep: the next one runs when the table has doubled.
    swept: usize,
}

/// Keys only the interner holds are dropped when the table has grown past this.
const SWEEP_FROM: usize = 1024;

impl Interner {
    /// The key whose parts are `parts()` (a fresh iterator over the same parts each call),
    /// made if new; None if a part is no scalar.
    pub fn get<'p, P, I>(&mut self, parts: impl Fn() -> I) -> Option<Key>
    where
        P: KeyPart + 'p,
        I: Iterator<Item = &'p P>,
    {
        let mut h = seed().build_hasher();
        for part in parts() {
            part.canon()?.hash(&mut h);
        }
        let hash = h.finish();
        if let Some(k) = self.keys.find(hash, |k| k.0.hash == hash && k.is(parts())) {
            return Some(k.clone());
        }
        let owned: Box<[Scalar]> = parts().map(|p| p.to_scalar()).collect::<Option<_>>()?;
        let key = Key(Arc::new(KeyData { hash, parts: owned }));
        self.keys.insert_unique(hash, key.clone(), Key::hash_value);
        Some(key)
    }

    /// Drop keys no detector holds any more, once the table has doubled since the last time
    /// (amortised constant time per key).
    pub fn sweep(&mut self) {
        if self.keys.len() < SWEEP_FROM.max(2 * self.swept) {
            return;
        }
        self.keys.retain(|k| Arc::strong_count(&k.0) > 1);
        self.swept = self.keys.len();
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
    fn the_interner_hands_back_one_key_per_group_and_forgets_unused_ones() {
        let mut interner = Interner::default();
        let parts = [s("o1"), s("k1")];
        let first = interner.get(|| parts.iter()).unwrap();
        let again = interner.get(|| parts.iter()).unwrap();
        assert!(Arc::ptr_eq(&first.0, &again.0));
        assert_eq!(first, Key::from(parts.clone()));
        drop((first, again));
        for n in 0..SWEEP_FROM {
            let other = [Scalar::Int(n as i128)];
            interner.get(|| other.iter());
        }
        let kept = interner.get(|| parts.iter()).unwrap();
        interner.sweep();
        assert_eq!(interner.keys.len(), 1);
        assert!(kept.is(parts.iter()));
    }

    #[test]
    fn an_event_value_finds_the_key_it_would_have_built() {
        use crate::value::Value;
        let mut interner = Interner::default();
        let first = [Value::Float(1e19), Value::Str("x".into())];
        let made = interner.get(|| first.iter()).unwrap();
        assert_eq!(&made[..], &[Scalar::Float(1e19f64.to_bits()), s("x")]);
        let same = [
            Value::Int(10_000_000_000_000_000_000),
            Value::Str("x".into()),
        ];
        let found = interner.get(|| same.iter()).unwrap();
        assert_eq!((found.hash_value(), &found), (made.hash_value(), &made));
        assert!(matches!(found[0], Scalar::Int(_)));
        let again = interner.get(|| first.iter()).unwrap();
        assert!(Arc::ptr_eq(&made.0, &again.0));
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
    fn saved_as_its_parts() {
        let key = Key::from([s("a"), Scalar::Int(2)]);
        let parts: Box<[Scalar]> = key.to_vec().into();
        assert_eq!(
            postcard::to_allocvec(&key).unwrap(),
            postcard::to_allocvec(&parts).unwrap()
        );
        let back: Key = postcard::from_bytes(&postcard::to_allocvec(&key).unwrap()).unwrap();
        assert_eq!(back, key);
    }
}
