//! The MapReduce pipeline of one job over its strips: map on the workers
//! (histograms summed as they come, inside the mask if there is one; a
//! batch's shared counts skip it), reduce on the master (the tables:
//! equalizing, or matching a reference's histograms), apply on the workers
//! holding each strip, the output written as it returns.

use std::io::{Seek, Write};
use std::sync::Arc;
use std::time::Instant;

use histo_codec::Format;
use histo_core::matching;
use histo_core::options::{MaskApply, OptionError};
use histo_core::plan::{Histograms, Plan};
use histo_core::strips;

use super::mask::{MaskFeed, check_counted};
use super::sink::Sink;
use super::{Inner, JobSpec, ms};
use crate::error::RunError;
use crate::events::Phase;
use crate::feed::Feed;
use crate::record::{self, JobId};
use crate::scheduler;
use crate::task::{ApplyTask, MapTask, OutputKind, PlanSpec};

impl Inner {
    /// The map phase over `feed`'s strips (with `mask`'s over the same
    /// rows): `done` gets each strip's histograms and the worker that now
    /// holds the strip.
    pub(super) async fn map_phase(
        &self,
        id: &JobId,
        plan_spec: PlanSpec,
        strips: &[strips::Strip],
        (feed, mask): (&Arc<Feed>, Option<&Arc<MaskFeed>>),
        mut done: impl FnMut(usize, &str, Histograms, usize, usize),
    ) -> Result<(), scheduler::PhaseError> {
        scheduler::run_tasks(
            &self.scheduler,
            self.coordinator.as_ref(),
            strips.len(),
            &[],
            |i, worker, _| {
                let (feed, mask, job, strip) = (feed.clone(), mask.cloned(), id.clone(), strips[i]);
                async move {
                    let mut data = feed.for_map(i).await?;
                    if let Some(mask) = mask {
                        data = mask.attach(data, i, false).await?;
                    }
                    worker.map(&MapTask { job, spec: plan_spec, strip, data }).await
                }
            },
            |i, worker, hist, finished, total| {
                feed.mapped(i);
                if let Some(mask) = mask {
                    mask.mapped(i);
                }
                done(i, worker, hist, finished, total);
                std::future::ready(())
            },
        )
        .await
    }

    /// Map, reduce, apply and the output, over `feed`'s strips.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn phases<W>(
        &self,
        id: &JobId,
        spec: &JobSpec,
        plan: &Plan,
        plan_spec: PlanSpec,
        strips: &[strips::Strip],
        (feed, mask): (&Arc<Feed>, Option<&Arc<MaskFeed>>),
        reference: Option<&Histograms>,
        format: Format,
        out: W,
    ) -> Result<(W, u64), RunError>
    where
        W: Write + Seek + Send + 'static,
    {
        // Map: every strip's histograms, summed as they come; each strip is
        // then held by the worker that mapped it.
        let t = Instant::now();
        let total = strips.len();
        let mut holders: Vec<Option<String>> = vec![None; total];
        let before = match &spec.shared {
            // Counted already, with the batch's other images.
            Some(counts) if counts.bins.len() == plan.bin_count() => counts.as_ref().clone(),
            Some(counts) => {
                return Err(OptionError::SharedCounts { bins: counts.bins.len(), want: plan.bin_count() }.into());
            }
            None => {
                let mut before = plan.empty_histograms();
                self.map_phase(id, plan_spec, strips, (feed, mask), |i, worker, hist, done, total| {
                    before.merge(&hist);
                    holders[i] = Some(worker.to_owned());
                    self.task_done(id, Phase::Map, i, worker, done, total);
                })
                .await?;
                before
            }
        };
        check_counted(mask, &before)?;
        let map_ms = ms(t);
        let t = Instant::now();
        let luts = Arc::new(match reference {
            Some(reference) => matching::reduce(plan, &before, reference),
            None => plan.reduce(&before),
        });
        let reduce_ms = ms(t);
        self.progress(id, Phase::Reduce, 1, 1, "");

        // Apply: each strip where it is held (with shared counts, none is:
        // every strip is sent); PNG pieces are compressed there and
        // written out in order as they arrive.
        let send_all = spec.shared.is_some();
        let t = Instant::now();
        let output = match format {
            Format::Png => OutputKind::Png { settings: spec.encode.png },
            _ => OutputKind::Raw,
        };
        let after_plan = plan.output_plan();
        let mut after = after_plan.empty_histograms();
        let mut sink = Sink::start(plan, strips, format, spec.encode, out);
        let applied = scheduler::run_tasks(
            &self.scheduler,
            self.coordinator.as_ref(),
            total,
            &holders,
            |i, worker, resend| {
                let (feed, job, strip, luts) = (feed.clone(), id.clone(), strips[i], luts.clone());
                // Only inside-only apply needs the mask again.
                let mask = mask.filter(|_| plan_spec.mask == Some(MaskApply::Inside)).cloned();
                async move {
                    let resend = match (resend || send_all, mask) {
                        (false, _) => None,
                        (true, None) => Some(feed.for_resend(i).await?),
                        (true, Some(mask)) => Some(mask.attach(feed.for_resend(i).await?, i, true).await?),
                    };
                    let last = i + 1 == total;
                    worker.apply(&ApplyTask { job, spec: plan_spec, strip, last, luts, output, resend }).await
                }
            },
            |i, worker, applied, done, total| {
                after.merge(&applied.after);
                let room = sink.push(i, applied.output);
                self.task_done(id, Phase::Apply, i, worker, done, total);
                room
            },
        )
        .await;
        let apply_ms = ms(t);
        if let Err(e) = applied {
            sink.abandon().await;
            return Err(e.into());
        }

        let t = Instant::now();
        let (out, len) = sink.finish().await?;
        self.progress(id, Phase::Encode, 1, 1, "");
        self.jobs.update(id, |r| {
            r.bytes_out = len;
            r.timings.map_ms = map_ms;
            r.timings.reduce_ms = reduce_ms;
            r.timings.apply_ms = apply_ms;
            r.timings.encode_ms = ms(t);
            r.histograms = Some(record::Histograms {
                planes: plan.plane_names().iter().map(|s| s.to_string()).collect(),
                before: plan.summarize(&before),
                after: after_plan.summarize(&after),
            });
        });
        Ok((out, len))
    }
}
