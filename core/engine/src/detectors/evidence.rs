//! `evidence.top`: the most frequent values of chosen fields among a group's counted events.

use crate::event::Event;
use crate::filter::Path;
use crate::value::{KeyPart, Scalar};

/// At most this many distinct values are counted per field: later new values are not.
pub const TOP_VALUES_PER_FIELD: usize = 50;
/// Values shown per field.
pub const TOP_SHOWN: usize = 5;

/// Per `evidence.top` field, in the rule's order: values in first-seen order with counts.
pub type TopCounts = Box<[Vec<(Scalar, u64)>]>;

pub fn empty_counts(fields: &[(String, Path)]) -> TopCounts {
    fields.iter().map(|_| Vec::new()).collect()
}

/// Count the event's scalar values of the `evidence.top` fields.
pub fn count_top(counts: &mut TopCounts, fields: &[(String, Path)], e: &Event) {
    for (values, (_, path)) in counts.iter_mut().zip(fields) {
        let v = path.get(e);
        // Compared in place: the value is copied only when it is new.
        let Some(canon) = v.canon() else { continue };
        if let Some(entry) = values.iter_mut().find(|(x, _)| x.canon() == canon) {
            entry.1 += 1;
        } else if values.len() < TOP_VALUES_PER_FIELD {
            if let Some(s) = v.scalar() {
                values.push((s, 1));
            }
        }
    }
}

/// The TOP_SHOWN most frequent values per field, most frequent first, then by text.
pub fn shown_top(
    counts: &TopCounts,
    fields: &[(String, Path)],
) -> Vec<(String, Vec<(Scalar, u64)>)> {
    counts
        .iter()
        .zip(fields)
        .filter(|(values, _)| !values.is_empty())
        .map(|(values, (name, _))| {
            let mut shown: Vec<(Scalar, u64, String)> = values
                .iter()
                .map(|(v, n)| (v.clone(), *n, v.sort_text()))
                .collect();
            // Stable: equal counts and texts keep first-seen order.
            shown.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
            shown.truncate(TOP_SHOWN);
            (
                name.clone(),
                shown.into_iter().map(|(v, n, _)| (v, n)).collect(),
            )
        })
        .collect()
}
