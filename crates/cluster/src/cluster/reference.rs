//! The reference of a matching job: histograms given by the caller, or an
//! image counted by one more map phase on the workers, so that the master
//! never holds the reference's pixels any more than the input's.

use std::sync::Arc;

use histo_codec::Input;
use histo_core::options::{Method, OptionError, Options};
use histo_core::plan::{Histograms, Plan};

use super::{Inner, JobSpec, job};
use crate::error::RunError;
use crate::record::JobId;

/// What a matching job's histograms are made to follow.
#[derive(Clone, Debug)]
pub enum Reference {
    /// An image, counted plane by plane as the job counts its input.
    Image(Input),
    /// Counts per plane, as [`histo_core::matching::check`] takes them.
    Counts(Arc<Histograms>),
}

impl Inner {
    /// The reference's histograms, for a job in `spec`'s mode.
    pub(super) async fn reference_counts(
        &self,
        id: &JobId,
        reference: &Reference,
        spec: &JobSpec,
    ) -> Result<Histograms, RunError> {
        let input = match reference {
            Reference::Counts(counts) => return Ok(counts.as_ref().clone()),
            Reference::Image(input) => input.clone(),
        };
        let (opened, shape, _) = job::open(input, spec.limits).await?;
        let options = Options { mode: spec.options.mode, method: Method::Global };
        let plan = Plan::new(shape, options).map_err(|e| OptionError::Reference(Box::new(e)))?;
        self.count_opened(id, (opened, &plan, options), None, spec, |_, _, _, _| {}).await
    }
}

#[cfg(test)]
mod tests {
    use histo_codec::{EncodeSettings, Format, Limits};
    use histo_core::{Image, Layout, Pixels, local};

    use super::*;
    use crate::cluster::{Admission, Cluster};
    use crate::coordinator::embedded::Embedded;
    use crate::events::EventBus;
    use crate::worker::WorkerCore;

    fn gray(width: u32, height: u32, level: impl Fn(u32) -> u32) -> Image {
        let samples = (0..width * height).map(|i| level(i) as u8).collect();
        Image::new(width, height, Layout::Gray, Pixels::U8(samples)).unwrap()
    }

    fn png_of(image: &Image) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        histo_codec::encode(image, Format::Png, &EncodeSettings::default(), &mut out).unwrap();
        out.into_inner()
    }

    #[tokio::test]
    async fn the_reference_is_counted_on_the_workers_and_released() {
        let core = Arc::new(WorkerCore::new("w", 2, 1 << 30));
        let coordinator = Arc::new(Embedded::with_cores("master-test", vec![core.clone()]));
        let cluster = Cluster::with("master-test".into(), coordinator, None, Admission::default(), EventBus::new());
        // Tall enough for several strips each.
        let source = gray(512, 3000, |i| 60 + (i * 7 + i / 512 * 3) % 80);
        let reference = gray(400, 2600, |i| (i / 400 * 255 / 2600).pow(2) / 255);
        let spec = JobSpec {
            limits: Limits::CLI,
            reference: Some(Reference::Image(Input::from(png_of(&reference)))),
            ..Default::default()
        };
        let out = cluster.run(png_of(&source), spec).await.unwrap();

        let (got, _) = histo_codec::decode(&out.bytes, &Limits::CLI).unwrap();
        let plan = Plan::new(source.shape(), Options::default()).unwrap();
        let ref_plan = Plan::new(reference.shape(), Options::default()).unwrap();
        let (Pixels::U8(src), Pixels::U8(refs)) = (source.pixels(), reference.pixels()) else { unreachable!() };
        let counts = local::count(&ref_plan, refs, &local::plan_strips(&ref_plan, Some(3))).unwrap();
        let mut want = vec![0; src.len()];
        local::match_into(&plan, src, &mut want, &local::plan_strips(&plan, Some(2)), &counts).unwrap();
        assert_eq!(got.pixels(), &Pixels::U8(want));
        assert_eq!(core.held_bytes(), 0, "the reference's strips and the input's are released");
    }
}
