//! A masked job's mask on the master: opened beside the input, checked
//! against its size, and cut into the same strips, so that each map task
//! (and each inside-only apply task that resends its strip) carries the
//! mask over its rows. A PNG mask streams as a PNG input does; the workers
//! keep a strip's mask with the strip.

use std::sync::Arc;

use bytes::Bytes;
use histo_codec::{DecodeError, Input, Limits};
use histo_core::options::{MaskApply, Method, Mode, OptionError, Options};
use histo_core::plan::{Histograms, Plan, inside_flags};
use histo_core::strips::Strip;
use histo_core::{Layout, Pixels};

use super::job;
use crate::error::RunError;
use crate::feed::Feed;
use crate::task::{StripData, StripMask, TaskError};

/// A mask image (nonzero inside) and where the job's tables go.
#[derive(Clone, Debug)]
pub struct Mask {
    /// The mask image, of the input's size, in any format.
    pub input: Input,
    /// Whether the tables go to every pixel or only to those inside.
    pub apply: MaskApply,
}

/// The mask's strips, on demand.
pub(super) struct MaskFeed {
    feed: Arc<Feed>,
    layout: Layout,
}

impl MaskFeed {
    /// The feed of a job's mask, if it has one.
    pub(super) async fn for_job(
        mask: Option<&Mask>,
        limits: Limits,
        plan: &Plan,
        strips: &[Strip],
    ) -> Result<Option<Arc<Self>>, RunError> {
        match mask {
            Some(m) => Ok(Some(Arc::new(Self::open(m, limits, plan, strips).await?))),
            None => Ok(None),
        }
    }

    /// Opens `mask` for a job on `plan` cut into `strips`.
    pub(super) async fn open(mask: &Mask, limits: Limits, plan: &Plan, strips: &[Strip]) -> Result<Self, RunError> {
        let (opened, shape, _) = job::open(mask.input.clone(), limits).await?;
        let (width, height) = (plan.width(), plan.height());
        if (shape.width, shape.height) != (width, height) {
            let (mask_width, mask_height) = (shape.width, shape.height);
            return Err(OptionError::MaskSize { mask_width, mask_height, width, height }.into());
        }
        // Samples as decoded: which are inside is decided per pixel below.
        let mode = if shape.layout.is_color() { Mode::Rgb } else { Mode::Gray };
        let mask_plan = Plan::new(shape, Options { mode, method: Method::Global })?;
        let feed = job::feed(&mask_plan, strips, opened).await?;
        Ok(MaskFeed { feed, layout: shape.layout })
    }

    /// `data` with the mask over its rows, for a map attempt or a resend.
    pub(super) async fn attach(&self, data: StripData, index: usize, resend: bool) -> Result<StripData, TaskError> {
        let part = if resend { self.feed.for_resend(index).await? } else { self.feed.for_map(index).await? };
        let flags = |p: &Pixels| Bytes::from(inside_flags(self.layout, p.slice(0..p.len())));
        let mask = StripMask { inside: flags(&part.samples), above: part.above.as_deref().map(flags) };
        Ok(StripData { mask: Some(mask), ..data })
    }

    /// Strip `index` was mapped: the feed lets its mask go.
    pub(super) fn mapped(&self, index: usize) {
        self.feed.mapped(index);
    }

    /// The first error decoding the mask, if any.
    pub(super) fn take_error(&self) -> Option<DecodeError> {
        self.feed.take_error()
    }
}

/// Why a phase over `feed` (and `mask`) failed when decoding did: a broken
/// input or mask shows as a failed task, but it is the answer.
pub(super) fn decode_failure(feed: &Feed, mask: Option<&Arc<MaskFeed>>) -> Option<DecodeError> {
    feed.take_error().or_else(|| mask.and_then(|m| m.take_error()))
}

/// Refuses counts that a mask left empty: no pixel was inside.
pub(super) fn check_counted(mask: Option<&Arc<MaskFeed>>, total: &Histograms) -> Result<(), OptionError> {
    if mask.is_some() && total.bins.iter().all(|&c| c == 0) {
        return Err(OptionError::EmptyMask);
    }
    Ok(())
}
