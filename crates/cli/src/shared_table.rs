//! The counts of a batch's shared table: every image's counts summed,
//! when they count the same bins. The global method needs images of one
//! depth whose mode gives the same planes; CLAHE also needs one size, so
//! that tile (i, j) covers the same part of each image and its clip limit
//! applies to the summed counts of that tile.

use histo_cluster::Counted;
use histo_core::options::{Method, OptionError, Options};
use histo_core::plan::Histograms;

use crate::targets::Target;

/// The sum of every image's counts, or why they cannot be summed.
pub fn sum(counted: &[(Target, Counted)], options: &Options) -> Result<Histograms, OptionError> {
    let Some(((first_target, first), rest)) = counted.split_first() else {
        return Err(OptionError::SharedTable("no image was counted".into()));
    };
    let mut total = first.histograms.clone();
    for (target, image) in rest {
        let (a, b) = (&first.shape, &image.shape);
        let differs = |what: &str, x: String, y: String| {
            OptionError::SharedTable(format!(
                "{} and {} cannot share a table: {what} {x} and {y}",
                first_target.input.display(),
                target.input.display()
            ))
        };
        if a.depth != b.depth {
            return Err(differs(
                "they are",
                format!("{}-bit", 8 * a.depth.bytes()),
                format!("{}-bit", 8 * b.depth.bytes()),
            ));
        }
        if matches!(options.method, Method::Clahe(_)) && (a.width, a.height) != (b.width, b.height) {
            let size = |s: &histo_core::Shape| format!("{}x{}", s.width, s.height);
            return Err(differs("CLAHE shares tiles between images of one size, not", size(a), size(b)));
        }
        if image.histograms.bins.len() != total.bins.len() {
            return Err(differs("their modes give other planes:", a.layout.to_string(), b.layout.to_string()));
        }
        total.merge(&image.histograms);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use histo_core::{Depth, Layout, Shape};

    use super::*;

    fn image(name: &str, width: u32, depth: Depth, bins: Vec<u64>) -> (Target, Counted) {
        let target = Target { input: PathBuf::from(name), output: PathBuf::from("o"), format: None };
        let shape = Shape { width, height: 10, layout: Layout::Gray, depth };
        (target, Counted { shape, histograms: Histograms { bins } })
    }

    #[test]
    fn counts_add_up_when_the_bins_are_the_same() {
        let batch = [image("a", 10, Depth::U8, vec![1, 2, 3]), image("b", 20, Depth::U8, vec![4, 0, 1])];
        assert_eq!(sum(&batch, &Options::default()).unwrap().bins, vec![5, 2, 4]);
    }

    #[test]
    fn other_depths_and_other_sizes_under_clahe_are_refused() {
        let depths = [image("a", 10, Depth::U8, vec![1; 3]), image("b", 10, Depth::U16, vec![1; 3])];
        let e = sum(&depths, &Options::default()).unwrap_err().to_string();
        assert!(e.contains("8-bit and 16-bit"), "{e}");
        let sizes = [image("a", 10, Depth::U8, vec![1; 3]), image("b", 20, Depth::U8, vec![1; 3])];
        let clahe = Options { method: Method::with_settings(Some("clahe"), None, None).unwrap(), ..Options::default() };
        let e = sum(&sizes, &clahe).unwrap_err().to_string();
        assert!(e.contains("10x10 and 20x10"), "{e}");
    }
}
