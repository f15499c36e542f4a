//! A job's life on the master: its record and progress events, opening the
//! input, planning the strips, running the pipeline, and letting the
//! workers go of what they hold, also when the caller goes away.

use std::io::{Seek, Write};
use std::sync::Arc;
use std::time::Instant;

use histo_codec::stream::{self, Opened};
use histo_codec::{Format, Input, Limits};
use histo_core::Shape;
use histo_core::matching;
use histo_core::options::MaskApply;
use histo_core::plan::{Histograms, Plan};
use histo_core::strips;

use super::mask::{MaskFeed, decode_failure};
use super::{Inner, JobSpec, blocking, ms};
use crate::error::RunError;
use crate::events::{Event, JobProgress, Phase, now};
use crate::feed::Feed;
use crate::record::{JobId, JobState, TaskPhase, TaskRecord};
use crate::task::PlanSpec;

/// A job whose future may be dropped before it ends (the HTTP client
/// disconnected). If it is, the workers are told to drop the strips they
/// hold for it, as they are when a job ends, and the job's record says so;
/// otherwise those strips would stay until the workers' memory bound
/// pushed them out.
pub(super) struct Abandoned {
    inner: Option<Arc<Inner>>,
    id: JobId,
}

impl Abandoned {
    pub(super) fn new(inner: Arc<Inner>, id: JobId) -> Self {
        Abandoned { inner: Some(inner), id }
    }

    /// The job ran to its end (success or error): nothing to clean up.
    pub(super) fn finished(mut self) {
        self.inner = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        inner.jobs.update(&self.id, |r| {
            r.state = JobState::Failed;
            r.error = Some("cancelled: the client went away".into());
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let id = self.id.clone();
            runtime.spawn(async move { inner.release(&id).await });
        }
    }
}

impl Inner {
    pub(super) fn progress(&self, id: &JobId, phase: Phase, done: u32, total: u32, worker: &str) {
        self.events.publish(Event::JobProgress(JobProgress {
            job_id: id.to_string(),
            phase,
            done,
            total,
            worker: worker.to_owned(),
            request_id: self.jobs.read(id, |r| r.request_id.clone()).flatten(),
            ts: now(),
        }));
    }

    pub(super) fn task_done(&self, id: &JobId, phase: Phase, strip: usize, worker: &str, done: usize, total: usize) {
        let state = if phase == Phase::Map { TaskPhase::Mapped } else { TaskPhase::Done };
        self.jobs.update(id, |r| {
            if let Some(t) = r.tasks.get_mut(strip) {
                t.phase = state;
                t.worker = Some(worker.to_owned());
                t.attempts += 1;
            }
        });
        self.progress(id, phase, done as u32, total as u32, worker);
    }

    /// Opens a job's input, plans its strips and fills its record: the
    /// first step of every job.
    pub(super) async fn start(&self, id: &JobId, input: Input, spec: &JobSpec) -> Result<Started, RunError> {
        let t = Instant::now();
        let (opened, shape, in_format) = open(input, spec.limits).await?;
        let header_ms = ms(t);
        let plan = Plan::new(shape, spec.options)?;
        let format = spec.format.unwrap_or(in_format);
        let strips = strips_of(&plan, spec.strip_rows);
        self.jobs.update(id, |r| {
            r.width = shape.width;
            r.height = shape.height;
            r.layout = shape.layout.to_string();
            r.bits = 8 * shape.depth.bytes() as u8;
            r.mode = spec.options.mode.to_string();
            r.method = spec.options.method.name().to_owned();
            r.format = format.to_string();
            r.timings.decode_ms = header_ms;
            r.tasks = strips
                .iter()
                .map(|s| TaskRecord {
                    strip: s.index,
                    y0: s.y0,
                    rows: s.rows,
                    phase: TaskPhase::Pending,
                    worker: None,
                    attempts: 0,
                })
                .collect();
        });
        self.progress(id, Phase::Decode, 1, 1, "");
        Ok(Started { opened, plan, strips, format, header_ms })
    }

    /// Decode, map, reduce, apply on the workers, encode: strips are
    /// decoded as the map phase sends them, and the output is written as
    /// the apply phase returns it.
    pub(super) async fn execute<W>(
        &self,
        id: &JobId,
        input: Input,
        spec: &JobSpec,
        out: W,
    ) -> Result<(W, u64, Format), RunError>
    where
        W: Write + Seek + Send + 'static,
    {
        let Started { opened, plan, strips, format, header_ms } = self.start(id, input, spec).await?;
        // With a batch's shared counts the mask was counted already; only
        // an inside-only apply reads it again.
        let needed = spec.shared.is_none() || spec.mask_apply() == Some(MaskApply::Inside);
        let mask = MaskFeed::for_job(spec.mask.as_ref().filter(|_| needed), spec.limits, &plan, &strips).await?;
        let plan_spec = PlanSpec { shape: plan.output_shape(), options: spec.options, mask: spec.mask_apply() };
        let feed = feed(&plan, &strips, opened).await?;
        let result = match self.matching_counts(id, spec, &plan).await {
            Ok(reference) => {
                let sources = (&feed, mask.as_ref());
                self.phases(id, spec, &plan, plan_spec, &strips, sources, reference.as_ref(), format, out).await
            }
            Err(e) => Err(e),
        };
        self.release(id).await;
        let decode_ms = header_ms + feed.decoding_time().as_secs_f64() * 1000.0;
        self.jobs.update(id, |r| r.timings.decode_ms = decode_ms);
        match result {
            // A broken input (or mask) shows as a failed task: it is the answer.
            Err(e) => Err(decode_failure(&feed, mask.as_ref()).map_or(e, RunError::Input)),
            Ok((out, len)) => Ok((out, len, format)),
        }
    }

    /// The histograms a matching job follows, checked against its plan.
    async fn matching_counts(&self, id: &JobId, spec: &JobSpec, plan: &Plan) -> Result<Option<Histograms>, RunError> {
        let Some(reference) = &spec.reference else { return Ok(None) };
        let counts = self.reference_counts(id, reference, spec).await?;
        matching::check(plan, &counts)?;
        Ok(Some(counts))
    }

    /// Tells every worker to drop what this job left there.
    pub(super) async fn release(&self, id: &JobId) {
        let workers = self.coordinator.workers();
        futures::future::join_all(workers.iter().map(|w| w.release(id))).await;
    }
}

/// A job's input, opened and planned.
pub(super) struct Started {
    pub(super) opened: Opened,
    pub(super) plan: Plan,
    pub(super) strips: Vec<strips::Strip>,
    /// The output's format.
    pub(super) format: Format,
    /// Time spent reading the header.
    pub(super) header_ms: f64,
}

/// Opens `input` within `limits`, off the async threads: where its strips
/// come from, and the image's shape and format.
pub(super) async fn open(input: Input, limits: Limits) -> Result<(Opened, Shape, Format), RunError> {
    let opened = blocking(move || stream::open(&input, &limits)).await??;
    let (shape, format) = match &opened {
        Opened::Strips(r) => (r.shape(), r.format()),
        Opened::Whole(image, format) => (image.shape(), *format),
    };
    Ok((opened, shape, format))
}

/// The strips a job on `plan` is cut into: of at most `rows` rows, or of
/// about a million samples each.
pub(super) fn strips_of(plan: &Plan, rows: Option<u32>) -> Vec<strips::Strip> {
    let count = match rows {
        Some(rows) => plan.height().div_ceil(rows.max(1)) as usize,
        None => strips::count_for(plan.height(), plan.row_len()),
    };
    strips::split(plan.height(), count)
}

/// The feed of `strips` from what [`open`] found (CPU work for a whole
/// image: done off the async threads).
pub(super) async fn feed(plan: &Plan, strips: &[strips::Strip], opened: Opened) -> Result<Arc<Feed>, RunError> {
    let (plan, strips) = (plan.clone(), strips.to_vec());
    Ok(Arc::new(blocking(move || Feed::new(plan, strips, opened)).await?))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use histo_codec::{EncodeSettings, Limits};
    use histo_core::{Image, Layout, Pixels};

    use super::*;
    use crate::cluster::{Admission, Cluster};
    use crate::coordinator::embedded::Embedded;
    use crate::events::EventBus;
    use crate::worker::WorkerCore;

    #[tokio::test]
    async fn an_abandoned_job_releases_the_strips_its_workers_hold() {
        // Apply waits long after map, so the job is dropped while its strip is held.
        let core = Arc::new(WorkerCore::new("slow", 1, 1 << 30).with_task_delay(Duration::from_millis(300)));
        let coordinator = Arc::new(Embedded::with_cores("master-test", vec![core.clone()]));
        let cluster = Cluster::with("master-test".into(), coordinator, None, Admission::default(), EventBus::new());
        let image =
            Image::new(64, 64, Layout::Gray, Pixels::U8((0..64 * 64).map(|i| (i % 97) as u8).collect())).unwrap();
        let mut png = std::io::Cursor::new(Vec::new());
        histo_codec::encode(&image, Format::Png, &EncodeSettings::default(), &mut png).unwrap();
        let spec = JobSpec { limits: Limits::CLI, ..Default::default() };

        let job = tokio::spawn({
            let cluster = cluster.clone();
            async move { cluster.run(png.into_inner(), spec).await }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while core.held_bytes() == 0 {
            assert!(Instant::now() < deadline, "map never finished");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        job.abort(); // the client went away during apply's delay
        assert!(job.await.unwrap_err().is_cancelled());
        let deadline = Instant::now() + Duration::from_secs(5);
        while core.held_bytes() != 0 {
            assert!(Instant::now() < deadline, "the strip is still held");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(cluster.snapshot().jobs_running, 0);
    }
}
