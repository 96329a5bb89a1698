//! The engine's durable state: an explicit, versioned binary format (docs/worker.md, "Engine
//! snapshots").
//!
//! A snapshot is `MAGIC`, the format version (u16, little endian), then the postcard encoding
//! of [`EngineState`]. Each rule's detector state is kept as its own byte string with the
//! rule's id and version, so a restore under a changed rule set takes over exactly the rules
//! whose id and version are unchanged and starts the others empty.

use std::borrow::Cow;
use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::merge::Merger;

pub const MAGIC: &[u8; 4] = b"SFEN";
/// Bumped whenever any saved structure changes shape: older snapshots are then refused, and
/// the partition is rebuilt from its topic.
pub const FORMAT: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// Not an engine snapshot, or one of another format version.
    Unknown(String),
    /// The right header, but the content does not decode.
    Corrupt(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Unknown(why) => write!(f, "unknown snapshot format: {why}"),
            SnapshotError::Corrupt(why) => write!(f, "corrupt snapshot: {why}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleState {
    pub id: String,
    pub version: String,
    pub late: u64,
    /// Written at once: postcard spells bytes as it spells a list of `u8`, which serde would
    /// write byte by byte.
    #[serde(serialize_with = "as_bytes")]
    pub detector: Vec<u8>,
}

fn as_bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineState<'a> {
    pub now: i64,
    pub seq: u64,
    pub late: u64,
    pub rules: Vec<RuleState>,
    /// A repartition partition's merge: the sources' watermarks (its buffer is read again).
    /// Borrowed when saved: a clone would copy the buffered events, which are not saved.
    pub merge: Option<Cow<'a, Merger>>,
}

pub fn encode(state: &EngineState<'_>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    sized(state, out)
}

/// `value`'s postcard encoding after `out`, in a buffer sized once (for values that are mostly
/// bytes already: sizing walks the value once more). A state of megabytes written into a
/// growing buffer takes each size's fresh memory in turn, and its page faults (huge pages
/// zeroed by the kernel) cost several times the encoding itself.
fn sized<T: Serialize + ?Sized>(value: &T, mut out: Vec<u8>) -> Result<Vec<u8>, String> {
    let size = postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
        .map_err(|e| e.to_string())?;
    out.reserve_exact(size);
    postcard::to_extend(value, out).map_err(|e| e.to_string())
}

thread_local! {
    /// The buffer a detector's state is written into: kept, so that saving again writes into
    /// memory the thread has already (as large as the largest state it wrote).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `value`'s postcard encoding (a detector's state): written once into the thread's scratch
/// buffer, then copied out at its size.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        postcard::serialize_with_flavor(value, Append(buf)).map_err(|e| e.to_string())?;
        Ok(buf.as_slice().to_vec())
    })
}

struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.0.push(b);
        Ok(())
    }

    fn try_extend(&mut self, b: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(b);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

pub fn decode(bytes: &[u8]) -> Result<EngineState<'static>, SnapshotError> {
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        return Err(SnapshotError::Unknown("no engine snapshot header".into()));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT {
        return Err(SnapshotError::Unknown(format!(
            "format {version}, this engine reads {FORMAT}"
        )));
    }
    postcard::from_bytes(&bytes[6..]).map_err(|e| SnapshotError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot format before its bytes were written at once: a list of `u8`.
    #[derive(Serialize)]
    struct AsList {
        id: String,
        version: String,
        late: u64,
        detector: Vec<u8>,
    }

    #[test]
    fn a_rules_state_is_spelled_as_before() {
        for detector in [vec![], vec![7], (0..=255).cycle().take(70_000).collect()] {
            let rule = RuleState {
                id: "token_drain".into(),
                version: "3".into(),
                late: 300,
                detector: detector.clone(),
            };
            let before = AsList {
                id: rule.id.clone(),
                version: rule.version.clone(),
                late: rule.late,
                detector,
            };
            let bytes = to_vec(&rule).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&before).unwrap());
            assert_eq!(postcard::from_bytes::<RuleState>(&bytes).unwrap(), rule);
        }
    }

    #[test]
    fn the_scratch_buffer_is_written_afresh_each_time() {
        let long = to_vec(&vec![1u32; 1_000]).unwrap();
        let short = to_vec(&vec![2u32; 3]).unwrap();
        assert_eq!(long, postcard::to_allocvec(&vec![1u32; 1_000]).unwrap());
        assert_eq!(short, postcard::to_allocvec(&vec![2u32; 3]).unwrap());
    }
}
