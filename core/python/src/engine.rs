//! `Core`: the detection engine over batches of raw record values.
//!
//! Results cross into Python as plain tuples, dicts and scalars (alerts are rare; the per-event
//! work never leaves Rust). `signalfire.engine.core` turns them into the typed `Alert`s that
//! `alerting/` renders.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use signalfire_engine::alert::{Alert, Evidence, Measure};
use signalfire_engine::engine::Engine;
use signalfire_engine::route::{FamilySpec, Format};
use signalfire_engine::rule::{RuleSpec, Settings};
use signalfire_engine::snapshot::SnapshotError as Refused;

create_exception!(
    _core,
    SnapshotError,
    PyValueError,
    "A saved engine state this engine cannot take over (the message is one line)."
);
use signalfire_engine::value::{Number, ScalarRef};

fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &[u8]) -> PyResult<T> {
    serde_json::from_slice(json).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn scalar<'py>(py: Python<'py>, s: ScalarRef<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match s {
        ScalarRef::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        ScalarRef::Int(i) => i.into_pyobject(py)?.into_any(),
        ScalarRef::Float(bits) => f64::from_bits(bits).into_pyobject(py)?.into_any(),
        ScalarRef::Str(t) => t.into_pyobject(py)?.into_any(),
    })
}

fn measure<'py>(py: Python<'py>, m: &Measure) -> PyResult<Bound<'py, PyAny>> {
    Ok(match m {
        Measure::Null => py.None().into_bound(py),
        Measure::Num(Number::Int(i)) => i.into_pyobject(py)?.into_any(),
        Measure::Num(Number::Float(f)) => f.into_pyobject(py)?.into_any(),
        Measure::Scalar(s) => scalar(py, s.as_ref())?,
        Measure::Text(t) => t.into_pyobject(py)?.into_any(),
        Measure::List(items) => PyList::new(
            py,
            items
                .iter()
                .map(|s| scalar(py, s.as_ref()))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any(),
    })
}

/// (value, window_start, window_end, sample_event_ids, top, extra, counted_since, counted_events)
fn evidence<'py>(py: Python<'py>, ev: &Evidence) -> PyResult<Bound<'py, PyTuple>> {
    let ids = PyTuple::new(py, ev.sample_event_ids.iter().map(|s| &**s))?;
    let top = PyDict::new(py);
    for (field, values) in &ev.top {
        let pairs = PyList::empty(py);
        for (v, n) in values {
            pairs.append(PyTuple::new(
                py,
                [scalar(py, v.as_ref())?, n.into_pyobject(py)?.into_any()],
            )?)?;
        }
        top.set_item(field, pairs)?;
    }
    let extra = PyDict::new(py);
    for (name, m) in &ev.extra {
        extra.set_item(&**name, measure(py, m)?)?;
    }
    PyTuple::new(
        py,
        [
            measure(py, &ev.value)?,
            ev.window_start.into_pyobject(py)?.into_any(),
            ev.window_end.into_pyobject(py)?.into_any(),
            ids.into_any(),
            top.into_any(),
            extra.into_any(),
            ev.counted_since.into_pyobject(py)?.into_any(),
            ev.counted_events.into_pyobject(py)?.into_any(),
        ],
    )
}

/// (rule index, action, group values, at, evidence)
fn alerts<'py>(py: Python<'py>, alerts: &[Alert]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for a in alerts {
        let tr = &a.transition;
        let key = PyTuple::new(
            py,
            tr.key
                .parts()
                .map(|s| scalar(py, s))
                .collect::<PyResult<Vec<_>>>()?,
        )?;
        out.append(PyTuple::new(
            py,
            [
                a.rule.into_pyobject(py)?.into_any(),
                tr.action.as_str().into_pyobject(py)?.into_any(),
                key.into_any(),
                tr.at.into_pyobject(py)?.into_any(),
                evidence(py, &tr.evidence)?.into_any(),
            ],
        )?)?;
    }
    Ok(out)
}

/// The compiled engine for one rule set (rules and settings as JSON from the Python loader).
#[pyclass(module = "signalfire._core")]
pub struct Core {
    engine: Engine,
}

#[pymethods]
impl Core {
    #[new]
    fn new(rules: &[u8], settings: &[u8]) -> PyResult<Self> {
        let rules: Vec<RuleSpec> = parse("rules", rules)?;
        let settings: Settings = parse("settings", settings)?;
        let engine = Engine::new(rules, settings).map_err(PyValueError::new_err)?;
        Ok(Core { engine })
    }

    /// Forward on-time events to these families' repartition partitions from now on (families
    /// as JSON: name, rules, fields), in record bodies of at most about `record_limit` bytes,
    /// the events written in `format` ("json" or "binary").
    fn set_routing(
        &mut self,
        families: &[u8],
        partitions: u32,
        record_limit: usize,
        format: &str,
    ) -> PyResult<()> {
        let families: Vec<FamilySpec> = parse("families", families)?;
        let format = match format {
            "json" => Format::Json,
            "binary" => Format::Binary,
            other => {
                return Err(PyValueError::new_err(format!(
                    "repartition format {other:?}: expected \"json\" or \"binary\""
                )))
            }
        };
        self.engine
            .set_routing(&families, partitions, record_limit, format)
            .map_err(PyValueError::new_err)
    }

    /// Decode and apply a batch: (alerts, dead letters as (index, reason, message), late,
    /// per family the record bodies per repartition partition, per family rule the late events
    /// it would have read).
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        records: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let held: Vec<Bound<'py, PyBytes>> = records
            .iter()
            .map(|r| r.cast_into::<PyBytes>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let raw: Vec<&[u8]> = held.iter().map(|b| b.as_bytes()).collect();
        let out = self.engine.process(&raw);
        let dead = PyList::empty(py);
        for (n, err) in &out.dead_letters {
            dead.append((*n, err.reason.as_str(), err.message.as_str()))?;
        }
        let routed = PyList::empty(py);
        for family in &out.routed {
            let parts = PyList::empty(py);
            for bodies in family {
                let chunks = PyList::empty(py);
                for body in bodies {
                    chunks.append(PyBytes::new(py, body))?;
                }
                parts.append(chunks)?;
            }
            routed.append(parts)?;
        }
        PyTuple::new(
            py,
            [
                alerts(py, &out.alerts)?.into_any(),
                dead.into_any(),
                out.late.into_pyobject(py)?.into_any(),
                routed.into_any(),
                out.family_late.clone().into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// Read repartition records from `sources` input partitions from now on (a family's
    /// partition).
    fn merge_from(&mut self, sources: u32) {
        self.engine.merge_from(sources);
    }

    /// Apply repartition records `(offset, value)`: (alerts, dead letters as (index, reason,
    /// message), events released by the merge).
    #[pyo3(signature = (records, refill=None))]
    fn process_forwarded<'py>(
        &mut self,
        py: Python<'py>,
        records: &Bound<'py, PyList>,
        refill: Option<(i64, i64)>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let held: Vec<(i64, Bound<'py, PyBytes>)> = records
            .iter()
            .map(|r| r.extract::<(i64, Bound<'py, PyBytes>)>())
            .collect::<PyResult<_>>()?;
        let raw: Vec<(i64, &[u8])> = held.iter().map(|(o, b)| (*o, b.as_bytes())).collect();
        let out = self.engine.process_forwarded(&raw, refill);
        let dead = PyList::empty(py);
        for (n, err) in &out.dead_letters {
            dead.append((*n, err.reason.as_str(), err.message.as_str()))?;
        }
        PyTuple::new(
            py,
            [
                alerts(py, &out.alerts)?.into_any(),
                dead.into_any(),
                out.released.into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// Offset to commit on a family's partition: the oldest record whose events still wait.
    fn safe_offset(&self, next_offset: i64) -> i64 {
        self.engine.safe_offset(next_offset)
    }

    #[getter]
    fn buffered(&self) -> usize {
        self.engine.buffered()
    }

    #[getter]
    fn frontier(&self) -> Option<i64> {
        self.engine.frontier()
    }

    fn advance<'py>(&mut self, py: Python<'py>, now: i64) -> PyResult<Bound<'py, PyList>> {
        let out = self.engine.advance(now);
        alerts(py, &out)
    }

    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = self.engine.flush();
        alerts(py, &out)
    }

    /// An engine for `rules` that takes over the state `saved` (see `save`).
    #[staticmethod]
    fn restore(rules: &[u8], settings: &[u8], saved: &[u8]) -> PyResult<Self> {
        let rules: Vec<RuleSpec> = parse("rules", rules)?;
        let settings: Settings = parse("settings", settings)?;
        Engine::restore(rules, settings, saved)
            .map(|engine| Core { engine })
            .map_err(|e: Refused| SnapshotError::new_err(e.to_string()))
    }

    /// The engine's state in the versioned snapshot format (docs/worker.md).
    ///
    /// Without the GIL: the worker saves a partition's engine in a thread while the loop goes
    /// on with the other partitions. This engine stays borrowed meanwhile, so a call that
    /// changes it (`process`, `advance`, ...) raises until the save is done.
    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let engine = &self.engine;
        let saved = py.detach(|| engine.save()).map_err(PyValueError::new_err)?;
        Ok(PyBytes::new(py, &saved))
    }

    fn reload(&mut self, rules: &[u8]) -> PyResult<()> {
        let rules: Vec<RuleSpec> = parse("rules", rules)?;
        self.engine.reload(rules).map_err(PyValueError::new_err)
    }

    /// Per rule: (matches, triggers, resolves, suppressed, cap_evictions, late,
    /// partials_dropped), the fields of `signalfire.rulecounts.RuleCounts` in order.
    fn stats(&self) -> Vec<(u64, u64, u64, u64, u64, u64, u64)> {
        self.engine
            .stats()
            .iter()
            .zip(self.engine.late_by_rule())
            .map(|(s, late)| {
                (
                    s.matches,
                    s.triggers,
                    s.resolves,
                    s.suppressed,
                    s.cap_evictions,
                    *late,
                    s.partials_dropped,
                )
            })
            .collect()
    }

    fn group_counts(&self) -> Vec<usize> {
        self.engine.group_counts()
    }

    #[getter]
    fn now(&self) -> i64 {
        self.engine.now()
    }

    #[getter]
    fn watermark(&self) -> i64 {
        self.engine.watermark()
    }

    #[getter]
    fn late(&self) -> u64 {
        self.engine.late()
    }
}
