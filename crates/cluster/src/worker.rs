//! A worker's state and compute, whatever the transport: it counts strips
//! (map), keeps them, and maps them through the tables (apply), a bounded
//! number at a time.
//!
//! The embedded coordinator calls [`WorkerCore`] directly; `histo worker`
//! serves the same core over gRPC ([`crate::rpc`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use histo_codec::png;
use histo_core::Pixels;
use histo_core::options::MaskApply;
use histo_core::plan::{Histograms, Samples, SamplesMut};
use histo_core::strips::Strip;
use tokio::sync::Semaphore;

use crate::record::JobId;
use crate::task::{Applied, ApplyTask, MapTask, OutputKind, StripData, StripMask, StripOutput, TaskError};

/// Bytes of strips a worker keeps between map and apply by default; past
/// it the oldest are dropped (and resent by the master if still needed).
pub const DEFAULT_HELD_BYTES: usize = 2 << 30;

struct Held {
    data: StripData,
    bytes: usize,
}

#[derive(Default)]
struct Store {
    strips: HashMap<(JobId, usize), Held>,
    order: VecDeque<(JobId, usize)>,
    bytes: usize,
}

/// One worker: its id, its slots, the strips it holds.
pub struct WorkerCore {
    id: String,
    slots: usize,
    delay: std::time::Duration,
    permits: Arc<Semaphore>,
    max_held: usize,
    store: Mutex<Store>,
}

impl WorkerCore {
    /// A worker running `slots` tasks at once.
    pub fn new(id: impl Into<String>, slots: usize, max_held: usize) -> Self {
        let slots = slots.max(1);
        WorkerCore {
            id: id.into(),
            slots,
            delay: std::time::Duration::ZERO,
            permits: Arc::new(Semaphore::new(slots)),
            max_held,
            store: Mutex::default(),
        }
    }

    /// Makes every task wait `delay` first: a fault-injection knob for
    /// chaos experiments (slow workers, jobs long enough to disturb).
    pub fn with_task_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Tasks it runs at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Tasks running now.
    pub fn busy(&self) -> usize {
        self.slots - self.permits.available_permits()
    }

    /// Counts a strip and keeps it for apply.
    pub async fn map(&self, task: MapTask) -> Result<Histograms, TaskError> {
        let _permit = self.permits.clone().try_acquire_owned().map_err(|_| TaskError::Busy)?;
        tokio::time::sleep(self.delay).await;
        let plan = task.spec.plan().map_err(|e| TaskError::Invalid(e.to_string()))?;
        let mut data = task.data;
        let mask = match (task.spec.mask, &data.mask) {
            (Some(_), Some(m)) => Some(m.inside.clone()),
            (None, None) => None,
            (Some(_), None) => return Err(TaskError::Invalid("a masked job's strip came without its mask".into())),
            (None, Some(_)) => return Err(TaskError::Invalid("a mask came with an unmasked job".into())),
        };
        let samples = data.samples.clone();
        let strip = task.strip;
        let hist = tokio::task::spawn_blocking(move || {
            let view = match &*samples {
                Pixels::U8(v) => Samples::U8(v),
                Pixels::U16(v) => Samples::U16(v),
            };
            match mask {
                Some(inside) => plan.map_inside(strip, view, &inside),
                None => plan.map(strip, view),
            }
        })
        .await
        .map_err(|e| TaskError::Unavailable(format!("map task ended: {e}")))?
        .map_err(|e| TaskError::Invalid(e.to_string()))?;
        // Apply needs the mask only to keep the outside as it was.
        if task.spec.mask != Some(MaskApply::Inside) {
            data.mask = None;
        }
        self.keep(task.job, strip.index, data);
        Ok(hist)
    }

    /// Maps a strip through the tables: the held copy, or the one resent.
    pub async fn apply(&self, task: ApplyTask) -> Result<Applied, TaskError> {
        let _permit = self.permits.clone().try_acquire_owned().map_err(|_| TaskError::Busy)?;
        tokio::time::sleep(self.delay).await;
        let StripData { samples, above, mask } = match self.take(&task.job, task.strip.index) {
            Some(held) => held.data,
            None => task.resend.clone().ok_or(TaskError::Missing)?,
        };
        let mask = match task.spec.mask {
            Some(MaskApply::Inside) => {
                Some(mask.ok_or_else(|| TaskError::Invalid("an inside-only strip came without its mask".into()))?)
            }
            _ => None,
        };
        // A strip held here alone is mapped in place; a shared one is copied.
        let samples = Arc::try_unwrap(samples).unwrap_or_else(|shared| (*shared).clone());
        tokio::task::spawn_blocking(move || apply_strip(&task, samples, above.as_deref(), mask.as_ref()))
            .await
            .map_err(|e| TaskError::Unavailable(format!("apply task ended: {e}")))?
    }

    /// Drops every strip `job` left here.
    pub fn release(&self, job: &JobId) {
        let mut store = self.store.lock().expect("store lock");
        let keys: Vec<_> = store.strips.keys().filter(|(j, _)| j == job).cloned().collect();
        for key in keys {
            if let Some(h) = store.strips.remove(&key) {
                store.bytes -= h.bytes;
            }
        }
        store.order.retain(|(j, _)| j != job);
    }

    /// Bytes of strips held now.
    pub fn held_bytes(&self) -> usize {
        self.store.lock().expect("store lock").bytes
    }

    fn keep(&self, job: JobId, index: usize, data: StripData) {
        let bytes = data.bytes();
        let mut store = self.store.lock().expect("store lock");
        if let Some(old) = store.strips.insert((job.clone(), index), Held { data, bytes }) {
            store.bytes -= old.bytes;
        } else {
            store.order.push_back((job, index));
        }
        store.bytes += bytes;
        while store.bytes > self.max_held {
            let Some(key) = store.order.pop_front() else { break };
            if let Some(h) = store.strips.remove(&key) {
                store.bytes -= h.bytes;
                tracing::debug!(job = %key.0, strip = key.1, "dropped a held strip to stay within memory");
            }
        }
    }

    fn take(&self, job: &JobId, index: usize) -> Option<Held> {
        let mut store = self.store.lock().expect("store lock");
        let held = store.strips.remove(&(job.clone(), index))?;
        store.bytes -= held.bytes;
        store.order.retain(|(j, i)| !(j == job && *i == index));
        Some(held)
    }
}

/// The apply computation: tables over the strip (and, for PNG, over the row
/// above, which the filter of the strip's first row needs), then encoding.
/// Under an inside-only mask, over the pixels inside alone.
fn apply_strip(
    task: &ApplyTask,
    mut out: Pixels,
    above: Option<&Pixels>,
    mask: Option<&StripMask>,
) -> Result<Applied, TaskError> {
    let plan = task.spec.plan().map_err(|e| TaskError::Invalid(e.to_string()))?;
    let invalid = |e: histo_core::plan::StripError| TaskError::Invalid(e.to_string());
    let map = |strip: Strip, samples: &mut Pixels, inside: Option<&Bytes>| match inside {
        Some(inside) => plan.apply_inside(strip, samples_mut(samples), &task.luts, inside),
        None => plan.apply(strip, samples_mut(samples), &task.luts),
    };
    map(task.strip, &mut out, mask.map(|m| &m.inside)).map_err(invalid)?;
    let after = plan.output_plan().map(task.strip, out.slice(0..out.len())).map_err(invalid)?;
    let OutputKind::Png { settings } = task.output else {
        return Ok(Applied { output: StripOutput::Raw(out), after });
    };
    let above = match above {
        Some(row) if task.strip.y0 > 0 => {
            let mut row = row.clone();
            let strip = Strip { index: task.strip.index, y0: task.strip.y0 - 1, rows: 1 };
            let inside = match mask {
                Some(m) => {
                    Some(m.above.as_ref().ok_or_else(|| TaskError::Invalid("no mask for the row above".into()))?)
                }
                None => None,
            };
            map(strip, &mut row, inside).map_err(invalid)?;
            Some(png_bytes(&row).into_owned())
        }
        _ => None,
    };
    let piece = png::encode_strip(&plan.output_shape(), &settings, above.as_deref(), &png_bytes(&out), task.last);
    Ok(Applied { output: StripOutput::Png(piece), after })
}

fn samples_mut(p: &mut Pixels) -> SamplesMut<'_> {
    match p {
        Pixels::U8(v) => SamplesMut::U8(v),
        Pixels::U16(v) => SamplesMut::U16(v),
    }
}

/// Samples as PNG stores them (16-bit big-endian; 8-bit as they are).
fn png_bytes(p: &Pixels) -> std::borrow::Cow<'_, [u8]> {
    match p {
        Pixels::U8(v) => std::borrow::Cow::Borrowed(v),
        Pixels::U16(v) => std::borrow::Cow::Owned(v.iter().flat_map(|s| s.to_be_bytes()).collect()),
    }
}
