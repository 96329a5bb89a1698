//! Signalfire's detection engine: decoding usage events, rule filters, group keys, the eight
//! detectors and the alert lifecycle, over batches of raw record values, in event time.
//!
//! Pure: no I/O, and no clock that decides anything (a batch's threads are balanced on measured
//! time, which moves rules between threads, never changes what they produce). The Python package wraps it (`signalfire._core`) and owns rule
//! loading, rendering and everything that talks to Kafka.

pub mod alert;
pub mod arith;
pub mod clock;
pub mod detectors;
pub mod engine;
pub mod event;
pub mod facts;
pub mod filter;
pub mod isotime;
pub mod json;
pub mod key;
pub mod keymap;
pub mod lanes;
pub mod lifecycle;
pub mod merge;
pub mod route;
pub mod rule;
pub mod select;
pub mod slots;
pub mod snapshot;
pub mod thin;
pub mod value;
pub mod wire;
