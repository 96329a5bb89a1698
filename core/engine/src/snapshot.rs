//! The engine's durable state: an explicit, versioned binary format (docs/worker.md, "Engine
//! snapshots").
//!
//! A snapshot is `MAGIC`, the format version (u16, little endian), then the postcard encoding
//! of [`EngineState`]. Each rule's detector state is kept as its own byte string with the
//! rule's id and version, so a restore under a changed rule set takes over exactly the rules
//! whose id and version are unchanged and starts the others empty.

use std::borrow::Cow;

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
    pub detector: Vec<u8>,
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

/// `value`'s postcard encoding after `out`, in a buffer sized once. A state of megabytes
/// written into a growing buffer takes each size's fresh memory in turn, and its page faults
/// (huge pages zeroed by the kernel) cost several times the encoding itself.
pub fn sized<T: Serialize + ?Sized>(value: &T, mut out: Vec<u8>) -> Result<Vec<u8>, String> {
    let size = postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
        .map_err(|e| e.to_string())?;
    out.reserve_exact(size);
    postcard::to_extend(value, out).map_err(|e| e.to_string())
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
