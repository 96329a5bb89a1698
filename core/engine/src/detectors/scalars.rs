//! A group's values (distinct, new_value) found by an event's value in place: the value is
//! copied into the map only when it is new to the group.

use indexmap::{Equivalent, IndexMap};

use crate::value::{Canon, KeyPart, Scalar, Value};

/// Scalars as keys, in first-seen order. The entries sit in one vector beside a table of
/// their positions, so a lookup reads the table and one entry: no node per value to chase,
/// as a linked map has. Values leave only through `retain`, which keeps the order.
pub type Scalars<V, S> = IndexMap<Scalar, V, S>;

/// The hasher of a group's values: seeded at random, since senders choose them (account ids,
/// countries) and a fixed hash would let them pile one group's values into one bucket.
pub type Seeded = foldhash::fast::RandomState;

/// An event's value as a lookup key: hashes and compares as the scalar it equals (`Scalar`
/// hashes its canonical form).
#[derive(Hash)]
struct Probe<'v>(Canon<'v>);

impl Equivalent<Scalar> for Probe<'_> {
    fn equivalent(&self, key: &Scalar) -> bool {
        key.canon() == self.0
    }
}

pub fn get_mut<'m, V, S: std::hash::BuildHasher>(
    map: &'m mut Scalars<V, S>,
    v: &Value,
) -> Option<&'m mut V> {
    map.get_mut(&Probe(v.canon()?))
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
