//! `signalfire._core`: the compiled core as a Python extension module.
//!
//! Types here are thin shells over the pure crates (`signalfire-matcher`, ...): Python calls
//! cross the boundary with whole values and get typed results back.

mod engine;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use signalfire_matcher::Pattern as Compiled;

create_exception!(
    _core,
    PatternError,
    PyValueError,
    "A pattern the linear-time engine refuses (the message is one line)."
);

/// A `regex:` filter's pattern: linear-time search anywhere in a string.
#[pyclass(frozen, module = "signalfire._core")]
struct Pattern {
    inner: Compiled,
}

#[pymethods]
impl Pattern {
    #[new]
    fn new(source: &str) -> PyResult<Self> {
        Compiled::new(source)
            .map(|inner| Pattern { inner })
            .map_err(|err| PatternError::new_err(err.0))
    }

    /// Whether the pattern matches anywhere in `text`.
    fn search(&self, text: &str) -> bool {
        self.inner.search(text)
    }

    #[getter]
    fn source(&self) -> &str {
        self.inner.source()
    }

    fn __repr__(&self) -> String {
        format!("Pattern({:?})", self.inner.source())
    }

    // Compiled filters can sit in pickled engine state: a pattern pickles as its source.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let cls = slf.get_type().into_any();
        let args = PyTuple::new(slf.py(), [slf.get().inner.source()])?;
        Ok((cls, args))
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pattern>()?;
    m.add_class::<engine::Core>()?;
    m.add("SnapshotError", m.py().get_type::<engine::SnapshotError>())?;
    m.add("PatternError", m.py().get_type::<PatternError>())?;
    m.add("SIZE_LIMIT", signalfire_matcher::SIZE_LIMIT)?;
    Ok(())
}
