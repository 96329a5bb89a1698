//! JSON text read as the Python worker's decoder (orjson) reads it, so that a record is an
//! event, or a reject, on both sides alike.
//!
//! What orjson refuses is refused here, in every part of a record, read or skipped: invalid
//! UTF-8, unpaired surrogate escapes, control characters in strings, NaN and Infinity, leading
//! zeros, numbers too large for a float (`1e400`), whitespace other than space, tab, CR and LF,
//! a byte-order mark, anything after the value, nesting deeper than orjson's 1024 levels.
//! Integers in [-2**63, 2**64) are integers (`-0` is 0), other integers are floats; a repeated
//! key keeps its first position and its last value.
//!
//! The caller's own depth limit applies, as the worker's check does, to the value as decoded:
//! a too deep member that a repeated key replaces does not count.

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashMap;

use crate::value::Value;

/// Why a text is not JSON, and the byte offset where that was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub problem: Problem,
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    InvalidUtf8,
    UnexpectedEnd,
    UnexpectedCharacter,
    TrailingContent,
    ControlCharacter,
    InvalidEscape,
    LoneSurrogate,
    InvalidNumber,
    NumberOutOfRange,
    /// Deeper than orjson reads at all.
    DepthLimit,
    /// Deeper, once decoded, than the limit given to [`Reader::new`]; `at` holds the limit.
    TooDeep,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Problem::InvalidUtf8 => "invalid UTF-8",
            Problem::UnexpectedEnd => "unexpected end of data",
            Problem::UnexpectedCharacter => "unexpected character",
            Problem::TrailingContent => "unexpected content after the value",
            Problem::ControlCharacter => "control character in string",
            Problem::InvalidEscape => "invalid escape in string",
            Problem::LoneSurrogate => "unpaired surrogate escape in string",
            Problem::InvalidNumber => "invalid number",
            Problem::NumberOutOfRange => "number is infinity as a double",
            Problem::DepthLimit => "nesting deeper than 1024 levels",
            Problem::TooDeep => return write!(f, "nested deeper than {} levels", self.at),
        };
        write!(f, "{what} at byte {}", self.at)
    }
}

type Result<T> = std::result::Result<T, JsonError>;

/// Objects larger than this find repeated keys through a hash map instead of a scan.
const SCAN_KEYS: usize = 16;
/// orjson refuses deeper texts (and this bounds the reader's recursion).
const DEPTH_LIMIT: usize = 1024;

/// A cursor over one JSON text.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Whether the value read last nests deeper than `max_depth` as decoded.
    deep: bool,
}

impl<'a> Reader<'a> {
    /// A reader over `raw`, which must be UTF-8 throughout; containers may nest `max_depth`
    /// levels once decoded (the outermost is level 1), which [`Reader::finish`] checks.
    pub fn new(raw: &'a [u8], max_depth: usize) -> Result<Reader<'a>> {
        let text = std::str::from_utf8(raw).map_err(|e| JsonError {
            problem: Problem::InvalidUtf8,
            at: e.valid_up_to(),
        })?;
        Ok(Reader {
            text,
            pos: 0,
            depth: 0,
            max_depth,
            deep: false,
        })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn fail<T>(&self, problem: Problem) -> Result<T> {
        Err(JsonError {
            problem,
            at: self.pos,
        })
    }

    /// A problem at the current byte: the end of the text, or this character.
    fn unexpected<T>(&self) -> Result<T> {
        self.fail(match self.peek() {
            None => Problem::UnexpectedEnd,
            Some(_) => Problem::UnexpectedCharacter,
        })
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() != Some(byte) {
            return self.unexpected();
        }
        self.pos += 1;
        Ok(())
    }

    /// Whether the value that starts here (after whitespace) is an object.
    pub fn at_object(&mut self) -> bool {
        self.whitespace();
        self.peek() == Some(b'{')
    }

    /// The end of the text: only whitespace may follow the value, which must not nest deeper
    /// than the limit.
    pub fn finish(mut self) -> Result<()> {
        self.whitespace();
        if self.peek().is_some() {
            return self.fail(Problem::TrailingContent);
        }
        if self.deep {
            return Err(JsonError {
                problem: Problem::TooDeep,
                at: self.max_depth,
            });
        }
        Ok(())
    }

    /// Into a container: whether it is itself deeper than the limit.
    fn enter(&mut self) -> Result<bool> {
        self.depth += 1;
        if self.depth > DEPTH_LIMIT {
            return self.fail(Problem::DepthLimit);
        }
        self.pos += 1;
        Ok(self.depth > self.max_depth)
    }

    fn leave(&mut self, deep: bool) {
        self.pos += 1;
        self.depth -= 1;
        self.deep = deep;
    }

    /// An object's members: `field` is called with each key and must read its value.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Result<()>,
    ) -> Result<()> {
        self.whitespace();
        if self.peek() != Some(b'{') {
            return self.unexpected();
        }
        let itself = self.enter()?;
        // Keys whose latest value is too deep: a later value of the key replaces it.
        let mut deep_keys: Vec<Cow<'a, str>> = Vec::new();
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.leave(itself);
            return Ok(());
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return self.unexpected();
            }
            let key = match self.plain_string() {
                Some(s) => Cow::Borrowed(s),
                None => self.string()?,
            };
            self.whitespace();
            self.expect(b':')?;
            self.whitespace();
            let known = deep_keys.iter().position(|k| *k == key);
            field(self, key.clone())?;
            match (self.deep, known) {
                (true, None) => deep_keys.push(key),
                (false, Some(n)) => {
                    deep_keys.swap_remove(n);
                }
                _ => {}
            }
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.leave(itself || !deep_keys.is_empty());
                    return Ok(());
                }
                _ => return self.unexpected(),
            }
        }
    }

    /// An array's items: `item` is called for each and must read it.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        let mut deep = self.enter()?;
        self.whitespace();
        if self.peek() == Some(b']') {
            self.leave(deep);
            return Ok(());
        }
        loop {
            self.whitespace();
            item(self)?;
            deep |= self.deep;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.leave(deep);
                    return Ok(());
                }
                _ => return self.unexpected(),
            }
        }
    }

    /// The value that starts here, decoded.
    pub fn value(&mut self) -> Result<Value<'a>> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => {
                let mut items: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
                let mut index: FxHashMap<Box<str>, usize> = FxHashMap::default();
                self.object(|r, key| {
                    let value = r.value()?;
                    insert(&mut items, &mut index, key, value);
                    Ok(())
                })?;
                Ok(Value::Object(items))
            }
            Some(b'[') => {
                let mut items = Vec::new();
                self.array(|r| {
                    items.push(r.value()?);
                    Ok(())
                })?;
                Ok(Value::List(items))
            }
            Some(b'"') => {
                self.deep = false;
                Ok(Value::Str(self.string()?))
            }
            _ => self.scalar(),
        }
    }

    /// The value that starts here, decoded into `slot` (written in place: a value returned
    /// through the stack is read back in other widths than it was written, which stalls).
    pub fn value_into(&mut self, slot: &mut Value<'a>) -> Result<()> {
        self.whitespace();
        match self.peek() {
            Some(b'"') => {
                self.deep = false;
                *slot = Value::Str(match self.plain_string() {
                    Some(s) => Cow::Borrowed(s),
                    None => self.string()?,
                });
            }
            Some(b'{') => {
                let mut items: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
                let mut index: FxHashMap<Box<str>, usize> = FxHashMap::default();
                self.object(|r, key| {
                    let mut value = Value::Null;
                    r.value_into(&mut value)?;
                    insert(&mut items, &mut index, key, value);
                    Ok(())
                })?;
                *slot = Value::Object(items);
            }
            Some(b'[') => *slot = self.value()?,
            _ => self.scalar_into(slot)?,
        }
        Ok(())
    }

    /// The value that starts here, checked as strictly as [`Reader::value`] and dropped.
    pub fn skip(&mut self) -> Result<()> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => self.object(|r, _| r.skip()),
            Some(b'[') => self.array(Reader::skip),
            Some(b'"') => {
                self.deep = false;
                self.string().map(drop)
            }
            _ => self.scalar().map(drop),
        }
    }

    fn scalar(&mut self) -> Result<Value<'a>> {
        self.deep = false;
        match self.peek() {
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.unexpected(),
        }
    }

    fn scalar_into(&mut self, slot: &mut Value<'a>) -> Result<()> {
        self.deep = false;
        match self.peek() {
            Some(b't') => {
                self.literal("true", ())?;
                *slot = Value::Bool(true);
            }
            Some(b'f') => {
                self.literal("false", ())?;
                *slot = Value::Bool(false);
            }
            Some(b'n') => {
                self.literal("null", ())?;
                *slot = Value::Null;
            }
            Some(b'-' | b'0'..=b'9') => self.number_into(slot)?,
            _ => return self.unexpected(),
        }
        Ok(())
    }

    fn literal<T>(&mut self, word: &str, value: T) -> Result<T> {
        if !self.text[self.pos..].starts_with(word) {
            return self.fail(Problem::UnexpectedCharacter);
        }
        self.pos += word.len();
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value<'a>> {
        let mut value = Value::Null;
        self.number_into(&mut value)?;
        Ok(value)
    }

    fn number_into(&mut self, slot: &mut Value<'a>) -> Result<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return self.fail(Problem::InvalidNumber);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail(Problem::InvalidNumber),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return self.fail(Problem::InvalidNumber);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.fail(Problem::InvalidNumber);
            }
        }
        let text = &self.text[start..self.pos];
        if integer {
            let int = if text.starts_with('-') {
                text.parse::<i64>().ok().map(i128::from)
            } else {
                text.parse::<u64>().ok().map(i128::from)
            };
            if let Some(i) = int {
                *slot = Value::Int(i);
                return Ok(());
            }
        }
        // The grammar is checked above; Rust's parse rounds correctly, as orjson does.
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                *slot = Value::Float(f);
                Ok(())
            }
            _ => Err(JsonError {
                problem: Problem::NumberOutOfRange,
                at: start,
            }),
        }
    }

    /// A string without escapes (the cursor on its opening quote), borrowed from the text; None,
    /// the cursor where it was, for any other (returned in registers, unlike a `Result`).
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        let end = plain_run(self.bytes(), start);
        if self.bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        self.text.get(start..end)
    }

    /// A string (the cursor on its opening quote), borrowed from the text when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        let bytes = self.bytes();
        self.pos = plain_run(bytes, self.pos);
        loop {
            match bytes.get(self.pos) {
                None => return self.fail(Problem::UnexpectedEnd),
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return self.fail(Problem::ControlCharacter),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            loop {
                match bytes.get(self.pos) {
                    None => return self.fail(Problem::UnexpectedEnd),
                    Some(b'"' | b'\\') => break,
                    Some(&c) if c < 0x20 => return self.fail(Problem::ControlCharacter),
                    Some(_) => self.pos += 1,
                }
            }
            out.push_str(&self.text[run..self.pos]);
            if bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok(Cow::Owned(out));
            }
            self.pos += 1;
            out.push(self.escape()?);
        }
    }

    /// The character of an escape (the cursor past its backslash).
    fn escape(&mut self) -> Result<char> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape();
            }
            None => return self.fail(Problem::UnexpectedEnd),
            Some(_) => return self.fail(Problem::InvalidEscape),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(hex) = self.text.get(self.pos..self.pos + 4) else {
            return self.fail(Problem::InvalidEscape);
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.fail(Problem::InvalidEscape);
        }
        self.pos += 4;
        u32::from_str_radix(hex, 16).or_else(|_| self.fail(Problem::InvalidEscape))
    }

    /// `\uXXXX` (the cursor past the `u`), a surrogate pair taking two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let at = self.pos;
        let lone = JsonError {
            problem: Problem::LoneSurrogate,
            at,
        };
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.text[self.pos..].starts_with("\\u") {
                    return Err(lone);
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(lone);
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(lone),
            other => other,
        };
        char::from_u32(code).ok_or(lone)
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` that are zero, each as its high bit; exact up to the first zero byte
/// (a borrow may mark bytes after it).
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The position of the first byte from `pos` that ends a plain run of string text (a quote, a
/// backslash or a control character), or the end of `bytes`; eight bytes at a time.
fn plain_run(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        let w = u64::from_le_bytes(eight);
        // bytes below 0x20 (bytes from 0x80 have their high bit set, so `!w` drops them)
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let stop = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | control;
        if stop != 0 {
            return pos + (stop.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&c) = bytes.get(pos) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// An object member, as a Python dict built in order keeps it: a repeated key keeps its first
/// position and takes the new value.
fn insert<'a>(
    items: &mut Vec<(Cow<'a, str>, Value<'a>)>,
    index: &mut FxHashMap<Box<str>, usize>,
    key: Cow<'a, str>,
    value: Value<'a>,
) {
    if items.len() < SCAN_KEYS {
        if let Some(slot) = items.iter_mut().find(|(k, _)| **k == *key) {
            slot.1 = value;
            return;
        }
        items.push((key, value));
        if items.len() == SCAN_KEYS {
            index.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(n, (k, _))| (k.as_ref().into(), n)),
            );
        }
        return;
    }
    if let Some(&n) = index.get(&*key) {
        items[n].1 = value;
        return;
    }
    index.insert(key.as_ref().into(), items.len());
    items.push((key, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Value<'_>> {
        let mut r = Reader::new(text.as_bytes(), 100)?;
        let v = r.value()?;
        r.finish()?;
        Ok(v)
    }

    fn problem(text: &[u8]) -> Option<Problem> {
        let run = || -> Result<()> {
            let mut r = Reader::new(text, 100)?;
            r.skip()?;
            r.finish()
        };
        run().err().map(|e| e.problem)
    }

    #[test]
    fn numbers_as_orjson_types_them() {
        assert_eq!(read("-0"), Ok(Value::Int(0)));
        assert_eq!(
            read("-0.0").map(|v| format!("{v:?}")),
            Ok("Float(-0.0)".into())
        );
        assert_eq!(
            read("18446744073709551615"),
            Ok(Value::Int(u64::MAX.into()))
        );
        assert_eq!(
            read("18446744073709551616"),
            Ok(Value::Float(2f64.powi(64)))
        );
        assert_eq!(
            read("-9223372036854775808"),
            Ok(Value::Int(i64::MIN.into()))
        );
        assert_eq!(
            read("-9223372036854775809"),
            Ok(Value::Float(-(2f64.powi(63))))
        );
        assert_eq!(read("1E+2"), Ok(Value::Float(100.0)));
        assert_eq!(read("1e-400"), Ok(Value::Float(0.0)));
    }

    #[test]
    fn refused_wherever_they_are() {
        for (text, want) in [
            (&b"1e400"[..], Problem::NumberOutOfRange),
            (b"[1e400]", Problem::NumberOutOfRange),
            (br#"{"a":{"b":-1e400}}"#, Problem::NumberOutOfRange),
            (br#"["\ud800"]"#, Problem::LoneSurrogate),
            (br#"["\udc00\ud800"]"#, Problem::LoneSurrogate),
            (br#"["\ud800\u0041"]"#, Problem::LoneSurrogate),
            (b"[\"\xff\"]", Problem::InvalidUtf8),
            (b"[\"\xed\xa0\x80\"]", Problem::InvalidUtf8),
            (b"[\"\x01\"]", Problem::ControlCharacter),
            (br#"["\x"]"#, Problem::InvalidEscape),
            (b"[01]", Problem::InvalidNumber),
            (b"[1.]", Problem::InvalidNumber),
            (b"[NaN]", Problem::UnexpectedCharacter),
            (b"\xef\xbb\xbf{}", Problem::UnexpectedCharacter),
            (b"\x0c{}", Problem::UnexpectedCharacter),
            (b"{} x", Problem::TrailingContent),
            (b"{}\x00", Problem::TrailingContent),
            (b"", Problem::UnexpectedEnd),
            (b"{\"a\":1,}", Problem::UnexpectedCharacter),
            (b"[tru]", Problem::UnexpectedCharacter),
        ] {
            assert_eq!(
                problem(text),
                Some(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(
            problem(b" \t\r\n{\"a\" : [ 1 , \"\\ud83d\\ude00\" ] } \n"),
            None
        );
    }

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control_character() {
        let naive = |b: &[u8], from: usize| {
            (from..b.len())
                .find(|&i| b[i] == b'"' || b[i] == b'\\' || b[i] < 0x20)
                .unwrap_or(b.len())
        };
        let texts: [&[u8]; 7] = [
            b"abcdefghijklmnop\"",
            "h\u{e9}llo w\u{f6}rld \u{1F600} and more\\".as_bytes(),
            b"\x1f0123456789",
            b"0123456\x7f\x80\xff\x01",
            b"",
            b"short",
            b"\"\"\"\"\"\"\"\"\"",
        ];
        for text in texts {
            for from in 0..=text.len() {
                assert_eq!(
                    plain_run(text, from),
                    naive(text, from),
                    "{text:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn depth_is_that_of_the_decoded_value() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(problem(nest(100).as_bytes()), None);
        assert_eq!(problem(nest(101).as_bytes()), Some(Problem::TooDeep));
        assert_eq!(problem(nest(1025).as_bytes()), Some(Problem::DepthLimit));
        // a repeated key replaces a too deep value, and the other way round
        let replaced = format!(r#"{{"a":{},"b":1,"a":2}}"#, nest(100));
        assert_eq!(problem(replaced.as_bytes()), None);
        let replacing = format!(r#"{{"a":2,"a":{}}}"#, nest(100));
        assert_eq!(problem(replacing.as_bytes()), Some(Problem::TooDeep));
        let in_list = format!(r#"[1,{{"a":{}}},2]"#, nest(99));
        assert_eq!(problem(in_list.as_bytes()), Some(Problem::TooDeep));
        // a syntax error is found past a too deep part
        let broken = format!("[{},]", nest(101));
        assert_eq!(
            problem(broken.as_bytes()),
            Some(Problem::UnexpectedCharacter)
        );
    }

    #[test]
    fn repeated_keys_keep_first_position_last_value() {
        let many: String = (0..40).map(|n| format!("\"k{n}\":{n},")).collect();
        let text = format!("{{\"a\":1,\"b\":2,{many}\"a\":3,\"k39\":0}}");
        let Ok(Value::Object(items)) = read(&text) else {
            panic!("not an object");
        };
        assert_eq!(items.len(), 42);
        assert_eq!(&*items[0].0, "a");
        assert_eq!(items[0].1, Value::Int(3));
        assert_eq!(items[41].1, Value::Int(0));
        assert_eq!(
            read(r#"{"\u0061":1,"a":2}"#),
            Ok(Value::Object(vec![("a".into(), Value::Int(2))]))
        );
    }
}
