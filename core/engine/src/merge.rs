//! The repartition side: reading the records input partitions forward, and the event-time
//! merge that releases their events in order.
//!
//! Each input partition writes, per batch it reads, one record into every partition of each
//! repartition topic: `{"source": <input partition>, "watermark": <its watermark>, "events":
//! [...]}`. Events wait here until every input partition has promised, by its watermark, that
//! nothing older will come; they are then released in event-time order (ties in arrival
//! order). Offsets of records whose events are still waiting are not committed.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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
    let wire: Wire = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    let events = wire
        .events
        .into_iter()
        .map(|raw| {
            // The merge orders events by `ts`: one without an integer there is refused here,
            // with its record, rather than stop the merge later.
            let stamp: Stamp = serde_json::from_str(raw.get())
                .map_err(|_| "events: expected objects with an integer ts".to_string())?;
            Ok((stamp.ts, raw.get().as_bytes().to_vec()))
        })
        .collect::<Result<_, String>>()?;
    Ok(Forwarded {
        source: wire.source,
        watermark: wire.watermark,
        events,
    })
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
                out.extend(run.events[run.start..end].iter().cloned());
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
    fn records_are_read_or_refused() {
        let r =
            read_forwarded(br#"{"source":1,"watermark":7,"events":[{"ts":3,"a":[1]}]}"#).unwrap();
        assert_eq!(r.events, vec![(3, br#"{"ts":3,"a":[1]}"#.to_vec())]);
        assert!(read_forwarded(br#"{"source":1,"watermark":7,"events":[{"ts":"3"}]}"#).is_err());
        assert!(read_forwarded(br#"{"source":1,"events":[]}"#).is_err());
        assert!(read_forwarded(b"nope").is_err());
    }
}
