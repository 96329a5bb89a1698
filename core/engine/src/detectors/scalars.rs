//! A group's values (distinct, new_value) found by an event's value in place: the value is
//! copied into the map only when it is new to the group.

use std::hash::BuildHasher;

use hashlink::linked_hash_map::RawEntryMut;
use hashlink::LinkedHashMap;

use crate::value::{KeyPart, Scalar, Value};

/// Scalars as keys, in first-seen order.
pub type Scalars<V, S> = LinkedHashMap<Scalar, V, S>;

/// The hasher of a group's values: seeded at random, since senders choose them (account ids,
/// countries) and a fixed hash would let them pile one group's values into one bucket.
pub type Seeded = foldhash::fast::RandomState;

/// Hashes and compares as the scalar `v` would (`Scalar` hashes its canonical form).
fn probe<S: BuildHasher>(hasher: &S, v: &Value) -> Option<u64> {
    Some(hasher.hash_one(v.canon()?))
}

pub fn get_mut<'m, V, S: BuildHasher>(map: &'m mut Scalars<V, S>, v: &Value) -> Option<&'m mut V> {
    let hash = probe(map.hasher(), v)?;
    let canon = v.canon();
    match map
        .raw_entry_mut()
        .from_hash(hash, |k| Some(k.canon()) == canon)
    {
        RawEntryMut::Occupied(entry) => Some(entry.into_mut()),
        RawEntryMut::Vacant(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_value_finds_the_scalar_it_equals() {
        let mut map: Scalars<i64, Seeded> = Scalars::default();
        map.insert(Scalar::Str("fr".into()), 1);
        map.insert(Scalar::Int(3), 2);
        map.insert(Scalar::from_float(1e19), 3);
        assert_eq!(get_mut(&mut map, &Value::Str("fr".into())), Some(&mut 1));
        assert_eq!(get_mut(&mut map, &Value::Float(3.0)), Some(&mut 2));
        let big = Value::Int(10_000_000_000_000_000_000);
        assert_eq!(get_mut(&mut map, &big), Some(&mut 3));
        assert_eq!(get_mut(&mut map, &Value::Bool(true)), None);
        assert_eq!(get_mut(&mut map, &Value::Null), None);
        *get_mut(&mut map, &Value::Str("fr".into())).unwrap() = 7;
        assert_eq!(map[&Scalar::Str("fr".into())], 7);
    }
}
