//! The repartition side: reading the records input partitions forward, and the event-time
//! merge that releases their events in order.
//!
//! Each input partition writes, per batch it reads, one record into every partition of each
//! repartition topic: where it comes from, its watermark and its events, in one of two forms.
//! JSON, `{"source": <input partition>, "watermark": <its watermark>, "events": [...]}`; or
//! binary, `0x00 0x01 source:zigzag watermark:zigzag (len:uvarint event)*` with each event in
//! the form of `wire`. Events wait here until every input partition has promised, by its
//! watermark, that nothing older will come; they are then released in event-time order (ties
//! in arrival order). Offsets of records whose events are still waiting are not committed.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::wire;

/// The first two bytes of a binary record: no JSON text starts with 0x00.
pub const BINARY_RECORD: [u8; 2] = [0x00, 0x01];

/// One repartition record: where it comes from, how far its source had come, and its events
/// (each with its event time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub source: i64,
    pub watermark: i64,
    pub events: Vec<(i64, Vec<u8>)>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    source: i64,
    watermark: i64,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Stamp {
    ts: i64,
}

/// A repartition record's content, or why it cannot be used.
pub fn read_forwarded(value: &[u8]) -> Result<Forwarded, String> {
    if value.first() == Some(&BINARY_RECORD[0]) {
        return read_binary(value).map_err(|e| e.to_string());
    }
    let wire: Wire = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    let events = wire
        .events
        .into_iter()
        .map(|raw| {
            // The merge orders events by `ts`: one without an integer there is refused here,
            // with its record, rather than stop the merge later.
            let ts = leading_ts(raw.get())
                .or_else(|| serde_json::from_str::<Stamp>(raw.get()).ok().map(|s| s.ts))
                .ok_or("events: expected objects with an integer ts")?;
            Ok((ts, raw.get().as_bytes().to_vec()))
        })
        .collect::<Result<_, String>>()?;
    Ok(Forwarded {
        source: wire.source,
        watermark: wire.watermark,
        events,
    })
}

fn read_binary(value: &[u8]) -> Result<Forwarded, wire::WireError> {
    let mut r = wire::Reader::new(value);
    for want in BINARY_RECORD {
        let got = r.byte()?;
        if got != want {
            return Err(wire::WireError::BadTag(got));
        }
    }
    let source = i64::try_from(r.varint()?).map_err(|_| wire::WireError::BadVarint)?;
    let watermark = i64::try_from(r.varint()?).map_err(|_| wire::WireError::BadVarint)?;
    let mut events = Vec::new();
    while !r.at_end() {
        let event = r.bytes()?;
        events.push((wire::event_ts(event)?, event.to_vec()));
    }
    Ok(Forwarded {
        source,
        watermark,
        events,
    })
}

/// The event time of an event written with it first, as the input side writes them
/// (`{"ts":<integer>,...`), read without parsing the rest; None for any other shape.
fn leading_ts(event: &str) -> Option<i64> {
    let rest = event.strip_prefix(r#"{"ts":"#)?;
    let end = rest.find([',', '}'])?;
    let digits = &rest[..end];
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The buffered events of one record, sorted by event time, and how many have left.
#[derive(Debug, Clone)]
struct Run {
    offset: i64,
    events: Vec<(i64, Vec<u8>)>,
    start: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Merger {
    sources: u32,
    marks: BTreeMap<i64, i64>,
    /// Records with events still buffered, oldest first. Not saved: a restore reads them again
    /// from the topic.
    #[serde(skip)]
    runs: VecDeque<Run>,
}

impl Merger {
    pub fn new(sources: u32) -> Merger {
        Merger {
            sources,
            ..Merger::default()
        }
    }

    /// Buffer the events of the record at `offset`; those older than `floor` are returned.
    pub fn add(
        &mut self,
        mut events: Vec<(i64, Vec<u8>)>,
        offset: i64,
        floor: Option<i64>,
    ) -> Vec<Vec<u8>> {
        if events.is_empty() {
            return Vec::new();
        }
        events.sort_by_key(|(ts, _)| *ts); // stable: ties keep their order in the record
        let start = match floor {
            Some(f) => events.partition_point(|(ts, _)| *ts < f),
            None => 0,
        };
        let late = events[..start].iter().map(|(_, e)| e.clone()).collect();
        if start < events.len() {
            self.runs.push_back(Run {
                offset,
                events,
                start,
            });
        }
        late
    }

    pub fn mark(&mut self, source: i64, watermark: i64) {
        let mark = self.marks.entry(source).or_insert(watermark);
        *mark = (*mark).max(watermark);
    }

    /// Event time up to which every input partition has reported, if all have.
    pub fn frontier(&self) -> Option<i64> {
        if self.marks.len() < self.sources as usize {
            return None;
        }
        self.marks.values().copied().min()
    }

    /// Buffered events at or before the frontier, in event-time order (ties: arrival).
    pub fn release(&mut self) -> Vec<(i64, Vec<u8>)> {
        let Some(frontier) = self.frontier() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut cut = 0;
        for run in &mut self.runs {
            let end =
                run.start + run.events[run.start..].partition_point(|(ts, _)| *ts <= frontier);
            if end > run.start {
                // Released events leave the run: moved out, not copied.
                out.extend(
                    run.events[run.start..end]
                        .iter_mut()
                        .map(|(ts, e)| (*ts, std::mem::take(e))),
                );
                run.start = end;
                cut += 1;
            }
        }
        if cut > 1 {
            out.sort_by_key(|(ts, _)| *ts); // stable: runs were cut in arrival order
        }
        while self.runs.front().is_some_and(|r| r.start == r.events.len()) {
            self.runs.pop_front();
        }
        out
    }

    /// Offset to commit: the oldest record still buffered, or everything read.
    pub fn safe_offset(&self, next_offset: i64) -> i64 {
        self.runs
            .iter()
            .find(|r| r.start < r.events.len())
            .map_or(next_offset, |r| r.offset)
    }

    /// The number of input partitions changed: their watermarks so far stay.
    pub fn set_sources(&mut self, sources: u32) {
        self.sources = sources;
    }

    /// Events buffered.
    pub fn buffered(&self) -> usize {
        self.runs.iter().map(|r| r.events.len() - r.start).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, id: &str) -> (i64, Vec<u8>) {
        (ts, id.as_bytes().to_vec())
    }

    #[test]
    fn releases_in_event_time_once_every_source_has_passed() {
        let mut m = Merger::new(2);
        m.add(vec![ev(5, "a"), ev(1, "b")], 10, None);
        m.mark(0, 5);
        assert!(m.release().is_empty());
        m.add(vec![ev(3, "c"), ev(5, "d")], 11, None);
        m.mark(1, 4);
        let out: Vec<Vec<u8>> = m.release().into_iter().map(|(_, e)| e).collect();
        assert_eq!(out, vec![b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(m.safe_offset(12), 10);
        m.mark(1, 9);
        let out: Vec<Vec<u8>> = m.release().into_iter().map(|(_, e)| e).collect();
        assert_eq!(out, vec![b"a".to_vec(), b"d".to_vec()]);
        assert_eq!(m.safe_offset(12), 12);
    }

    #[test]
    fn older_than_the_floor_is_late() {
        let mut m = Merger::new(1);
        let late = m.add(vec![ev(1, "x"), ev(9, "y")], 0, Some(5));
        assert_eq!(late, vec![b"x".to_vec()]);
        assert_eq!(m.buffered(), 1);
    }

    #[test]
    fn binary_records_are_read_or_refused() {
        let event = |ts: i128| {
            let mut e = vec![wire::EVENT_TAG];
            wire::put_varint(ts, &mut e);
            e
        };
        let mut record = BINARY_RECORD.to_vec();
        wire::put_varint(3, &mut record);
        wire::put_varint(-7, &mut record);
        for ts in [9, -2] {
            let e = event(ts);
            wire::put_uvarint(e.len() as u128, &mut record);
            record.extend_from_slice(&e);
        }
        let read = read_forwarded(&record).unwrap();
        assert_eq!((read.source, read.watermark), (3, -7));
        assert_eq!(read.events, vec![(9, event(9)), (-2, event(-2))]);
        // Cut anywhere inside an event, or with an event time beyond 64 bits, it is refused.
        for cut in [record.len() - 1, record.len() - 2, 5] {
            assert!(read_forwarded(&record[..cut]).is_err(), "cut at {cut}");
        }
        let mut wide = BINARY_RECORD.to_vec();
        wide.extend([0, 0]);
        let e = event(i128::from(i64::MAX) + 1);
        wire::put_uvarint(e.len() as u128, &mut wide);
        wide.extend_from_slice(&e);
        assert!(read_forwarded(&wide).is_err());
        assert!(read_forwarded(&[0x00, 0x02, 0, 0]).is_err());
        // A record of no events still carries its watermark.
        assert_eq!(read_forwarded(&[0x00, 0x01, 2, 5]).unwrap().watermark, -3);
    }

    #[test]
    fn records_are_read_or_refused() {
        let r =
            read_forwarded(br#"{"source":1,"watermark":7,"events":[{"ts":3,"a":[1]}]}"#).unwrap();
        assert_eq!(r.events, vec![(3, br#"{"ts":3,"a":[1]}"#.to_vec())]);
        assert!(read_forwarded(br#"{"source":1,"watermark":7,"events":[{"ts":"3"}]}"#).is_err());
        // The event time is read in place when it comes first, parsed otherwise.
        for (event, ts) in [
            (r#"{"ts":-12,"a":1}"#, Some(-12)),
            (r#"{"ts":7}"#, Some(7)),
            (r#"{"a":{"ts":1},"ts":5}"#, Some(5)),
            (r#"{"ts":1.5,"a":1}"#, None),
            (r#"{"ts":1e3}"#, None),
            (r#"{"ts":-}"#, None),
            (r#"{"ts":99999999999999999999}"#, None),
            (r#"{"ts": 3}"#, Some(3)),
        ] {
            let record = format!(r#"{{"source":0,"watermark":0,"events":[{event}]}}"#);
            let read = read_forwarded(record.as_bytes())
                .map(|r| r.events[0].0)
                .ok();
            assert_eq!(read, ts, "{event}");
        }
        assert!(read_forwarded(br#"{"source":1,"events":[]}"#).is_err());
        assert!(read_forwarded(b"nope").is_err());
    }
}
