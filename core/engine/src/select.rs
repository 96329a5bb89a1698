//! What a rule selects from a batch: events passing `where`, with every `group_by` field a
//! scalar, and a usable value for the detector (a number, a scalar, the truth of one filter, or
//! a non-zero bit mask of step filters).

use crate::event::{Event, Schema};
use crate::filter::{Filter, Path};
use crate::key::{Interner, Key};
use crate::rule::{Aggregate, DetectorType, RuleSpec};
use crate::value::{Number, Value};

/// The detector's value of one selected event.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    None,
    Num(Number),
    /// A scalar at the rule's field, read in place with [`Selection::field`].
    Field,
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
    pub vals: Vec<Val>,
    /// The rule's field, for values of [`Val::Field`].
    field: Option<Path>,
}

impl Selection {
    pub fn clear(&mut self) {
        self.idxs.clear();
        self.vals.clear();
    }

    pub fn len(&self) -> usize {
        self.idxs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idxs.is_empty()
    }
}

/// A rule's selection of a batch as its detector reads it: the selected events, their values,
/// and their keys, read in place from the batch's keys of the rule's `group_by` (a key is
/// shared, not cloned, per rule).
pub struct Selected<'a> {
    pub idxs: &'a [usize],
    pub vals: &'a [Val],
    made: &'a [Option<Option<Key>>],
    field: Option<&'a Path>,
}

impl<'a> Selected<'a> {
    pub fn new(sel: &'a Selection, keys: &'a GroupKeys) -> Selected<'a> {
        Selected {
            idxs: &sel.idxs,
            vals: &sel.vals,
            made: keys.made(),
            field: sel.field.as_ref(),
        }
    }

    /// The selected events' positions with their keys.
    pub fn keyed(&self) -> impl Iterator<Item = (usize, &'a Key)> + '_ {
        let made = self.made;
        self.idxs.iter().map(move |&i| {
            let key = made[i].as_ref().and_then(Option::as_ref);
            (i, key.expect("a selected event has a key"))
        })
    }

    /// The selected event's value at the rule's field (a scalar when its value is `Field`).
    pub fn field<'e, 'b>(&self, e: &'e Event<'b>) -> &'e Value<'b> {
        self.field.expect("a rule with a field").get(e)
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
            ValueMode::Scalar(p) if p.get(e).is_scalar() => Val::Field,
            ValueMode::Scalar(_) => return None,
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

    /// Whether the rule selects the event.
    pub fn selects(&self, e: &Event) -> bool {
        self.grouped(e) && self.value_of(e).is_some()
    }

    /// An empty selection of this rule.
    pub fn selection(&self) -> Selection {
        Selection {
            field: match &self.value {
                ValueMode::Scalar(p) => Some(p.clone()),
                _ => None,
            },
            ..Selection::default()
        }
    }

    pub fn group(&self) -> &[Path] {
        &self.group
    }

    /// Every selected event of a batch into `out` (cleared first), with the batch's keys for
    /// this rule's `group_by`.
    pub fn select_all(&self, events: &[&Event], keys: &mut GroupKeys, out: &mut Selection) {
        out.clear();
        // Filter first: the key is made only for events some rule selects.
        for (i, e) in events.iter().enumerate() {
            if let Some(val) = self.value_of(e) {
                out.idxs.push(i);
                out.vals.push(val);
            }
        }
        keys.make(&out.idxs, events);
        // Events whose group fields are not all scalars have no key: not selected.
        let made = keys.made();
        let mut kept = 0;
        for n in 0..out.idxs.len() {
            let i = out.idxs[n];
            if matches!(made[i], Some(Some(_))) {
                out.idxs[kept] = i;
                out.vals.swap(kept, n);
                kept += 1;
            }
        }
        out.idxs.truncate(kept);
        out.vals.truncate(kept);
    }

    /// How many events of a batch the rule selects (for counting late events per rule).
    pub fn count<'a: 'e, 'e>(&self, events: impl Iterator<Item = &'e Event<'a>>) -> usize {
        events.filter(|e| self.selects(e)).count()
    }
}

/// One `group_by` of the rule set: its keys, and this batch's key of each event once made.
/// Every rule grouped alike reads its keys here; no other `group_by` shares its state, so the
/// rules of different `group_by`s can run apart (on other threads).
#[derive(Debug, Default)]
pub struct GroupKeys {
    paths: Box<[Path]>,
    interner: Interner,
    /// Per event of the batch: not asked yet, no key (a field is no scalar), or the key.
    made: Vec<Option<Option<Key>>>,
    /// Events whose keys are being made, with their hashes (kept for its buffer).
    todo: Vec<(usize, u64)>,
}

impl GroupKeys {
    /// Start a batch of `n` events.
    pub fn start(&mut self, n: usize) {
        self.made.clear();
        self.made.resize(n, None);
    }

    /// End a batch: its keys go (a key no rule kept is freed with them).
    pub fn finish(&mut self) {
        self.made.clear();
    }

    /// Make (or find) the keys of events `idxs` of `events` not made yet this batch. Their
    /// hashes come first, and the interner's sets they land in are asked for then, so that
    /// the lookups after do not each wait for memory in turn.
    pub fn make(&mut self, idxs: &[usize], events: &[&Event]) {
        let paths = &self.paths;
        let parts = |i: usize| {
            let e = events[i];
            move || paths.iter().map(move |p| p.get(e))
        };
        self.todo.clear();
        for &i in idxs {
            if self.made[i].is_some() {
                continue;
            }
            match Interner::hash(parts(i)()) {
                Some(hash) => {
                    self.interner.prefetch(hash);
                    self.todo.push((i, hash));
                }
                None => self.made[i] = Some(None),
            }
        }
        for &(i, hash) in &self.todo {
            self.made[i] = Some(self.interner.get_hashed(hash, parts(i)));
        }
    }

    /// The batch's keys so far, by event.
    pub fn made(&self) -> &[Option<Option<Key>>] {
        &self.made
    }
}

/// The group keys of a batch's events, per distinct `group_by` of the rule set: each event's
/// key is made (or found) once and shared by every rule grouped alike.
#[derive(Debug, Default)]
pub struct BatchKeys {
    specs: Vec<GroupKeys>,
}

impl BatchKeys {
    /// The index of `group_by` paths, added if new.
    pub fn spec(&mut self, paths: &[Path]) -> usize {
        if let Some(n) = self.specs.iter().position(|s| &*s.paths == paths) {
            return n;
        }
        self.specs.push(GroupKeys {
            paths: paths.into(),
            ..GroupKeys::default()
        });
        self.specs.len() - 1
    }

    /// Each `group_by`'s keys, by index.
    pub fn specs_mut(&mut self) -> &mut [GroupKeys] {
        &mut self.specs
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}
