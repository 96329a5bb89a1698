//! Compiled `where:` filters (docs/rules.md, "Filters"), evaluated on decoded events.
//!
//! Values are compared with JSON typing: a boolean is never a number, numbers compare by value
//! (`1` equals `1.0`), a string equals only a string. Conditions have no side effects, so the
//! cheaper ones of an `all`/`any` are tested first.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value as Json;
use signalfire_matcher::Pattern;

use crate::event::{Event, Schema};
use crate::rule::FilterSpec;
use crate::value::{same_text, Number, Value};

/// A field path: the top-level field's slot, then keys into nested objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub slot: usize,
    pub rest: Box<[Box<str>]>,
}

static NULL: Value<'static> = Value::Null;

impl Path {
    pub fn new(schema: &mut Schema, parts: &[String]) -> Path {
        Path {
            slot: schema.slot(&parts[0]),
            rest: parts[1..].iter().map(|p| p.as_str().into()).collect(),
        }
    }

    /// The field's value in `event`; `Null` when it (or an object on the way) is missing.
    pub fn get<'e, 'a>(&self, event: &'e Event<'a>) -> &'e Value<'a> {
        let mut v = event.slot(self.slot);
        for part in self.rest.iter() {
            match v.get(part) {
                Some(inner) => v = inner,
                None => return &NULL,
            }
        }
        v
    }
}

/// A filter argument: one JSON scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Bool(bool),
    Num(Number),
    Str(Box<str>),
}

impl Arg {
    fn from_json(v: &Json) -> Result<Arg, String> {
        match v {
            Json::Bool(b) => Ok(Arg::Bool(*b)),
            Json::String(s) => Ok(Arg::Str(s.as_str().into())),
            other => arg_number(other)
                .map(Arg::Num)
                .ok_or_else(|| format!("expected a scalar argument, got {other}")),
        }
    }

    /// JSON-typed equality of a value with this argument.
    fn equals(&self, v: &Value) -> bool {
        match (self, v) {
            (Arg::Bool(a), Value::Bool(b)) => a == b,
            (Arg::Str(a), Value::Str(b)) => same_text(a, b),
            (Arg::Num(a), _) => v
                .as_number()
                .is_some_and(|n| compare(n, *a) == Some(Ordering::Equal)),
            _ => false,
        }
    }
}

pub fn json_number(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        Number::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Number::Int(i128::from(u))
    } else {
        Number::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A number argument: a JSON number, or a float JSON has no number for (YAML's `.inf`, `-.inf`
/// and `.nan`), which the rule loader hands over as `{"float": "inf" | "-inf" | "nan"}`.
fn arg_number(v: &Json) -> Option<Number> {
    match v {
        Json::Number(n) => Some(json_number(n)),
        Json::Object(tagged) if tagged.len() == 1 => match tagged.get("float")?.as_str()? {
            "inf" => Some(Number::Float(f64::INFINITY)),
            "-inf" => Some(Number::Float(f64::NEG_INFINITY)),
            "nan" => Some(Number::Float(f64::NAN)),
            _ => None,
        },
        _ => None,
    }
}

/// 2**127: floats from here on are beyond every i128.
const TWO_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

/// Exact comparison of two numbers, as Python compares an int with a float.
pub fn compare(a: Number, b: Number) -> Option<Ordering> {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => Some(x.cmp(&y)),
        (Number::Float(x), Number::Float(y)) => x.partial_cmp(&y),
        (Number::Int(x), Number::Float(y)) => compare_int_float(x, y),
        (Number::Float(x), Number::Int(y)) => compare_int_float(y, x).map(Ordering::reverse),
    }
}

fn compare_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_127 {
        return Some(Ordering::Less);
    }
    if f < -TWO_127 {
        return Some(Ordering::Greater);
    }
    // In [-2**127, 2**127) a float's floor is an i128 exactly.
    let whole = f.floor();
    match i.cmp(&(whole as i128)) {
        Ordering::Equal if f > whole => Some(Ordering::Less),
        other => Some(other),
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    Eq(Arg),
    In(Box<[Arg]>),
    Cmp(Ordering, bool, Number),
    ContainsStr(Box<str>),
    Contains(Arg),
    StartsWith(Box<[Box<str>]>),
    EndsWith(Box<[Box<str>]>),
    Regex(Pattern),
    Cidr(Box<[Network]>),
    Exists(bool),
}

impl Test {
    fn cost(&self) -> u32 {
        match self {
            Test::Regex(_) => 4,
            Test::Cidr(_) => 3,
            Test::ContainsStr(_) | Test::Contains(_) | Test::StartsWith(_) | Test::EndsWith(_) => 2,
            _ => 1,
        }
    }

    /// Whether the test is cheap enough to run on every event as a fact (see `facts`).
    pub fn is_cheap(&self) -> bool {
        matches!(
            self,
            Test::Eq(_) | Test::In(_) | Test::Cmp(..) | Test::Exists(_)
        )
    }

    /// Whether two cheap tests are one (the argument spelled alike: `1` and `1.0` are two).
    pub fn same_as(&self, other: &Test) -> bool {
        match (self, other) {
            (Test::Eq(a), Test::Eq(b)) => a == b,
            (Test::In(a), Test::In(b)) => a == b,
            (Test::Cmp(w, e, n), Test::Cmp(w2, e2, n2)) => w == w2 && e == e2 && n == n2,
            (Test::Exists(a), Test::Exists(b)) => a == b,
            _ => false,
        }
    }

    pub fn holds(&self, v: &Value) -> bool {
        match self {
            Test::Eq(arg) => arg.equals(v),
            Test::In(args) => args.iter().any(|a| a.equals(v)),
            Test::Cmp(want, or_equal, arg) => v.as_number().is_some_and(|n| {
                compare(n, *arg).is_some_and(|o| o == *want || (*or_equal && o.is_eq()))
            }),
            Test::ContainsStr(s) => match v {
                Value::Str(text) => text.contains(&**s),
                Value::List(items) => items.iter().any(|x| x.as_str() == Some(s)),
                _ => false,
            },
            Test::Contains(arg) => match v {
                Value::List(items) => items.iter().any(|x| arg.equals(x)),
                _ => false,
            },
            Test::StartsWith(options) => v
                .as_str()
                .is_some_and(|t| options.iter().any(|o| t.starts_with(&**o))),
            Test::EndsWith(options) => v
                .as_str()
                .is_some_and(|t| options.iter().any(|o| t.ends_with(&**o))),
            Test::Regex(p) => v.as_str().is_some_and(|t| p.search(t)),
            Test::Cidr(nets) => v
                .as_str()
                .and_then(parse_address)
                .is_some_and(|a| nets.iter().any(|n| n.contains(a))),
            Test::Exists(want) => !matches!(v, Value::Null) == *want,
        }
    }
}

/// A compiled filter tree.
#[derive(Debug, Clone)]
pub enum Filter {
    Cond {
        path: Path,
        test: Test,
        negate: bool,
    },
    /// Facts of the event (`Event::facts`): the bits of `mask` are those of `want`.
    Facts {
        mask: u64,
        want: u64,
    },
    All(Box<[Filter]>),
    Any(Box<[Filter]>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn compile(spec: &FilterSpec, schema: &mut Schema) -> Result<Filter, String> {
        let mut f = compile(spec, schema)?;
        f.order();
        Ok(f)
    }

    pub fn matches(&self, event: &Event) -> bool {
        match self {
            Filter::Cond { path, test, negate } => test.holds(path.get(event)) != *negate,
            Filter::Facts { mask, want } => event.facts & mask == *want,
            Filter::All(items) => items.iter().all(|f| f.matches(event)),
            Filter::Any(items) => items.iter().any(|f| f.matches(event)),
            Filter::Not(item) => !item.matches(event),
        }
    }

    fn cost(&self) -> u32 {
        match self {
            Filter::Cond { path, test, .. } => test.cost() + path.rest.len() as u32,
            Filter::Facts { .. } => 0,
            Filter::Not(item) => item.cost(),
            Filter::All(items) | Filter::Any(items) => items.iter().map(Filter::cost).sum(),
        }
    }

    /// Cheaper conditions first; an `all`'s facts read with one mask, a `not` of one fact as
    /// the fact's other answer.
    fn order(&mut self) {
        match self {
            Filter::All(items) => {
                items.iter_mut().for_each(Filter::order);
                let (mut mask, mut want) = (0, 0);
                let mut rest: Vec<Filter> = Vec::with_capacity(items.len());
                for item in std::mem::take(items).into_vec() {
                    match item {
                        // Two answers wanted of one fact (`x and not x`) stay two tests.
                        Filter::Facts { mask: m, want: w } if (w ^ want) & m & mask == 0 => {
                            (mask, want) = (mask | m, want | w);
                        }
                        other => rest.push(other),
                    }
                }
                if mask != 0 {
                    rest.push(Filter::Facts { mask, want });
                }
                rest.sort_by_key(Filter::cost);
                *items = rest.into_boxed_slice();
            }
            Filter::Any(items) => {
                items.iter_mut().for_each(Filter::order);
                items.sort_by_key(Filter::cost);
            }
            Filter::Not(item) => {
                item.order();
                if let Filter::Facts { mask, want } = **item {
                    if mask.count_ones() == 1 {
                        *self = Filter::Facts {
                            mask,
                            want: want ^ mask,
                        };
                    }
                }
            }
            Filter::Cond { .. } | Filter::Facts { .. } => {}
        }
    }
}

fn compile(spec: &FilterSpec, schema: &mut Schema) -> Result<Filter, String> {
    Ok(match spec {
        FilterSpec::All { items } => Filter::All(compile_all(items, schema)?),
        FilterSpec::Any { items } => Filter::Any(compile_all(items, schema)?),
        FilterSpec::Not { item } => Filter::Not(Box::new(compile(item, schema)?)),
        FilterSpec::Cond { path, op, arg } => {
            if path.is_empty() {
                return Err("a condition needs a field".to_string());
            }
            let (test, negate) = test(op, arg)?;
            let path = Path::new(schema, path);
            match schema.facts.bit(&path, &test) {
                Some(bit) => Filter::Facts {
                    mask: 1 << bit,
                    want: if negate { 0 } else { 1 << bit },
                },
                None => Filter::Cond { path, test, negate },
            }
        }
    })
}

fn compile_all(items: &[FilterSpec], schema: &mut Schema) -> Result<Box<[Filter]>, String> {
    items.iter().map(|f| compile(f, schema)).collect()
}

fn strings(arg: &Json) -> Result<Box<[Box<str>]>, String> {
    let items: Vec<&Json> = match arg {
        Json::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    items
        .into_iter()
        .map(|v| {
            v.as_str()
                .map(Into::into)
                .ok_or_else(|| format!("expected strings, got {v}"))
        })
        .collect()
}

fn test(op: &str, arg: &Json) -> Result<(Test, bool), String> {
    Ok(match op {
        "eq" | "ne" => (Test::Eq(Arg::from_json(arg)?), op == "ne"),
        "in" | "not_in" => {
            let items = arg.as_array().ok_or("`in` expects a list")?;
            let args = items.iter().map(Arg::from_json).collect::<Result<_, _>>()?;
            (Test::In(args), op == "not_in")
        }
        "gt" | "gte" | "lt" | "lte" => {
            let n = arg_number(arg).ok_or_else(|| format!("`{op}` expects a number, got {arg}"))?;
            let want = if op.starts_with('g') {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            (Test::Cmp(want, op.ends_with('e'), n), false)
        }
        "contains" => match arg {
            Json::String(s) => (Test::ContainsStr(s.as_str().into()), false),
            other => (Test::Contains(Arg::from_json(other)?), false),
        },
        "startswith" => (Test::StartsWith(strings(arg)?), false),
        "endswith" => (Test::EndsWith(strings(arg)?), false),
        "regex" => {
            let source = arg.as_str().ok_or("`regex` expects a string")?;
            (Test::Regex(Pattern::new(source).map_err(|e| e.0)?), false)
        }
        "cidr" => {
            let nets = strings(arg)?
                .iter()
                .map(|t| Network::parse(t).ok_or_else(|| format!("invalid cidr {t:?}")))
                .collect::<Result<_, _>>()?;
            (Test::Cidr(nets), false)
        }
        "exists" => (
            Test::Exists(arg.as_bool().ok_or("`exists` expects true or false")?),
            false,
        ),
        other => return Err(format!("unknown operator {other:?}")),
    })
}

/// An IP network as `ipaddress.ip_network(text, strict=False)` reads it (an IPv6 network's
/// address may carry a scope, as its addresses may).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// An address as `ipaddress.ip_address(text)` reads it. An IPv6 scope (`fe80::1%eth0`: not
/// empty, no second `%`) does not change which networks hold the address.
fn parse_address(text: &str) -> Option<IpAddr> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    if text.contains('/') {
        return None;
    }
    let bare = match text.split_once('%') {
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return None,
        Some((addr, _)) => addr,
        None => text,
    };
    bare.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

impl Network {
    pub fn parse(text: &str) -> Option<Network> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = parse_address(addr_text)?;
        let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => bits,
            Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => {
                let n: u8 = p.parse().ok()?;
                if n > bits {
                    return None;
                }
                n
            }
            Some(mask) if addr.is_ipv4() => ipv4_mask_prefix(mask)?,
            Some(_) => return None,
        };
        Some(Network { addr, prefix })
    }

    fn contains(&self, a: IpAddr) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(net), IpAddr::V4(x)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(x) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(x)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(x) & mask
            }
            _ => false,
        }
    }
}

/// A dotted netmask (`255.255.0.0`) or hostmask (`0.0.255.255`) as a prefix length.
fn ipv4_mask_prefix(mask: &str) -> Option<u8> {
    let m = u32::from(mask.parse::<Ipv4Addr>().ok()?);
    if m.leading_ones() + m.trailing_zeros() == 32 {
        return Some(m.leading_ones() as u8);
    }
    if m.leading_zeros() + m.trailing_ones() == 32 {
        return Some(m.leading_zeros() as u8);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Facts, MAX_FACTS};

    fn check(filter: &str, event: &str) -> bool {
        let spec: FilterSpec = serde_json::from_str(filter).unwrap();
        let mut schema = Schema::new();
        let f = Filter::compile(&spec, &mut schema).unwrap();
        let e = schema.decode(event.as_bytes()).unwrap();
        f.matches(&e)
    }

    fn cond(path: &str, op: &str, arg: &str) -> String {
        format!(r#"{{"kind":"cond","path":["{path}"],"op":"{op}","arg":{arg}}}"#)
    }

    const EV: &str = r#"{"event_id":"e","org_id":"o","ts":1,"status":1,"flagged":true,
        "ip":"10.1.2.3","categories":["a","b"],"attrs":{"plan":"free","n":2.5}}"#;

    #[test]
    fn json_typing() {
        assert!(check(&cond("status", "eq", "1.0"), EV));
        assert!(!check(&cond("status", "eq", "true"), EV));
        assert!(!check(&cond("flagged", "eq", "1"), EV));
        assert!(check(&cond("flagged", "eq", "true"), EV));
        assert!(check(&cond("status", "in", r#"["1", 1]"#), EV));
        assert!(!check(&cond("status", "in", r#"["1", true]"#), EV));
        assert!(check(&cond("status", "ne", r#""1""#), EV));
    }

    #[test]
    fn operators() {
        assert!(check(&cond("status", "gte", "1"), EV));
        assert!(!check(&cond("status", "gt", "1"), EV));
        assert!(!check(&cond("flagged", "gt", "0"), EV));
        assert!(check(&cond("categories", "contains", r#""b""#), EV));
        assert!(check(&cond("ip", "contains", r#"".2.""#), EV));
        assert!(check(&cond("ip", "startswith", r#"["9", "10."]"#), EV));
        assert!(check(&cond("ip", "cidr", r#""10.0.0.0/8""#), EV));
        assert!(!check(&cond("ip", "cidr", r#""10.0.0.0/255.255.0.0""#), EV));
        assert!(check(
            &cond("ip", "cidr", r#""10.0.0.0/0.255.255.255""#),
            EV
        ));
        let scoped = r#"{"event_id":"e","org_id":"o","ts":1,"ip":"fe80::1%eth0"}"#;
        assert!(check(&cond("ip", "cidr", r#""fe80::%lo/64""#), scoped));
        let two_scopes = r#"{"event_id":"e","org_id":"o","ts":1,"ip":"fe80::1%a%b"}"#;
        assert!(!check(&cond("ip", "cidr", r#""fe80::/64""#), two_scopes));
        assert!(check(&cond("ip", "regex", r#""^10\\.1""#), EV));
        assert!(check(&cond("country", "exists", "false"), EV));
        let nested = r#"{"kind":"cond","path":["attrs","n"],"op":"lt","arg":3}"#;
        assert!(check(nested, EV));
        let missing = r#"{"kind":"cond","path":["ip","x"],"op":"exists","arg":true}"#;
        assert!(!check(missing, EV));
    }

    /// A filter tree of `depth` levels at most over `conds`, picked by `next`.
    fn tree(next: &mut impl FnMut(usize) -> usize, conds: &[String], depth: usize) -> String {
        if depth == 0 || next(3) == 0 {
            return conds[next(conds.len())].clone();
        }
        let items: Vec<String> = (0..1 + next(3))
            .map(|_| tree(next, conds, depth - 1))
            .collect();
        match next(3) {
            0 => format!(r#"{{"kind":"all","items":[{}]}}"#, items.join(",")),
            1 => format!(r#"{{"kind":"any","items":[{}]}}"#, items.join(",")),
            _ => format!(r#"{{"kind":"not","item":{}}}"#, items[0]),
        }
    }

    #[test]
    fn filters_answer_alike_with_facts_and_without() {
        let conds = [
            cond("event_type", "eq", r#""request""#),
            cond("event_type", "ne", r#""request""#),
            cond("event_type", "in", r#"["signup", "login"]"#),
            cond("status", "in", "[401, 403]"),
            cond("status", "eq", "401.0"),
            cond("status", "gte", "400"),
            cond("flagged", "eq", "true"),
            cond("flagged", "ne", "true"),
            cond("country", "exists", "true"),
            cond("ip", "cidr", r#""10.0.0.0/8""#),
            cond("categories", "contains", r#""a""#),
            r#"{"kind":"cond","path":["attrs","plan"],"op":"eq","arg":"free"}"#.to_string(),
        ];
        let events = [
            EV,
            r#"{"event_id":"e","org_id":"o","ts":1,"event_type":"signup","status":403}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"status":401,"flagged":false,"country":"fr"}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"event_type":"login","attrs":{"plan":"pro"}}"#,
            r#"{"event_id":"e","org_id":"o","ts":1,"ip":"192.0.2.1","categories":[]}"#,
        ];
        // facts for all, for the first few conditions only, and none
        let mut tables: Vec<Schema> = [MAX_FACTS, 3, 0]
            .into_iter()
            .map(|n| Schema::with_facts(Facts::with_limit(n)))
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..2000 {
            let text = tree(&mut next, &conds, 3);
            let spec: FilterSpec = serde_json::from_str(&text).unwrap();
            let compiled: Vec<Filter> = tables
                .iter_mut()
                .map(|schema| Filter::compile(&spec, schema).unwrap())
                .collect();
            for event in events {
                let answers: Vec<bool> = compiled
                    .iter()
                    .zip(&tables)
                    .map(|(f, schema)| f.matches(&schema.decode(event.as_bytes()).unwrap()))
                    .collect();
                assert!(
                    answers.iter().all(|&a| a == answers[2]),
                    "{text} on {event}: {answers:?}"
                );
            }
        }
        // ten conditions, eight facts: `ne` reads the fact of its `eq`
        assert_eq!(tables[0].facts.len(), 8);
        assert_eq!(tables[1].facts.len(), 3);
        assert!(tables[2].facts.is_empty());
    }

    #[test]
    fn facts_of_an_all_are_read_with_one_mask() {
        let mut schema = Schema::new();
        let spec = format!(
            r#"{{"kind":"all","items":[{},{},{},{{"kind":"not","item":{}}}]}}"#,
            cond("ip", "cidr", r#""10.0.0.0/8""#),
            cond("event_type", "eq", r#""request""#),
            cond("flagged", "eq", "true"),
            cond("status", "eq", "401"),
        );
        let f = Filter::compile(&serde_json::from_str(&spec).unwrap(), &mut schema).unwrap();
        let Filter::All(items) = &f else {
            panic!("{f:?}")
        };
        assert!(
            matches!(
                items[0],
                Filter::Facts {
                    mask: 0b111,
                    want: 0b011
                }
            ),
            "{items:?}"
        );
        assert!(matches!(items[1], Filter::Cond { .. }), "{items:?}");
        // a contradiction is never true, not a mask that forgets one of its answers
        let never = format!(
            r#"{{"kind":"all","items":[{},{{"kind":"not","item":{}}}]}}"#,
            cond("flagged", "eq", "true"),
            cond("flagged", "eq", "true"),
        );
        let f = Filter::compile(&serde_json::from_str(&never).unwrap(), &mut schema).unwrap();
        assert!(!f.matches(&schema.decode(EV.as_bytes()).unwrap()));
    }

    #[test]
    fn exact_int_float_comparison() {
        let big = Number::Int(9_007_199_254_740_993);
        assert_eq!(
            compare(big, Number::Float(9_007_199_254_740_992.0)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(Number::Int(2), Number::Float(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(Number::Float(-2.5), Number::Int(-3)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(Number::Int(i128::MAX), Number::Float(1.7e38)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(Number::Int(i128::MIN), Number::Float(-TWO_127)),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn floats_json_cannot_write() {
        assert!(check(&cond("status", "lt", r#"{"float":"inf"}"#), EV));
        assert!(!check(&cond("status", "gt", r#"{"float":"inf"}"#), EV));
        assert!(!check(&cond("status", "eq", r#"{"float":"nan"}"#), EV));
        assert!(check(&cond("status", "ne", r#"{"float":"nan"}"#), EV));
        assert!(check(&cond("status", "in", r#"[{"float":"-inf"}, 1]"#), EV));
        let bad: FilterSpec =
            serde_json::from_str(&cond("status", "eq", r#"{"float":"x"}"#)).unwrap();
        assert!(Filter::compile(&bad, &mut Schema::new()).is_err());
    }
}
