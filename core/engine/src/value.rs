//! JSON values as events carry them, and scalars as keys compare them.
//!
//! Keys follow the filters' JSON typing: `true`, `1` and `"1"` are three values, while numbers
//! compare by value (`1` and `1.0` are one key, spelled `1`), so a group has one spelling and
//! one dedup key whichever form it saw first.

use std::borrow::Cow;
use std::fmt::Write;

use serde::Serialize;

/// A decoded JSON value. Integers keep JSON's full unsigned 64-bit range, as the Python side
/// does; larger literals arrive as floats. Strings without escapes borrow from the record they
/// were read from: decoding an event allocates little.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Value<'a>>),
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// A field of an object (the last one when a key repeats, as JSON decoders keep).
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(items) => items
                .iter()
                .rev()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a number, if it is one (booleans are not numbers).
    pub fn as_number(&self) -> Option<Number> {
        match *self {
            Value::Int(i) => Some(Number::Int(i)),
            Value::Float(f) => Some(Number::Float(f)),
            _ => None,
        }
    }

    /// The key form of a scalar (string, number, boolean); None for null, lists and objects.
    pub fn scalar(&self) -> Option<Scalar> {
        self.spelled().map(ScalarRef::to_scalar)
    }

    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_)
        )
    }

    /// Serialized as compact JSON (floats in the shortest form that reads back the same).
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                // Formatting into a String cannot fail.
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => write_float(*f, out),
            Value::Str(s) => write_str(s, out),
            Value::List(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(items) => {
                out.push('{');
                for (n, (k, v)) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string, escaped as serde_json escapes it (the short escapes, other control
/// characters as `\u00xx`, everything else as it is).
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a char boundary.
        out.push_str(&s[plain..i]);
        if short.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(short);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

pub fn write_float(f: f64, out: &mut String) {
    if f.is_finite() {
        let mut buf = ryu_like(f);
        if !buf.contains(['.', 'e', 'E']) {
            buf.push_str(".0");
        }
        out.push_str(&buf);
    } else {
        out.push_str("null");
    }
}

fn ryu_like(f: f64) -> String {
    // serde_json prints floats with ryu: the shortest text that reads back as the same f64.
    serde_json::to_string(&f).unwrap_or_else(|_| "null".to_string())
}

/// A number as aggregates see it: integers stay exact, floats are floats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub enum Number {
    Int(i128),
    Float(f64),
}

/// Zero: what an aggregate of no events starts from.
impl Default for Number {
    fn default() -> Number {
        Number::Int(0)
    }
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Whole floats in [-2**63, 2**63) become integer keys, as `jsonkey.whole` makes them ints.
const WHOLE_LIMIT: f64 = 9_223_372_036_854_775_808.0;
/// Events' integers reach 2**64 - 1: a whole float below 2**64 can equal one of them.
const INT_RANGE: f64 = 18_446_744_073_709_551_616.0;

/// One element of a group key, a distinct value or a known value: a JSON scalar compared by
/// JSON type, numbers by value (Python's `1 == 1.0`, and its equal hashes).
///
/// A whole float is spelled as an integer below 2**63 and as a float from there on, as the
/// reference's keys are; it still equals the integer of its value (`1e19` and
/// `10000000000000000000` are one key, as in a Python dict).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub enum Scalar {
    Bool(bool),
    Int(i128),
    /// A float that is not a whole number below 2**63, by its bits (JSON has no NaN).
    Float(u64),
    Str(Box<str>),
}

/// Whether two strings are equal, compared inline: field names, ids and countries are short,
/// and a call to `memcmp` for each cost more than the comparison itself.
#[inline(always)]
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two loads that overlap in the middle cover every byte of the lengths in their range.
    let word4 = |s: &[u8], at: usize| {
        s.get(at..at + 4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap_or_default()))
    };
    let word8 = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
    };
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

/// A scalar read in place (a group key's part, as its key stores it): spelled as the scalar,
/// and saved as the scalar is.
#[derive(Debug, Clone, Copy, Eq, Serialize)]
#[serde(rename = "Scalar")]
pub enum ScalarRef<'a> {
    Bool(bool),
    Int(i128),
    Float(u64),
    Str(&'a str),
}

impl PartialEq for ScalarRef<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ScalarRef::Bool(a), ScalarRef::Bool(b)) => a == b,
            (ScalarRef::Int(a), ScalarRef::Int(b)) => a == b,
            (ScalarRef::Float(a), ScalarRef::Float(b)) => a == b,
            (ScalarRef::Str(a), ScalarRef::Str(b)) => same_text(a, b),
            _ => false,
        }
    }
}

impl<'a> ScalarRef<'a> {
    pub fn canon(self) -> Canon<'a> {
        match self {
            ScalarRef::Bool(b) => Canon::Bool(b),
            ScalarRef::Int(i) => Canon::Int(i),
            ScalarRef::Float(bits) => float_canon(bits),
            ScalarRef::Str(s) => Canon::Str(s),
        }
    }

    pub fn to_scalar(self) -> Scalar {
        match self {
            ScalarRef::Bool(b) => Scalar::Bool(b),
            ScalarRef::Int(i) => Scalar::Int(i),
            ScalarRef::Float(bits) => Scalar::Float(bits),
            ScalarRef::Str(s) => Scalar::Str(s.into()),
        }
    }
}

/// What a key is compared and hashed by.
#[derive(Debug, Clone, Copy, Eq, Hash, PartialOrd, Ord)]
pub enum Canon<'a> {
    Bool(bool),
    Int(i128),
    Float(u64),
    Str(&'a str),
}

impl PartialEq for Canon<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Canon::Bool(a), Canon::Bool(b)) => a == b,
            (Canon::Int(a), Canon::Int(b)) => a == b,
            (Canon::Float(a), Canon::Float(b)) => a == b,
            (Canon::Str(a), Canon::Str(b)) => same_text(a, b),
            _ => false,
        }
    }
}

impl Scalar {
    pub fn from_float(f: f64) -> Scalar {
        float_spelling(f).to_scalar()
    }

    pub fn as_ref(&self) -> ScalarRef<'_> {
        match self {
            Scalar::Bool(b) => ScalarRef::Bool(*b),
            Scalar::Int(i) => ScalarRef::Int(*i),
            Scalar::Float(bits) => ScalarRef::Float(*bits),
            Scalar::Str(s) => ScalarRef::Str(s),
        }
    }

    pub fn canon(&self) -> Canon<'_> {
        match self {
            Scalar::Bool(b) => Canon::Bool(*b),
            Scalar::Int(i) => Canon::Int(*i),
            Scalar::Float(bits) => float_canon(*bits),
            Scalar::Str(s) => Canon::Str(s),
        }
    }

    pub fn write_json(&self, out: &mut String) {
        match self {
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Scalar::Int(i) => out.push_str(&i.to_string()),
            Scalar::Float(bits) => write_float(f64::from_bits(*bits), out),
            Scalar::Str(s) => write_str(s, out),
        }
    }

    /// The text sorting ties of `evidence.top` (Python's `str()` of the value).
    pub fn sort_text(&self) -> String {
        match self {
            Scalar::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(bits) => python_float_repr(f64::from_bits(*bits)),
            Scalar::Str(s) => s.to_string(),
        }
    }
}

/// How a float is spelled as a key part (see [`Scalar`]).
fn float_spelling(f: f64) -> ScalarRef<'static> {
    if f.fract() == 0.0 && (-WHOLE_LIMIT..WHOLE_LIMIT).contains(&f) {
        ScalarRef::Int(f as i128)
    } else {
        // -0.0 and 0.0 are whole; every other float here has one bit pattern per value.
        ScalarRef::Float(f.to_bits())
    }
}

/// A float's canonical form: whole floats that an event's integer can equal compare as it.
fn float_canon(bits: u64) -> Canon<'static> {
    let f = f64::from_bits(bits);
    if f.fract() == 0.0 && f.abs() < INT_RANGE {
        Canon::Int(f as i128)
    } else {
        Canon::Float(bits)
    }
}

/// Something a group key is made of: a scalar, or an event's value read in place.
pub trait KeyPart {
    /// The canonical form; None if it is no scalar.
    fn canon(&self) -> Option<Canon<'_>>;
    /// The part as a key stores it, read in place; None if it is no scalar. `1e19` and
    /// `10000000000000000000` are equal keys spelled apart: a group keeps the spelling of the
    /// event that made its key.
    fn spelled(&self) -> Option<ScalarRef<'_>>;
}

impl KeyPart for Scalar {
    fn canon(&self) -> Option<Canon<'_>> {
        Some(Scalar::canon(self))
    }

    fn spelled(&self) -> Option<ScalarRef<'_>> {
        Some(self.as_ref())
    }
}

impl KeyPart for Value<'_> {
    /// The canonical form of `self.scalar()`, without building it (the same for `1e19` read
    /// as a float: `Scalar::from_float` keeps its bits and `canon` makes it whole again).
    fn canon(&self) -> Option<Canon<'_>> {
        match self {
            Value::Bool(b) => Some(Canon::Bool(*b)),
            Value::Int(i) => Some(Canon::Int(*i)),
            Value::Float(f) => Some(float_canon(f.to_bits())),
            Value::Str(s) => Some(Canon::Str(s)),
            _ => None,
        }
    }

    fn spelled(&self) -> Option<ScalarRef<'_>> {
        match self {
            Value::Bool(b) => Some(ScalarRef::Bool(*b)),
            Value::Int(i) => Some(ScalarRef::Int(*i)),
            Value::Float(f) => Some(float_spelling(*f)),
            Value::Str(s) => Some(ScalarRef::Str(s)),
            _ => None,
        }
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Scalar) -> bool {
        self.canon() == other.canon()
    }
}

impl Eq for Scalar {}

impl std::hash::Hash for Scalar {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canon().hash(state);
    }
}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Scalar) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Scalar) -> std::cmp::Ordering {
        self.canon().cmp(&other.canon())
    }
}

/// Python's `repr(float)`: shortest round-trip digits, with Python's exponent rules.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits as d.ddddde[-]x.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        // positional notation
        let point = exp + 1;
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let rest = &digits[1..];
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { "-" } else { "+" };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_tells_strings_apart_by_every_byte() {
        for n in 0..40 {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(same_text(&a, &a.clone()));
            for at in 0..n {
                let mut b = a.clone().into_bytes();
                b[at] = b'_';
                let b = String::from_utf8(b).unwrap();
                assert!(!same_text(&a, &b), "{a} {b}");
            }
            assert!(!same_text(&a, &format!("{a}a")));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0u8..0x80).map(|b| format!("a{}b", b as char)).collect();
        texts.extend(
            ["", "plain", "\u{e9}t\u{e9} \u{1F600}", "\"\\\u{7f}\u{2028}"].map(String::from),
        );
        for text in texts {
            let mut out = String::from("x");
            write_str(&text, &mut out);
            assert_eq!(out[1..], serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn whole_floats_are_integer_keys() {
        assert_eq!(Scalar::from_float(3.0), Scalar::Int(3));
        assert_eq!(Scalar::from_float(-0.0), Scalar::Int(0));
        assert_ne!(Scalar::from_float(3.5), Scalar::Int(3));
        assert_ne!(Scalar::Bool(true), Scalar::Int(1));
        let limit = 2f64.powi(63);
        assert_eq!(Scalar::from_float(-limit), Scalar::Int(i64::MIN as i128));
        assert_eq!(Scalar::from_float(limit), Scalar::Float(limit.to_bits()));
        assert_eq!(Scalar::from_float(1e19), Scalar::Float(1e19f64.to_bits()));
    }

    #[test]
    fn whole_floats_from_2_63_keep_their_spelling_and_equal_their_integer() {
        let f = Scalar::from_float(1e19);
        assert_eq!(f, Scalar::Float(1e19f64.to_bits()));
        assert_eq!(f, Scalar::Int(10_000_000_000_000_000_000));
        assert!(matches!(Scalar::from_float(-1e19), Scalar::Float(_)));
        let hash = |s: &Scalar| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&f), hash(&Scalar::Int(10_000_000_000_000_000_000)));
    }

    #[test]
    fn python_float_text() {
        for (f, text) in [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5e20, "-2.5e+20"),
        ] {
            assert_eq!(python_float_repr(f), text);
        }
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let v = crate::json::Reader::new(br#"{"a":1,"b":2,"a":3}"#, 10)
            .and_then(|mut r| r.value())
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int(3)));
        let mut out = String::new();
        v.write_json(&mut out);
        assert_eq!(out, r#"{"a":3,"b":2}"#);
    }
}
