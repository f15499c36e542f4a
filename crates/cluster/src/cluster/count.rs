//! Counting an image on the workers without applying anything: one map
//! phase, the strips then released. A matching job counts its reference so,
//! and a batch with one shared table counts each of its images so
//! ([`Cluster::count`](super::Cluster::count)) before applying the table of
//! their summed counts to each.

use histo_codec::stream::Opened;
use histo_core::Shape;
use histo_core::options::{MaskApply, Options};
use histo_core::plan::{Histograms, Plan};

use super::mask::{Mask, MaskFeed, check_counted, decode_failure};
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
        spec: &JobSpec,
        mut done: impl FnMut(usize, &str, usize, usize),
    ) -> Result<Histograms, RunError> {
        let strips = job::strips_of(plan, spec.strip_rows);
        let mask = MaskFeed::for_job(mask, spec.limits, plan, &strips).await?;
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
        if let Err(e) = mapped {
            return Err(decode_failure(&feed, mask.as_ref()).map_or(e.into(), RunError::Input));
        }
        check_counted(mask.as_ref(), &total)?;
        Ok(total)
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
            .count_opened(id, (opened, &plan, spec.options), spec.mask.as_ref(), spec, |i, worker, done, n| {
                self.task_done(id, Phase::Map, i, worker, done, n);
            })
            .await?;
        Ok(Counted { shape: plan.output_shape(), histograms })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use histo_codec::{EncodeSettings, Format, Limits};
    use histo_core::options::{ClaheParams, Method};
    use histo_core::{Image, Layout, Pixels, local};

    use super::*;
    use crate::cluster::{Admission, Cluster};
    use crate::coordinator::embedded::Embedded;
    use crate::events::EventBus;
    use crate::worker::WorkerCore;

    fn gray_png(width: u32, height: u32, level: impl Fn(u32) -> u32) -> (Vec<u8>, Vec<u8>) {
        let samples: Vec<u8> = (0..width * height).map(|i| level(i) as u8).collect();
        let image = Image::new(width, height, Layout::Gray, Pixels::U8(samples.clone())).unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        histo_codec::encode(&image, Format::Png, &EncodeSettings::default(), &mut out).unwrap();
        (samples, out.into_inner())
    }

    #[tokio::test]
    async fn shared_counts_give_every_image_the_table_of_their_sum() {
        let core = Arc::new(WorkerCore::new("w", 2, 1 << 30));
        let coordinator = Arc::new(Embedded::with_cores("master-test", vec![core.clone()]));
        let cluster = Cluster::with("master-test".into(), coordinator, None, Admission::default(), EventBus::new());
        // Tall enough for several strips each; the same size, for CLAHE.
        let (a, a_png) = gray_png(512, 2600, |i| 40 + (i * 7 + i / 512) % 60);
        let (b, b_png) = gray_png(512, 2600, |i| 120 + (i * 13 + i / 512 * 5) % 110);
        for method in [Method::Global, Method::Clahe(ClaheParams::default())] {
            let spec = JobSpec {
                limits: Limits::CLI,
                options: Options { method, ..Options::default() },
                ..Default::default()
            };
            let mut total = cluster.count(a_png.clone(), spec.clone()).await.unwrap().histograms;
            total.merge(&cluster.count(b_png.clone(), spec.clone()).await.unwrap().histograms);
            assert_eq!(core.held_bytes(), 0, "a count leaves nothing on the workers");

            let plan = Plan::new(
                histo_core::Shape { width: 512, height: 2600, layout: Layout::Gray, depth: histo_core::Depth::U8 },
                spec.options,
            )
            .unwrap();
            let strips = local::plan_strips(&plan, Some(3));
            let want_total = {
                let mut t = local::count(&plan, &a, &strips).unwrap();
                t.merge(&local::count(&plan, &b, &strips).unwrap());
                t
            };
            assert_eq!(total, want_total, "{method:?}: the counts are the local engine's");
            let luts = plan.reduce(&total);
            let shared = JobSpec { shared: Some(Arc::new(total)), ..spec };
            for (samples, input) in [(&a, &a_png), (&b, &b_png)] {
                let out = cluster.run(input.clone(), shared.clone()).await.unwrap();
                let (got, _) = histo_codec::decode(&out.bytes, &Limits::CLI).unwrap();
                let mut want = samples.clone();
                for s in &strips {
                    let range = s.sample_range(plan.row_len());
                    plan.apply(*s, <u8 as histo_core::sample::Sample>::wrap_mut(&mut want[range]), &luts).unwrap();
                }
                assert_eq!(got.pixels(), &Pixels::U8(want), "{method:?}");
            }
        }
    }
}
