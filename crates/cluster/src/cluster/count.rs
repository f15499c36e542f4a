//! Counting an image on the workers without applying anything: one map
//! phase, the strips then released. A matching job counts its reference so,
//! and a batch with one shared table counts each of its images so
//! ([`Cluster::count`](super::Cluster::count)) before applying the table of
//! their summed counts to each.

use std::sync::Arc;

use histo_codec::stream::Opened;
use histo_core::Shape;
use histo_core::options::{MaskApply, OptionError, Options};
use histo_core::plan::{Histograms, Plan};

use super::mask::{Mask, MaskFeed};
use super::{Inner, JobSpec, job};
use crate::error::RunError;
use crate::events::Phase;
use crate::record::JobId;
use crate::task::PlanSpec;

/// An image counted for a shared table.
#[derive(Clone, Debug)]
pub struct Counted {
    /// The image's shape after the mode (what the counts are of).
    pub shape: Shape,
    /// Its counts, as the job's plan bins them.
    pub histograms: Histograms,
}

impl Inner {
    /// The histograms of an opened image on `plan` (inside `mask`, if
    /// any). `done(strip, worker, finished, total)` follows the map phase.
    pub(super) async fn count_opened(
        &self,
        id: &JobId,
        (opened, plan, options): (Opened, &Plan, Options),
        mask: Option<&Mask>,
        limits: histo_codec::Limits,
        mut done: impl FnMut(usize, &str, usize, usize),
    ) -> Result<Histograms, RunError> {
        let strips = job::strips_of(plan);
        let mask = match mask {
            Some(m) => Some(Arc::new(MaskFeed::open(m, limits, plan, &strips).await?)),
            None => None,
        };
        // Nothing is applied: no strip keeps its mask.
        let plan_spec = PlanSpec { shape: plan.output_shape(), options, mask: mask.as_ref().map(|_| MaskApply::All) };
        let feed = job::feed(plan, &strips, opened).await?;
        let mut total = plan.empty_histograms();
        let mapped = self
            .map_phase(id, plan_spec, &strips, (&feed, mask.as_ref()), |i, worker, hist, finished, n| {
                total.merge(&hist);
                done(i, worker, finished, n);
            })
            .await;
        // The workers keep mapped strips for an apply that will not come.
        self.release(id).await;
        match mapped {
            Err(e) => {
                let broken = feed.take_error().or_else(|| mask.as_ref().and_then(|m| m.take_error()));
                Err(broken.map_or(e.into(), RunError::Input))
            }
            Ok(()) if mask.is_some() && total.bins.iter().all(|&c| c == 0) => Err(OptionError::EmptyMask.into()),
            Ok(()) => Ok(total),
        }
    }

    /// A batch image's counts, under the job's options and mask.
    pub(super) async fn execute_count(
        &self,
        id: &JobId,
        input: histo_codec::Input,
        spec: &JobSpec,
    ) -> Result<Counted, RunError> {
        let job::Started { opened, plan, .. } = self.start(id, input, spec).await?;
        let histograms = self
            .count_opened(id, (opened, &plan, spec.options), spec.mask.as_ref(), spec.limits, |i, worker, done, n| {
                self.task_done(id, Phase::Map, i, worker, done, n);
            })
            .await?;
        Ok(Counted { shape: plan.output_shape(), histograms })
    }
}
