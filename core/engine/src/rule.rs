//! Rules as the engine receives them: already checked by the Python rule loader (which owns
//! `file:line` errors) and handed over as JSON. Nothing here validates user input again
//! beyond what the types require.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RuleSpec {
    pub id: String,
    pub version: String,
    #[serde(rename = "where")]
    pub filter: FilterSpec,
    pub group_by: Vec<Vec<String>>,
    pub detect: DetectSpec,
    pub for_ms: i64,
    pub resolve_after_ms: Option<i64>,
    pub throttle_ms: i64,
    pub evidence_top: Vec<Vec<String>>,
    pub max_groups: Option<usize>,
}

impl RuleSpec {
    pub fn group_names(&self) -> Vec<String> {
        self.group_by.iter().map(|p| p.join(".")).collect()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilterSpec {
    Cond {
        path: Vec<String>,
        op: String,
        arg: Json,
    },
    All {
        items: Vec<FilterSpec>,
    },
    Any {
        items: Vec<FilterSpec>,
    },
    Not {
        item: Box<FilterSpec>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DetectorType {
    Match,
    Threshold,
    Distinct,
    Ratio,
    Spike,
    NewValue,
    Absence,
    Sequence,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
        }
    }

    pub fn upward(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Both,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    Mean,
    Median,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StepSpec {
    #[serde(rename = "where")]
    pub filter: FilterSpec,
    pub count: u32,
    pub absent: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DetectSpec {
    #[serde(rename = "type")]
    pub kind: DetectorType,
    pub window_ms: i64,
    pub bucket_ms: i64,
    pub aggregate: Aggregate,
    pub field: Option<Vec<String>>,
    pub op: Op,
    pub threshold: f64,
    pub numerator: Option<FilterSpec>,
    pub min_count: i64,
    pub factor: f64,
    pub baseline_windows: i64,
    pub direction: Direction,
    pub baseline: Baseline,
    pub seasonality_ms: i64,
    pub lookback_ms: i64,
    pub warmup_ms: i64,
    pub steps: Vec<StepSpec>,
    pub within_ms: i64,
}

/// Engine-wide settings (the worker's flags set them; rules may override `max_groups`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Settings {
    pub allowed_lateness_ms: i64,
    pub max_groups: usize,
    pub sample_ids: usize,
    /// Threads a batch may run on (decoding, then the rules by `group_by`); the output is the
    /// same with any number.
    #[serde(default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_lateness_ms: 30_000,
            max_groups: 100_000,
            sample_ids: 10,
            threads: 1,
        }
    }
}
