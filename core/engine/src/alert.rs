//! What the engine hands to the alert path: one trigger or resolve with its evidence.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::value::{Number, Scalar};

pub use crate::key::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        }
    }
}

/// A JSON value in evidence: what a detector measured, or a detail of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Measure {
    Null,
    Num(Number),
    Scalar(Scalar),
    Text(String),
    List(Vec<Scalar>),
}

impl From<Number> for Measure {
    fn from(n: Number) -> Measure {
        Measure::Num(n)
    }
}

/// The facts behind a transition, as of the moment it happened (event time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub value: Measure,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    pub sample_event_ids: Vec<Box<str>>,
    /// Per `evidence.top` field (dotted name), its most frequent values with their counts.
    pub top: Vec<(String, Vec<(Scalar, u64)>)>,
    pub extra: Vec<(Cow<'static, str>, Measure)>,
    /// The group's events that `top` and the samples count: from this event time on, this many.
    pub counted_since: Option<i64>,
    pub counted_events: u64,
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence {
            value: Measure::Null,
            window_start: None,
            window_end: None,
            sample_event_ids: Vec::new(),
            top: Vec::new(),
            extra: Vec::new(),
            counted_since: None,
            counted_events: 0,
        }
    }
}

/// A lifecycle decision for one group, at event time `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub action: Action,
    pub key: Key,
    pub at: i64,
    pub evidence: Evidence,
}

/// A transition of one rule, in the engine's output order.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: usize,
    pub transition: Transition,
}
