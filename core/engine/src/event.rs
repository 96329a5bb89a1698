//! Usage events (CONTRACTS.md section 1): decoding one record value and checking the contract,
//! with a reason for each reject.
//!
//! Only the fields some rule reads (and the contract's own) are decoded into values; every other
//! field is checked for being valid JSON and skipped. A decoded event keeps its fields in slots
//! numbered by the [`Schema`], so rules read them without looking names up.

use std::fmt;

use rustc_hash::FxHashMap;

use crate::facts::Facts;
use crate::isotime;
use crate::json::{JsonError, Reader};
use crate::slots::Slots;
use crate::value::{same_text, Value};
use crate::wire;

/// Anything larger is a unit mistake (micro- or nanoseconds): year 5138.
pub const MAX_TS_MS: i64 = 100_000_000_000_000;
/// The deepest nesting accepted: the worker writes events again two levels down (repartition
/// batches) and JSON writers commonly stop at a few hundred levels.
pub const MAX_DEPTH: usize = 100;

/// Why a record went to the dead-letter topic: a bounded set (the metrics' `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    NotJson,
    NotObject,
    MissingField,
    WrongType,
    Oversized,
    Other,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotJson => "not_json",
            Reason::NotObject => "not_object",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::Oversized => "oversized",
            Reason::Other => "other",
        }
    }
}

/// A rejected record: `message` is the short text of the dead-letter `error` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub reason: Reason,
    pub message: String,
}

impl EventError {
    fn new(reason: Reason, message: impl Into<String>) -> EventError {
        EventError {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Int,
    Bool,
    List,
    Object,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Int => "integer",
            Kind::Bool => "boolean",
            Kind::List => "list",
            Kind::Object => "object",
        }
    }

    fn admits(self, v: &Value<'_>) -> bool {
        matches!(
            (self, v),
            (Kind::Str, Value::Str(_))
                | (Kind::Int, Value::Int(_))
                | (Kind::Bool, Value::Bool(_))
                | (Kind::List, Value::List(_))
                | (Kind::Object, Value::Object(_))
        )
    }
}

/// The contract's optional fields and their types, in the order they are checked.
const OPTIONAL: [(&str, Kind); 13] = [
    ("account_id", Kind::Str),
    ("api_key_id", Kind::Str),
    ("ip", Kind::Str),
    ("country", Kind::Str),
    ("endpoint", Kind::Str),
    ("model", Kind::Str),
    ("status", Kind::Int),
    ("prompt_tokens", Kind::Int),
    ("completion_tokens", Kind::Int),
    ("flagged", Kind::Bool),
    ("categories", Kind::List),
    ("event_type", Kind::Str),
    ("attrs", Kind::Object),
];

pub const EVENT_ID: usize = 0;
pub const ORG_ID: usize = 1;
pub const TS: usize = 2;
const FIRST_OPTIONAL: usize = 3;
pub const EVENT_TYPE: usize = FIRST_OPTIONAL + 11;
const CATEGORIES: usize = FIRST_OPTIONAL + 10;

/// Which top-level fields are decoded, and the slot each one lands in.
#[derive(Debug, Clone)]
pub struct Schema {
    names: Vec<Box<str>>,
    index: FxHashMap<Box<str>, usize>,
    /// The rule set's cheap conditions, answered for each event as it is decoded.
    pub facts: Facts,
}

impl Default for Schema {
    fn default() -> Self {
        Schema::new()
    }
}

impl Schema {
    /// The contract's fields only; rules add theirs with [`Schema::slot`].
    pub fn new() -> Schema {
        Schema::with_facts(Facts::default())
    }

    /// The contract's fields, with `facts` to answer (`Facts::with_limit(0)`: none).
    pub fn with_facts(facts: Facts) -> Schema {
        let mut schema = Schema {
            names: Vec::new(),
            index: FxHashMap::default(),
            facts,
        };
        for name in ["event_id", "org_id", "ts"] {
            schema.slot(name);
        }
        for (name, _) in OPTIONAL {
            schema.slot(name);
        }
        schema
    }

    /// The slot of a top-level field, added if new.
    pub fn slot(&mut self, name: &str) -> usize {
        if let Some(&n) = self.index.get(name) {
            return n;
        }
        let n = self.names.len();
        self.names.push(name.into());
        self.index.insert(name.into(), n);
        n
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    /// One record value as a checked event.
    pub fn decode<'a>(&self, raw: &'a [u8]) -> Result<Event<'a>, EventError> {
        self.decoder().decode(raw)
    }

    /// A decoder for many records: it learns the order their fields come in.
    pub fn decoder(&self) -> Decoder<'_> {
        Decoder {
            schema: self,
            order: Vec::new(),
        }
    }
}

/// Not a slot: a field no rule reads.
const UNREAD: usize = usize::MAX;

/// Records decoded one after another. Producers write an event's fields in one order, so the
/// slot of the n-th field of the record before is tried first (a comparison of the names), and
/// the schema's map is searched only when that guess is wrong.
#[derive(Debug)]
pub struct Decoder<'s> {
    schema: &'s Schema,
    /// The slot of each position's field in the record before (`UNREAD` for others).
    order: Vec<usize>,
}

impl Decoder<'_> {
    /// One record value as a checked event.
    pub fn decode<'a>(&mut self, raw: &'a [u8]) -> Result<Event<'a>, EventError> {
        let slots = self.read(raw).map_err(not_json)?;
        match slots {
            Some(slots) => self.checked(slots),
            None => Err(EventError::new(Reason::NotObject, "not a JSON object")),
        }
    }

    /// The event of `slots` if it keeps the contract, with its facts.
    fn checked<'a>(&self, slots: Slots<'a>) -> Result<Event<'a>, EventError> {
        let mut event = check(slots)?;
        event.facts = self.schema.facts.of(&event);
        Ok(event)
    }

    /// A forwarded event, in the binary form of `wire` or as JSON, as a checked event.
    pub fn decode_forwarded<'a>(&mut self, raw: &'a [u8]) -> Result<Event<'a>, EventError> {
        if raw.first() != Some(&wire::EVENT_TAG) {
            return self.decode(raw);
        }
        let mut slots = self.empty_slots();
        wire::read_event(raw, MAX_DEPTH, &mut slots, |at, name| self.slot(at, name))
            .map_err(|e| EventError::new(Reason::Other, format!("bad forwarded event: {e}")))?;
        self.checked(slots)
    }

    /// A null in every slot of the schema.
    fn empty_slots<'a>(&self) -> Slots<'a> {
        Slots::nulls(self.schema.len())
    }

    /// The slot of the field named `key` at position `at` of an object.
    fn slot(&mut self, at: usize, key: &str) -> Option<usize> {
        let schema = self.schema;
        if let Some(&n) = self.order.get(at) {
            if n != UNREAD && same_text(&schema.names[n], key) {
                return Some(n);
            }
        }
        let found = schema.index.get(key).copied();
        let n = found.unwrap_or(UNREAD);
        if at < self.order.len() {
            self.order[at] = n;
        } else if at == self.order.len() {
            self.order.push(n);
        }
        found
    }

    /// The schema's fields of a JSON object in their slots, or None for any other JSON value.
    /// Every other field is still read in full: a record that is not JSON is refused wherever
    /// the fault is.
    fn read<'a>(&mut self, raw: &'a [u8]) -> Result<Option<Slots<'a>>, JsonError> {
        let mut reader = Reader::new(raw, MAX_DEPTH)?;
        if !reader.at_object() {
            reader.skip()?;
            reader.finish()?;
            return Ok(None);
        }
        let mut slots = self.empty_slots();
        let mut at = 0;
        reader.object(|r, key| {
            let slot = self.slot(at, &key);
            at += 1;
            match slot {
                Some(n) => r.value_into(&mut slots[n]),
                None => r.skip(),
            }
        })?;
        reader.finish()?;
        Ok(Some(slots))
    }
}

// The text after "not valid JSON: " is this reader's own wording and byte offset, not
// orjson's (which names line and column); only the depth limit's text is the same on both
// sides, as it is the worker's own and not orjson's.
fn not_json(err: JsonError) -> EventError {
    let mut text = err.to_string();
    text.truncate(floor_char_boundary(&text, 80));
    EventError::new(Reason::NotJson, format!("not valid JSON: {text}"))
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A checked event: every decoded field in its schema slot (`Null` when absent or null).
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub ts: i64,
    /// The answers to the schema's facts (`facts`), bit n for fact n.
    pub facts: u64,
    slots: Slots<'a>,
}

impl<'a> Event<'a> {
    pub fn event_id(&self) -> &str {
        self.slots[EVENT_ID].as_str().unwrap_or("")
    }

    pub fn slot(&self, n: usize) -> &Value<'a> {
        &self.slots[n]
    }
}

fn required_string(slots: &Slots<'_>, n: usize, name: &str) -> Result<(), EventError> {
    match &slots[n] {
        Value::Str(s) if !s.is_empty() => Ok(()),
        Value::Null => Err(EventError::new(
            Reason::MissingField,
            format!("{name}: required non-empty string"),
        )),
        _ => Err(EventError::new(
            Reason::WrongType,
            format!("{name}: expected non-empty string"),
        )),
    }
}

fn out_of_range() -> EventError {
    EventError::new(
        Reason::WrongType,
        "ts: out of range (expected epoch milliseconds)",
    )
}

fn parse_ts(value: &Value<'_>) -> Result<i64, EventError> {
    let ts: i128 = match value {
        Value::Int(i) => *i,
        Value::Null => return Err(EventError::new(Reason::MissingField, "ts: required")),
        // JSON has no NaN or infinity; truncation toward zero as Python's int() does.
        Value::Float(f) => {
            if !f.is_finite() || f.abs() >= 1e30 {
                return Err(out_of_range());
            }
            f.trunc() as i128
        }
        Value::Str(s) => match isotime::parse_ms(s) {
            Some(ms) => ms as i128,
            None => {
                return Err(EventError::new(
                    Reason::WrongType,
                    "ts: not epoch ms or ISO-8601",
                ))
            }
        },
        _ => {
            return Err(EventError::new(
                Reason::WrongType,
                "ts: expected epoch ms number or ISO-8601 string",
            ))
        }
    };
    if !(0..MAX_TS_MS as i128).contains(&ts) {
        return Err(out_of_range());
    }
    Ok(ts as i64)
}

fn check(mut slots: Slots<'_>) -> Result<Event<'_>, EventError> {
    required_string(&slots, EVENT_ID, "event_id")?;
    required_string(&slots, ORG_ID, "org_id")?;
    let ts = parse_ts(&slots[TS])?;
    slots[TS] = Value::Int(ts as i128);
    for (n, (name, kind)) in OPTIONAL.iter().enumerate() {
        let v = &slots[FIRST_OPTIONAL + n];
        if !matches!(v, Value::Null) && !kind.admits(v) {
            return Err(EventError::new(
                Reason::WrongType,
                format!("{name}: expected {}", kind.name()),
            ));
        }
    }
    if matches!(slots[EVENT_TYPE], Value::Null) {
        slots[EVENT_TYPE] = Value::Str("request".into());
    }
    if let Value::List(items) = &slots[CATEGORIES] {
        if !items.iter().all(|c| matches!(c, Value::Str(_))) {
            return Err(EventError::new(
                Reason::WrongType,
                "categories: expected a list of strings",
            ));
        }
    }
    Ok(Event {
        ts,
        facts: 0,
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str) -> Option<Reason> {
        Schema::new().decode(raw.as_bytes()).err().map(|e| e.reason)
    }

    #[test]
    fn contract_checks() {
        let ok = r#"{"event_id":"e","org_id":"o","ts":5}"#;
        assert_eq!(reason(ok), None);
        for (raw, want) in [
            ("{", Reason::NotJson),
            ("[1]", Reason::NotObject),
            ("3", Reason::NotObject),
            (r#"{"org_id":"o","ts":5}"#, Reason::MissingField),
            (r#"{"event_id":"","org_id":"o","ts":5}"#, Reason::WrongType),
            (r#"{"event_id":"e","org_id":"o"}"#, Reason::MissingField),
            (
                r#"{"event_id":"e","org_id":"o","ts":true}"#,
                Reason::WrongType,
            ),
            (
                r#"{"event_id":"e","org_id":"o","ts":-1}"#,
                Reason::WrongType,
            ),
            (
                r#"{"event_id":"e","org_id":"o","ts":5,"status":true}"#,
                Reason::WrongType,
            ),
            (
                r#"{"event_id":"e","org_id":"o","ts":5,"categories":[1]}"#,
                Reason::WrongType,
            ),
            (r#"{"event_id":"e","org_id":"o","ts":5} x"#, Reason::NotJson),
        ] {
            assert_eq!(reason(raw), Some(want), "{raw}");
        }
    }

    #[test]
    fn fields_in_any_order_land_in_their_slots() {
        let schema = Schema::new();
        let mut decoder = schema.decoder();
        for raw in [
            r#"{"event_id":"e","org_id":"o","ts":5,"ip":"a","x":1,"country":"c"}"#,
            r#"{"ts":6,"country":"d","event_id":"f","x":1,"org_id":"p","ip":"b"}"#,
            r#"{"event_id":"g","org_id":"q","ts":7,"ip":"e","x":1,"country":"f"}"#,
            r#"{"event_id":"h","x":{"country":"z"},"org_id":"r","ts":8,"y":2,"ip":"g"}"#,
        ] {
            let got = decoder.decode(raw.as_bytes()).unwrap();
            assert_eq!(got, schema.decode(raw.as_bytes()).unwrap(), "{raw}");
            let json: serde_json::Value = serde_json::from_str(raw).unwrap();
            for name in ["event_id", "org_id", "ip", "country"] {
                let want = json.get(name).and_then(|v| v.as_str());
                assert_eq!(got.slot(schema.index[name]).as_str(), want, "{raw}: {name}");
            }
        }
    }

    #[test]
    fn defaults_and_normalised_time() {
        let e = Schema::new()
            .decode(br#"{"event_id":"e","org_id":"o","ts":"1970-01-01T00:00:01Z"}"#)
            .unwrap();
        assert_eq!(e.ts, 1000);
        assert_eq!(e.slot(EVENT_TYPE), &Value::Str("request".into()));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!(
            r#"{{"event_id":"e","org_id":"o","ts":5,"x":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(reason(&deep), Some(Reason::NotJson));
        let fine = format!(
            r#"{{"event_id":"e","org_id":"o","ts":5,"x":{}{}}}"#,
            "[".repeat(99),
            "]".repeat(99)
        );
        assert_eq!(reason(&fine), None);
    }
}
