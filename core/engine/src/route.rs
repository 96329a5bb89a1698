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
use crate::wire;

/// How forwarded events are written: JSON objects joined by commas (the form earlier versions
/// read), or each in the binary form of `wire` behind its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Binary,
}

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
    /// The same fields by name, for the binary form.
    names: Vec<(Box<str>, usize)>,
}

/// The events of one batch for one family: per repartition partition, the events in runs of at
/// most about `limit` bytes each (the body of one record: see `Format`).
pub type Routed = Vec<Vec<Vec<u8>>>;

#[derive(Debug, Clone)]
pub struct Router {
    families: Vec<Family>,
    partitions: u32,
    limit: usize,
    format: Format,
}

impl Router {
    pub fn new(
        specs: &[FamilySpec],
        partitions: u32,
        limit: usize,
        format: Format,
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
                let names = f
                    .fields
                    .iter()
                    .map(|n| (n.as_str().into(), schema.slot(n)))
                    .collect();
                Ok(Family {
                    selectors,
                    fields,
                    names,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Router {
            families,
            partitions,
            limit,
            format,
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
        let mut event = Vec::new();
        let mut length = Vec::new();
        for (fam, parts) in self.families.iter().zip(routed.iter_mut()) {
            for e in events {
                // The first rule (in the family's order) that selects the event names its group.
                let Some(by) = fam.selectors.iter().find(|s| s.selects(e)) else {
                    continue;
                };
                write_key(by.group().iter().map(|p| p.get(e)), &mut key);
                let part = (crc32fast::hash(key.as_bytes()) % self.partitions) as usize;
                // What goes between two events of a body, before each one, and the event.
                let (joint, head, item): (&[u8], &[u8], &[u8]) = match self.format {
                    Format::Json => {
                        project(e, &fam.fields, &mut item);
                        (b",", b"", item.as_bytes())
                    }
                    Format::Binary => {
                        event.clear();
                        wire::write_event(e, &fam.names, &mut event);
                        length.clear();
                        wire::put_uvarint(event.len() as u128, &mut length);
                        (b"", &length, &event)
                    }
                };
                // A record is cut where it would grow past the limit; a larger event goes alone.
                let size = head.len() + item.len();
                match parts[part].last_mut() {
                    Some(body) if body.len() + joint.len() + size <= self.limit => {
                        body.extend_from_slice(joint);
                        body.extend_from_slice(head);
                        body.extend_from_slice(item);
                    }
                    _ => parts[part].push([head, item].concat()),
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
    fn binary_events_read_back_as_their_json_does() {
        let mut schema = Schema::new();
        let names = [
            "event_id", "org_id", "ts", "ip", "status", "flagged", "attrs", "n", "tags",
        ];
        let fields: Vec<(String, usize)> = names
            .iter()
            .map(|n| (format!("\"{n}\":"), schema.slot(n)))
            .collect();
        let by_name: Vec<(Box<str>, usize)> = names
            .iter()
            .map(|n| ((*n).into(), schema.slot(n)))
            .collect();
        for raw in [
            r#"{"event_id":"e1","org_id":"o","ts":5}"#,
            r#"{"ts":"2026-01-01T00:00:00.5Z","event_id":"\u00e9\n","org_id":"o\"1","ip":"::1"}"#,
            r#"{"event_id":"e","org_id":"o","ts":7.9,"status":-3,"flagged":false,"n":1e300}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"n":18446744073709551615,"tags":[1,-0.0,null]}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"n":-9223372036854775808,"x":{"y":1}}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"attrs":{"a":[{"b":"\ud83d\ude00"}],"a":2}}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"n":2.5e-300,"event_type":"signup"}"#,
        ] {
            let e = schema.decode(raw.as_bytes()).unwrap();
            let mut json = String::new();
            project(&e, &fields, &mut json);
            let mut bin = Vec::new();
            wire::write_event(&e, &by_name, &mut bin);
            let mut decoder = schema.decoder();
            let from_json = decoder.decode_forwarded(json.as_bytes()).unwrap();
            let from_bin = decoder.decode_forwarded(&bin).unwrap();
            assert_eq!(from_bin, from_json, "{raw}");
            assert!(bin.len() < json.len(), "{raw}");
        }
    }

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
