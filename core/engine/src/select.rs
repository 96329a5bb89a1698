//! What a rule selects from a batch: events passing `where`, with every `group_by` field a
//! scalar, and a usable value for the detector (a number, a scalar, the truth of one filter, or
//! a non-zero bit mask of step filters).

use crate::event::{Event, Schema};
use crate::filter::{Filter, Path};
use crate::key::{Interner, Key};
use crate::rule::{Aggregate, DetectorType, RuleSpec};
use crate::value::{Number, Scalar};

/// The detector's value of one selected event.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    None,
    Num(Number),
    Scalar(Scalar),
    Flag(bool),
    Mask(u32),
}

#[derive(Debug, Clone)]
enum ValueMode {
    None,
    Number(Path),
    Scalar(Path),
    Flag(Filter),
    Mask(Box<[Filter]>),
}

/// A rule's selected events of one batch: positions, group keys and values, in batch order.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub idxs: Vec<usize>,
    pub keys: Vec<Key>,
    pub vals: Vec<Val>,
}

impl Selection {
    pub fn clear(&mut self) {
        self.idxs.clear();
        self.keys.clear();
        self.vals.clear();
    }

    pub fn len(&self) -> usize {
        self.idxs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idxs.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Selector {
    filter: Filter,
    group: Box<[Path]>,
    value: ValueMode,
}

impl Selector {
    pub fn new(rule: &RuleSpec, schema: &mut Schema) -> Result<Selector, String> {
        let filter = Filter::compile(&rule.filter, schema)?;
        let group = rule.group_by.iter().map(|p| Path::new(schema, p)).collect();
        let d = &rule.detect;
        let field = |schema: &mut Schema| -> Result<Path, String> {
            let parts = d.field.as_ref().ok_or("detect.field is required")?;
            Ok(Path::new(schema, parts))
        };
        let value = match d.kind {
            DetectorType::Threshold if d.aggregate != Aggregate::Count => {
                ValueMode::Number(field(schema)?)
            }
            DetectorType::Spike if d.aggregate == Aggregate::Sum => {
                ValueMode::Number(field(schema)?)
            }
            DetectorType::Distinct | DetectorType::NewValue => ValueMode::Scalar(field(schema)?),
            DetectorType::Ratio => {
                let numerator = d.numerator.as_ref().ok_or("detect.numerator is required")?;
                ValueMode::Flag(Filter::compile(numerator, schema)?)
            }
            DetectorType::Sequence => ValueMode::Mask(
                d.steps
                    .iter()
                    .map(|s| Filter::compile(&s.filter, schema))
                    .collect::<Result<_, _>>()?,
            ),
            _ => ValueMode::None,
        };
        Ok(Selector {
            filter,
            group,
            value,
        })
    }

    /// The value of an event whose group fields are scalars, or None if the rule does not
    /// select it.
    fn value_of(&self, e: &Event) -> Option<Val> {
        if !self.filter.matches(e) {
            return None;
        }
        Some(match &self.value {
            ValueMode::None => Val::None,
            ValueMode::Number(p) => Val::Num(p.get(e).as_number()?),
            ValueMode::Scalar(p) => Val::Scalar(p.get(e).scalar()?),
            ValueMode::Flag(f) => Val::Flag(f.matches(e)),
            ValueMode::Mask(steps) => {
                let mask = steps
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.matches(e))
                    .fold(0u32, |m, (n, _)| m | (1 << n));
                if mask == 0 {
                    return None;
                }
                Val::Mask(mask)
            }
        })
    }

    fn grouped(&self, e: &Event) -> bool {
        self.group.iter().all(|p| p.get(e).is_scalar())
    }

    /// The key and value of one event, or None if the rule does not select it.
    pub fn select(&self, e: &Event) -> Option<(Key, Val)> {
        if !self.grouped(e) {
            return None;
        }
        let val = self.value_of(e)?;
        let parts: Option<Vec<_>> = self.group.iter().map(|p| p.get(e).scalar()).collect();
        Some((parts?.into(), val))
    }

    /// Every selected event of a batch into `out` (cleared first), with keys from the rule's
    /// `interner`.
    pub fn select_all<'a: 'e, 'e>(
        &self,
        events: impl Iterator<Item = &'e Event<'a>>,
        interner: &mut Interner,
        out: &mut Selection,
    ) {
        out.clear();
        interner.sweep();
        for (i, e) in events.enumerate() {
            if !self.grouped(e) {
                continue;
            }
            let Some(val) = self.value_of(e) else {
                continue;
            };
            let Some(key) = interner.get(|| self.group.iter().map(|p| p.get(e))) else {
                continue;
            };
            out.idxs.push(i);
            out.keys.push(key);
            out.vals.push(val);
        }
    }

    /// How many events of a batch the rule selects (for counting late events per rule).
    pub fn count<'a: 'e, 'e>(&self, events: impl Iterator<Item = &'e Event<'a>>) -> usize {
        events
            .filter(|e| self.grouped(e) && self.value_of(e).is_some())
            .count()
    }
}
