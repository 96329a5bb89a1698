//! Forwarding to the repartition topics: which family partition each event goes to, and the
//! event cut down to the fields the family's rules read.
//!
//! A family is the rules grouped by the same fields other than the input's partition key; its
//! events go to the partition its group hashes to, so each group lives on exactly one
//! partition. The hash is zlib's CRC-32 of the group key written as a JSON array: both ends of
//! the repartition topics are Signalfire's, and this is what earlier versions wrote too.

use std::fmt::Write;

use serde::Deserialize;

use crate::event::{Event, Schema, TS};
use crate::rule::RuleSpec;
use crate::select::Selector;
use crate::value::{write_str, Scalar, Value};

/// A family as the worker's topology describes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FamilySpec {
    pub name: String,
    pub rules: Vec<RuleSpec>,
    /// Top-level fields forwarded: every field the family's rules read.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone)]
struct Family {
    selectors: Vec<Selector>,
    /// The forwarded fields, each as its JSON name and colon, and its slot; the event time
    /// first, where the family side reads it without parsing the event (see `merge`).
    fields: Vec<(String, usize)>,
}

/// The events of one batch for one family: per repartition partition, the events' JSON joined
/// by commas, in runs of at most about `limit` bytes each (the body of one record's `events`).
pub type Routed = Vec<Vec<Vec<u8>>>;

#[derive(Debug, Clone)]
pub struct Router {
    families: Vec<Family>,
    partitions: u32,
    limit: usize,
}

impl Router {
    pub fn new(
        specs: &[FamilySpec],
        partitions: u32,
        limit: usize,
        schema: &mut Schema,
    ) -> Result<Router, String> {
        if partitions == 0 {
            return Err("repartition topics need at least one partition".into());
        }
        let families = specs
            .iter()
            .map(|f| {
                let selectors = f
                    .rules
                    .iter()
                    .map(|r| Selector::new(r, schema).map_err(|e| format!("rule {}: {e}", r.id)))
                    .collect::<Result<_, _>>()?;
                let mut fields: Vec<(String, usize)> = f
                    .fields
                    .iter()
                    .map(|n| {
                        let mut name = String::new();
                        write_str(n, &mut name);
                        name.push(':');
                        (name, schema.slot(n))
                    })
                    .collect();
                fields.sort_by_key(|&(_, slot)| slot != TS);
                Ok(Family { selectors, fields })
            })
            .collect::<Result<_, String>>()?;
        Ok(Router {
            families,
            partitions,
            limit,
        })
    }

    pub fn families(&self) -> usize {
        self.families.len()
    }

    /// Per family, the on-time events some rule of it selects, by partition, in batch order,
    /// added to `routed`: a batch routed in parts is cut into the same records as if whole.
    pub fn route_into(&self, events: &[&Event], routed: &mut Vec<Routed>) {
        if routed.is_empty() {
            *routed = vec![vec![Vec::new(); self.partitions as usize]; self.families.len()];
        }
        let mut key = String::new();
        let mut item = String::new();
        for (fam, parts) in self.families.iter().zip(routed.iter_mut()) {
            for e in events {
                // The first rule (in the family's order) that selects the event names its group.
                let Some(by) = fam.selectors.iter().find(|s| s.selects(e)) else {
                    continue;
                };
                write_key(by.group().iter().map(|p| p.get(e)), &mut key);
                let part = (crc32fast::hash(key.as_bytes()) % self.partitions) as usize;
                project(e, &fam.fields, &mut item);
                // A record is cut where it would grow past the limit; a larger event goes alone.
                match parts[part].last_mut() {
                    Some(body) if body.len() + 1 + item.len() <= self.limit => {
                        body.push(b',');
                        body.extend_from_slice(item.as_bytes());
                    }
                    _ => parts[part].push(item.as_bytes().to_vec()),
                }
            }
        }
    }

    /// Per family, per rule: how many of the late events the rule would have read.
    pub fn count_late(&self, late: &[&Event], counts: &mut Vec<Vec<u64>>) {
        if counts.is_empty() {
            *counts = self
                .families
                .iter()
                .map(|f| vec![0; f.selectors.len()])
                .collect();
        }
        for (fam, counted) in self.families.iter().zip(counts.iter_mut()) {
            for (s, n) in fam.selectors.iter().zip(counted.iter_mut()) {
                *n += s.count(late.iter().copied()) as u64;
            }
        }
    }
}

/// A group key as the bytes its partition is hashed from, into `out`: a JSON array of its
/// values, each as the scalar it is (a whole float as an integer).
pub fn write_key<'v, 'a: 'v>(parts: impl Iterator<Item = &'v Value<'a>>, out: &mut String) {
    out.clear();
    out.push('[');
    for (n, part) in parts.enumerate() {
        if n > 0 {
            out.push(',');
        }
        match part {
            Value::Float(f) => Scalar::from_float(*f).write_json(out),
            other => other.write_json(out),
        }
    }
    out.push(']');
}

/// The event cut down to `fields` (those present), as JSON into `out`, its time normalised to
/// epoch ms.
fn project(e: &Event, fields: &[(String, usize)], out: &mut String) {
    out.clear();
    out.push('{');
    for (name, slot) in fields {
        let v = e.slot(*slot);
        if matches!(v, Value::Null) {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(name);
        if *slot == TS {
            // Formatting into a String cannot fail.
            let _ = write!(out, "{}", e.ts);
        } else {
            v.write_json(out);
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_as_written_before() {
        let key = [
            Value::Str("a\u{e9}\u{1}/".into()),
            Value::Float(1.5e-7),
            Value::Int(10_000_000_000_000_000_000),
            Value::Bool(true),
            Value::Float(2.5e20),
            Value::Float(3.0),
        ];
        let mut out = String::from("left over");
        write_key(key.iter(), &mut out);
        assert_eq!(
            out,
            "[\"a\u{e9}\\u0001/\",1.5e-7,10000000000000000000,true,2.5e+20,3]"
        );
        // zlib.crc32(b'["o1"]')
        write_key([Value::Str("o1".into())].iter(), &mut out);
        assert_eq!(crc32fast::hash(out.as_bytes()), 0x980e_2668);
    }
}
