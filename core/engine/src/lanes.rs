//! A batch on more than one thread: records are decoded in chunks side by side, and the rules
//! run by `group_by`, each `group_by` with every rule grouped by it on one thread.
//!
//! Rules share nothing but the keys of their `group_by` (`GroupKeys`), and a `group_by` with
//! its rules runs on one thread only, so no state is shared between threads. The output does
//! not depend on which thread ran what: each rule sees the batch's events in order, dead
//! letters keep their positions, and the engine orders alerts by (position, rule). Threads
//! take the next piece of work when done with the last (a thread that gets less of a shared
//! machine takes fewer); `group_by`s are handed out costliest first, by their rules' measured
//! time over recent batches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use rayon_core::{ThreadPool, ThreadPoolBuilder};

use crate::clock::BatchClock;
use crate::detectors::Drive;
use crate::event::{Event, EventError, Schema};
use crate::select::{BatchKeys, GroupKeys};

/// Batches with fewer events run on one thread: handing a helper its piece costs microseconds.
pub const PARALLEL_FROM: usize = 512;

type Det = Box<dyn Drive + Send + Sync>;

/// Records decoded per turn of a thread.
const DECODE_CHUNK: usize = 128;

/// Decode and check `records`: the events in order, and the rejects with their positions.
/// Threads take chunks of records in turn until none is left, so a thread that gets less of
/// the machine takes fewer.
pub fn decode_all<'a, B: AsRef<[u8]> + Sync>(
    schema: &Schema,
    records: &'a [B],
    threads: usize,
) -> (Vec<Event<'a>>, Vec<(usize, EventError)>) {
    if threads <= 1 || records.len() < PARALLEL_FROM {
        return decode_chunk(schema, records, 0);
    }
    let next = AtomicUsize::new(0);
    let turns = || {
        let mut done = Vec::new();
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let from = n * DECODE_CHUNK;
            if from >= records.len() {
                return done;
            }
            let chunk = &records[from..records.len().min(from + DECODE_CHUNK)];
            done.push((n, decode_chunk(schema, chunk, from)));
        }
    };
    let mut parts: Vec<_> = side_by_side(threads, turns).into_iter().flatten().collect();
    parts.sort_unstable_by_key(|(n, _)| *n);
    let mut events = Vec::with_capacity(records.len());
    let mut dead = Vec::new();
    for (_, (e, d)) in parts {
        events.extend(e);
        dead.extend(d);
    }
    (events, dead)
}

fn decode_chunk<'a, B: AsRef<[u8]>>(
    schema: &Schema,
    records: &'a [B],
    offset: usize,
) -> (Vec<Event<'a>>, Vec<(usize, EventError)>) {
    let mut events = Vec::with_capacity(records.len());
    let mut dead = Vec::new();
    let mut decoder = schema.decoder();
    for (n, raw) in records.iter().enumerate() {
        match decoder.decode(raw.as_ref()) {
            Ok(e) => events.push(e),
            Err(err) => dead.push((offset + n, err)),
        }
    }
    (events, dead)
}

/// Free a part's decoded events. With helpers (`threads` > 1) a helper frees them while this
/// thread goes back to its caller: thousands of frees were 4-6% of a batch's time, with the
/// helper idle. A helper that is still at it when the next part decodes simply takes fewer of
/// its chunks.
pub fn discard(events: Vec<Event<'_>>, threads: usize) {
    let pool = if threads > 1 { helpers() } else { None };
    let Some(pool) = pool else {
        drop(events);
        return;
    };
    // SAFETY: only the lifetime changes, which has no bearing on layout. The events are never
    // read again, only dropped, and dropping a `Value` never reads the record text it borrows:
    // a borrowed `Cow` drops to nothing, while owned strings, lists and objects free their own
    // memory. So the records may be gone before the helper gets to these.
    let husks: Vec<Event<'static>> = unsafe { std::mem::transmute(events) };
    pool.spawn(move || drop(husks));
}

/// Run `work` on `threads` threads at once, this one and helpers of the process's pool, and
/// return what each returned. A panic in any of them is raised again here once all are done.
fn side_by_side<T: Send>(threads: usize, work: impl Fn() -> T + Sync) -> Vec<T> {
    let Some(pool) = helpers() else {
        return vec![work()];
    };
    let done = Mutex::new(Vec::with_capacity(threads));
    pool.in_place_scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| {
                let mine = work();
                done.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(mine);
            });
        }
        let mine = work();
        done.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mine);
    });
    done.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// The helper threads every engine of the process shares, started on first use: a thread
/// started for each piece of work took 43-56 us to start and join, twice per part of a batch,
/// and left its allocator's heap behind. They sleep while no batch runs. None in a child forked after
/// they started (threads do not survive a fork): its batches run on one thread.
fn helpers() -> Option<&'static ThreadPool> {
    static POOL: OnceLock<(u32, Option<ThreadPool>)> = OnceLock::new();
    let (pid, pool) = POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1));
        let pool = ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .thread_name(|n| format!("signalfire-core-{n}"))
            .build()
            .ok();
        (std::process::id(), pool)
    });
    pool.as_ref().filter(|_| *pid == std::process::id())
}

/// Every this many batches run the other way (one thread or all) than the usual one, to see
/// whether that is faster now; while one way is clearly the faster (see `CLEAR`), every
/// `PROBE_EVERY_CLEAR`: a probe of the slower way costs what it loses, 3-4% of the
/// throughput at one in 16 where two threads take 0.6 of one's time.
const PROBE_EVERY: u64 = 16;
const PROBE_EVERY_CLEAR: u64 = 64;

/// ln(1.3): a way at least 1.3 times faster than the other is clearly the faster.
const CLEAR: f64 = 0.262_364_264_467_491;

/// How far one probe moves the estimate of which way is faster (a moving average).
const PROBE_WEIGHT: f64 = 0.25;

/// How batches run: on one thread or on `threads`, whichever has been faster lately. On a
/// machine whose other cores are busy, threads that wait for each other at the end of every
/// batch lose more (a thread preempted inside its last piece of work holds the batch up for
/// a time slice) than they win.
///
/// Which is faster is told by pairs of neighbouring batches, a probe and the usual batch
/// before it, never by each way's times apart: a shared machine's speed drifts by half
/// within seconds, and a way last timed in a slow spell looked slower than the other one
/// timed in a quick spell, though it was not.
#[derive(Debug)]
pub struct Lanes {
    threads: usize,
    /// Threads of the batch under way.
    current: usize,
    /// Whether batches usually run on all threads.
    parallel: bool,
    /// Whether the batch under way is a probe.
    probing: bool,
    /// Nanoseconds per record of the last usual batch (0 none yet).
    usual_ns: f64,
    /// ln(time on all threads / time on one), a moving average over probes: below 0, all
    /// threads are faster.
    log_ratio: f64,
    batches: u64,
    /// Per `group_by`: recent nanoseconds per batch of its rules (a moving average).
    cost: Vec<f64>,
}

impl Lanes {
    pub fn new(threads: usize) -> Lanes {
        Lanes {
            threads: threads.max(1),
            current: 1,
            parallel: true,
            probing: false,
            usual_ns: 0.0,
            log_ratio: 0.0,
            batches: 0,
            cost: Vec::new(),
        }
    }

    /// Start a batch of `records`: the threads it runs on.
    pub fn begin(&mut self, records: usize) -> usize {
        self.current = 1;
        self.probing = false;
        if self.threads > 1 && records >= PARALLEL_FROM {
            self.batches += 1;
            let every = if self.log_ratio.abs() >= CLEAR {
                PROBE_EVERY_CLEAR
            } else {
                PROBE_EVERY
            };
            self.probing = self.usual_ns > 0.0 && self.batches % every == 0;
            if self.parallel != self.probing {
                self.current = self.threads;
            }
        }
        self.current
    }

    /// End the batch begun last, of `records`, which took `nanos`.
    pub fn end(&mut self, records: usize, nanos: f64) {
        if self.threads > 1 && records >= PARALLEL_FROM {
            let now = nanos / records as f64;
            if !self.probing {
                self.usual_ns = now;
            } else if now > 0.0 {
                let (all, one) = if self.current > 1 {
                    (now, self.usual_ns)
                } else {
                    (self.usual_ns, now)
                };
                self.log_ratio += PROBE_WEIGHT * ((all / one).ln() - self.log_ratio);
                self.parallel = self.log_ratio <= 0.0;
            }
        }
        self.current = 1;
        self.probing = false;
    }

    /// Apply the batch's accepted `events` to every detector (`key_specs[n]`: detector n's
    /// `group_by` among `keys`).
    pub fn run(
        &mut self,
        detectors: &mut [Det],
        key_specs: &[usize],
        keys: &mut BatchKeys,
        events: &[&Event],
        clock: &BatchClock,
    ) {
        let specs = keys.len();
        let mut by_spec: Vec<Vec<&mut Det>> = (0..specs).map(|_| Vec::new()).collect();
        for (det, &spec) in detectors.iter_mut().zip(key_specs) {
            by_spec[spec].push(det);
        }
        let work: Vec<Work> = keys
            .specs_mut()
            .iter_mut()
            .zip(by_spec)
            .enumerate()
            .filter(|(_, (_, dets))| !dets.is_empty())
            .map(|(spec, (keys, dets))| Work { spec, keys, dets })
            .collect();
        if self.current <= 1 || events.len() < PARALLEL_FROM || work.len() < 2 {
            for w in work {
                w.run(events, clock);
            }
            return;
        }
        self.cost.resize(specs, 0.0);
        let queue = self.queue(work);
        let next = AtomicUsize::new(0);
        let turns = || {
            let mut timings = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = queue.get(n) else {
                    return timings;
                };
                let Some(w) = item.lock().ok().and_then(|mut w| w.take()) else {
                    continue;
                };
                let spec = w.spec;
                let start = Instant::now();
                w.run(events, clock);
                timings.push((spec, start.elapsed().as_nanos() as f64));
            }
        };
        let timings = side_by_side(self.current, turns);
        for (spec, nanos) in timings.into_iter().flatten() {
            let c = &mut self.cost[spec];
            *c = if *c == 0.0 {
                nanos
            } else {
                0.8 * *c + 0.2 * nanos
            };
        }
    }

    /// The `group_by`s in the order threads take them: costliest first (one rule counting as
    /// one unit before any is measured), so that the cheap ones even out the end.
    fn queue<'w, 'd>(&self, mut work: Vec<Work<'w, 'd>>) -> Vec<Mutex<Option<Work<'w, 'd>>>> {
        let cost = |w: &Work| match self.cost[w.spec] {
            c if c > 0.0 => c,
            _ => w.dets.len() as f64,
        };
        work.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
        work.into_iter().map(|w| Mutex::new(Some(w))).collect()
    }
}

/// One `group_by`'s keys and the rules grouped by it.
struct Work<'w, 'd> {
    spec: usize,
    keys: &'w mut GroupKeys,
    dets: Vec<&'d mut Det>,
}

impl Work<'_, '_> {
    /// Every rule of the `group_by` over the batch. Its keys are made here and let go when
    /// its last rule is done, on the thread that ran them, not one after another by the
    /// batch's thread.
    fn run(self, events: &[&Event], clock: &BatchClock) {
        self.keys.start(events.len());
        for det in self.dets {
            det.process(events, self.keys, clock);
        }
        self.keys.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batches (by number) that ran on `threads` threads.
    fn on(ways: &[usize], threads: usize) -> Vec<usize> {
        (0..ways.len()).filter(|&n| ways[n] == threads).collect()
    }

    /// The threads of `batches` batches of 2,048 records, each taking `ns(threads, batch)`
    /// nanoseconds per record.
    fn run(lanes: &mut Lanes, batches: u64, ns: impl Fn(usize, u64) -> f64) -> Vec<usize> {
        (0..batches)
            .map(|n| {
                let threads = lanes.begin(2048);
                lanes.end(2048, ns(threads, n) * 2048.0);
                threads
            })
            .collect()
    }

    #[test]
    fn batches_run_the_faster_way_and_probe_the_other() {
        let mut lanes = Lanes::new(2);
        // two threads take 0.7 of one's time: they stay, with a batch in 16 on one thread
        // until five probes make them clearly faster (ln 0.7 = -0.36), then one in 64
        let ways = run(&mut lanes, 320, |t, _| if t > 1 { 700.0 } else { 1000.0 });
        assert_eq!(
            on(&ways, 1),
            [15, 31, 47, 63, 79, 127, 191, 255, 319],
            "{ways:?}"
        );
        // the other core gets busy: two threads now take 1.5 of one's time; the next probe
        // finds it, the estimate turns within a few probes one in 16, and batches run on one
        // thread from then on, with a probe on two one in 64 once one is clearly faster
        let ways = run(&mut lanes, 320, |t, _| if t > 1 { 1500.0 } else { 1000.0 });
        assert!(ways[..64].contains(&1));
        assert_eq!(on(&ways[160..], 2), [31, 95, 159], "{ways:?}");
        // small batches and one-thread engines never run on more
        assert_eq!(lanes.begin(PARALLEL_FROM - 1), 1);
        lanes.end(PARALLEL_FROM - 1, 1.0);
        let mut one = Lanes::new(1);
        assert!(run(&mut one, 64, |_, _| 1.0).iter().all(|&t| t == 1));
    }

    #[test]
    fn a_machine_whose_speed_drifts_does_not_turn_the_faster_way_into_the_slower() {
        // Two threads always take 0.7 of one's time, but the machine runs at full speed for
        // 24 batches, then at half speed for 24: each way's own times, compared apart,
        // would often find the way timed in the slow spell the slower.
        let mut lanes = Lanes::new(2);
        let speed = |n: u64| if (n / 24) % 2 == 0 { 1.0 } else { 2.0 };
        let ways = run(&mut lanes, 2000, |t, n| {
            speed(n) * if t > 1 { 700.0 } else { 1000.0 }
        });
        // only the probes ran on one thread: five one in 16 until two threads were clearly
        // faster, then one in 64 over the other 1,920 batches
        let probes: Vec<usize> = (1..=2000u64)
            .filter(|&b| if b <= 80 { b % 16 == 0 } else { b % 64 == 0 })
            .map(|b| b as usize - 1)
            .collect();
        assert_eq!(on(&ways, 1), probes);
    }
}
