//! The binary form of a forwarded event, as an input partition writes it into a repartition
//! record and a family partition reads it back: the event's values as decoded, so the family
//! side reads them without parsing JSON again.
//!
//! ```text
//! event  = 0x00 ts:zigzag field*            (0x00: never the first byte of a JSON event)
//! field  = name:bytes value
//! value  = 0x00 null | 0x01 false | 0x02 true | 0x03 int:zigzag | 0x04 float:f64-le
//!        | 0x05 str:bytes | 0x06 n:uvarint value{n} | 0x07 n:uvarint (name:bytes value){n}
//! bytes  = len:uvarint byte{len}
//! ```
//!
//! Integers are LEB128 varints (`zigzag` for signed ones, up to 128 bits). Field names are
//! spelled out per event, so an event reads alone, whichever engine wrote it: the two sides'
//! schemas number their fields apart.

use std::borrow::Cow;

use crate::event::{Event, TS};
use crate::slots::Slots;
use crate::value::Value;

/// The first byte of an event in this form.
pub const EVENT_TAG: u8 = 0x00;

const NULL: u8 = 0x00;
const FALSE: u8 = 0x01;
const TRUE: u8 = 0x02;
const INT: u8 = 0x03;
const FLOAT: u8 = 0x04;
const STR: u8 = 0x05;
const LIST: u8 = 0x06;
const OBJECT: u8 = 0x07;

/// Why bytes are not an event in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    BadTag(u8),
    BadVarint,
    InvalidUtf8,
    TooDeep,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated"),
            WireError::BadTag(t) => write!(f, "unknown value tag {t:#04x}"),
            WireError::BadVarint => f.write_str("varint too long"),
            WireError::InvalidUtf8 => f.write_str("invalid UTF-8"),
            WireError::TooDeep => f.write_str("nested too deep"),
        }
    }
}

pub fn put_uvarint(mut n: u128, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub fn put_varint(n: i128, out: &mut Vec<u8>) {
    put_uvarint(((n << 1) ^ (n >> 127)) as u128, out);
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    put_uvarint(b.len() as u128, out);
    out.extend_from_slice(b);
}

/// The event cut down to `fields` (name and slot; those present, the event time apart) into
/// `out`.
pub fn write_event(e: &Event, fields: &[(Box<str>, usize)], out: &mut Vec<u8>) {
    out.push(EVENT_TAG);
    put_varint(i128::from(e.ts), out);
    for (name, slot) in fields {
        let v = e.slot(*slot);
        if *slot == TS || matches!(v, Value::Null) {
            continue;
        }
        put_bytes(name.as_bytes(), out);
        write_value(v, out);
    }
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            put_varint(*i, out);
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Str(s) => {
            out.push(STR);
            put_bytes(s.as_bytes(), out);
        }
        Value::List(items) => {
            out.push(LIST);
            put_uvarint(items.len() as u128, out);
            for item in items {
                write_value(item, out);
            }
        }
        Value::Object(items) => {
            out.push(OBJECT);
            put_uvarint(items.len() as u128, out);
            for (k, item) in items {
                put_bytes(k.as_bytes(), out);
                write_value(item, out);
            }
        }
    }
}

/// A reader over bytes in this form.
pub struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(raw: &'a [u8]) -> Reader<'a> {
        Reader { raw, at: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.at >= self.raw.len()
    }

    pub fn byte(&mut self) -> Result<u8, WireError> {
        let b = *self.raw.get(self.at).ok_or(WireError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    pub fn uvarint(&mut self) -> Result<u128, WireError> {
        let mut n: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            // The nineteenth byte holds the top two bits: more would not fit in 128.
            if shift == 126 && b & 0x7f > 0b11 {
                return Err(WireError::BadVarint);
            }
            n |= u128::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(WireError::BadVarint)
    }

    pub fn varint(&mut self) -> Result<i128, WireError> {
        let z = self.uvarint()?;
        Ok((z >> 1) as i128 ^ -((z & 1) as i128))
    }

    /// A length, checked against what is left (so a corrupt one allocates nothing).
    fn len(&mut self) -> Result<usize, WireError> {
        let n = self.uvarint()?;
        let left = (self.raw.len() - self.at) as u128;
        if n > left {
            return Err(WireError::Truncated);
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.len()?;
        let b = &self.raw[self.at..self.at + n];
        self.at += n;
        Ok(b)
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        let b = self.bytes()?;
        // Names and values are mostly short ASCII: the inlined ASCII check is several times
        // cheaper than a call to the full UTF-8 validation per string.
        if b.is_ascii() {
            // SAFETY: every ASCII byte sequence is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(b) });
        }
        std::str::from_utf8(b).map_err(|_| WireError::InvalidUtf8)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, WireError> {
        Ok(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(self.varint()?),
            FLOAT => {
                let end = self.at + 8;
                let b = self.raw.get(self.at..end).ok_or(WireError::Truncated)?;
                self.at = end;
                Value::Float(f64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            STR => Value::Str(Cow::Borrowed(self.str()?)),
            tag @ (LIST | OBJECT) => {
                if depth == 0 {
                    return Err(WireError::TooDeep);
                }
                // Every item takes a byte at least: a count larger than what is left is corrupt.
                let n = self.len()?;
                if tag == LIST {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.value(depth - 1)?);
                    }
                    Value::List(items)
                } else {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        let k = self.str()?;
                        items.push((Cow::Borrowed(k), self.value(depth - 1)?));
                    }
                    Value::Object(items)
                }
            }
            other => return Err(WireError::BadTag(other)),
        })
    }
}

/// The event time of an event in this form, read without the rest.
pub fn event_ts(raw: &[u8]) -> Result<i64, WireError> {
    let mut r = Reader::new(raw);
    if r.byte()? != EVENT_TAG {
        return Err(WireError::BadTag(raw[0]));
    }
    i64::try_from(r.varint()?).map_err(|_| WireError::BadVarint)
}

/// An event in this form read into schema slots: `slot` names the slot of a field (None for a
/// field no rule reads), `slots` comes filled with nulls. Nesting is bounded by `max_depth`.
pub fn read_event<'a>(
    raw: &'a [u8],
    max_depth: usize,
    slots: &mut Slots<'a>,
    mut slot: impl FnMut(usize, &str) -> Option<usize>,
) -> Result<(), WireError> {
    let mut r = Reader::new(raw);
    let tag = r.byte()?;
    if tag != EVENT_TAG {
        return Err(WireError::BadTag(tag));
    }
    slots[TS] = Value::Int(r.varint()?);
    let mut at = 0;
    while !r.at_end() {
        let name = r.str()?;
        // The event's own level counts as one, as it does for the JSON reader.
        let v = r.value(max_depth.saturating_sub(1))?;
        if let Some(n) = slot(at, name) {
            slots[n] = v;
        }
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_back() {
        for n in [
            0i128,
            1,
            -1,
            63,
            -64,
            64,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(u64::MAX),
            i128::MAX,
            i128::MIN,
        ] {
            let mut out = Vec::new();
            put_varint(n, &mut out);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint(), Ok(n));
            assert!(r.at_end());
        }
        // Nineteen continuation bytes, or a nineteenth byte with more than two bits, are more
        // than 128 bits hold.
        assert_eq!(
            Reader::new(&[0xff; 19]).uvarint(),
            Err(WireError::BadVarint)
        );
        let mut wide = vec![0x80; 18];
        wide.push(0x04);
        assert_eq!(Reader::new(&wide).uvarint(), Err(WireError::BadVarint));
        *wide.last_mut().unwrap() = 0x03;
        assert_eq!(Reader::new(&wide).uvarint(), Ok(3 << 126));
        assert_eq!(Reader::new(&[0x80]).uvarint(), Err(WireError::Truncated));
    }

    fn read(raw: &[u8], depth: usize) -> Result<Vec<Value<'_>>, WireError> {
        // The schema's first slots: event_id, org_id, ts.
        let names = ["event_id", "org_id", "ts", "x"];
        let mut slots = Slots::nulls(4);
        read_event(raw, depth, &mut slots, |_, n| {
            names.iter().position(|m| *m == n)
        })?;
        Ok(slots.iter().cloned().collect())
    }

    #[test]
    fn corrupt_events_are_refused_not_read() {
        let mut ok = vec![EVENT_TAG];
        put_varint(5, &mut ok);
        put_bytes(b"x", &mut ok);
        ok.push(LIST);
        put_uvarint(1, &mut ok);
        ok.push(STR);
        put_bytes("\u{e9}".as_bytes(), &mut ok);
        let got = read(&ok, 3).unwrap();
        assert_eq!(got[TS], Value::Int(5));
        assert_eq!(got[3], Value::List(vec![Value::Str("\u{e9}".into())]));
        assert_eq!(read(&ok, 1), Err(WireError::TooDeep));
        // Cut after the event time, it is an event with no fields; anywhere else, refused.
        assert_eq!(read(&ok[..2], 3).unwrap()[3], Value::Null);
        for cut in (1..ok.len()).filter(|&c| c != 2) {
            assert!(read(&ok[..cut], 3).is_err(), "cut at {cut}");
        }
        let mut bad_utf8 = ok.clone();
        *bad_utf8.last_mut().unwrap() = 0xff;
        assert_eq!(read(&bad_utf8, 3), Err(WireError::InvalidUtf8));
        let mut bad_tag = ok[..ok.len() - 4].to_vec();
        bad_tag.push(0x09);
        assert_eq!(read(&bad_tag, 3), Err(WireError::BadTag(0x09)));
        // A count far beyond the bytes left allocates nothing.
        let mut huge = vec![EVENT_TAG, 0, 1, b'x', LIST];
        put_uvarint(u128::from(u64::MAX), &mut huge);
        assert_eq!(read(&huge, 3), Err(WireError::Truncated));
        assert_eq!(read(b"{}", 3), Err(WireError::BadTag(b'{')));
    }
}
