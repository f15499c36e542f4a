//! `--match REF` and `--match-histogram FILE`: the reference a matching job
//! follows, an image (counted on the workers) or counts read from a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use histo_cluster::{Reference, RunError};
use histo_codec::{Input, Limits};
use histo_core::options::OptionError;
use histo_core::plan::Histograms;

use crate::io_paths::check_input;

/// Largest histogram file read: three planes of 65536 counts in CSV fit
/// well within it.
const MAX_HISTOGRAM_FILE: u64 = 16 << 20;

#[derive(clap::Args, Debug)]
pub struct MatchArgs {
    /// Match the histograms of this reference image instead of equalizing
    /// (histogram specification): each plane of the mode follows the same
    /// plane of the reference. Global method only.
    #[arg(long = "match", env = "HISTO_MATCH", value_name = "REF", conflicts_with = "match_histogram")]
    image: Option<PathBuf>,

    /// Match these counts instead of an image's: JSON (an array of counts,
    /// one per level, or one such array per plane) or CSV (one line per
    /// level, one column per plane); 256 or 65536 levels.
    #[arg(long, env = "HISTO_MATCH_HISTOGRAM", value_name = "FILE")]
    match_histogram: Option<PathBuf>,
}

impl MatchArgs {
    /// The reference, if matching was asked for.
    pub fn reference(&self, limits: &Limits) -> Result<Option<Reference>> {
        if let Some(path) = &self.image {
            let name = path.display();
            check_input(path, limits).with_context(|| format!("cannot read reference {name}"))?;
            let input = Input::file(path).with_context(|| format!("cannot read reference {name}"))?;
            return Ok(Some(Reference::Image(input)));
        }
        let Some(path) = &self.match_histogram else { return Ok(None) };
        let counts = read_counts(path)?;
        Ok(Some(Reference::Counts(Arc::new(counts))))
    }
}

/// Reads a histogram file; a file that is not one is an option error.
fn read_counts(path: &Path) -> Result<Histograms> {
    let name = path.display();
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {name}"))?.len();
    if size > MAX_HISTOGRAM_FILE {
        let e = format!("{name} is {size} bytes; a histogram file is at most {MAX_HISTOGRAM_FILE}");
        return Err(RunError::Options(OptionError::ReferenceCounts(e)).into());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) || text.trim_start().starts_with('[');
    let planes = if json { parse_json(&text) } else { parse_csv(&text) };
    let bins = planes.and_then(check_planes).map_err(|e| OptionError::ReferenceCounts(format!("{name}: {e}")));
    Ok(Histograms { bins: bins.map_err(RunError::Options)? })
}

fn parse_json(text: &str) -> Result<Vec<Vec<u64>>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let counts = |v: &serde_json::Value| -> Result<Vec<u64>, String> {
        let items = v.as_array().ok_or("expected an array of counts")?;
        items.iter().enumerate().map(|(level, c)| c.as_u64().ok_or_else(|| not_a_count(level, c))).collect()
    };
    match value.as_array() {
        Some(items) if items.first().is_some_and(|v| v.is_array()) => items.iter().map(counts).collect(),
        _ => Ok(vec![counts(&value)?]),
    }
}

fn parse_csv(text: &str) -> Result<Vec<Vec<u64>>, String> {
    let rows = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let mut planes: Vec<Vec<u64>> = Vec::new();
    for (level, row) in rows.enumerate() {
        let cells: Vec<&str> = row.split(',').map(str::trim).collect();
        if planes.is_empty() {
            planes = vec![Vec::new(); cells.len()];
        }
        if cells.len() != planes.len() {
            return Err(format!("line for level {level} has {} columns, the first had {}", cells.len(), planes.len()));
        }
        for (plane, cell) in planes.iter_mut().zip(cells) {
            plane.push(cell.parse().map_err(|_| not_a_count(level, cell))?);
        }
    }
    Ok(planes)
}

fn not_a_count(level: usize, value: impl std::fmt::Display) -> String {
    format!("the count for level {level} is {value}, not a whole number >= 0")
}

/// The planes, one after another, if each has 256 or 65536 levels.
fn check_planes(planes: Vec<Vec<u64>>) -> Result<Vec<u64>, String> {
    let levels = planes.first().map_or(0, Vec::len);
    if let Some(other) = planes.iter().find(|p| p.len() != levels) {
        return Err(format!("planes of {levels} and {} levels", other.len()));
    }
    if !matches!(levels, 256 | 65536) {
        return Err(format!("{levels} levels; expected 256 or 65536"));
    }
    Ok(planes.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_give_the_same_planes() {
        let one: Vec<u64> = (0..256).collect();
        let json = serde_json::to_string(&one).unwrap();
        assert_eq!(parse_json(&json).and_then(check_planes), Ok(one.clone()));
        let two = serde_json::to_string(&[&one, &one]).unwrap();
        let csv: String = one.iter().map(|c| format!("{c}, {c}\n")).collect();
        let want = [one.clone(), one].concat();
        assert_eq!(parse_json(&two).and_then(check_planes), Ok(want.clone()));
        assert_eq!(parse_csv(&format!("# counts\n{csv}\n")).and_then(check_planes), Ok(want));
    }

    #[test]
    fn what_is_not_a_histogram_is_refused() {
        let bad = |r: Result<Vec<Vec<u64>>, String>| r.and_then(check_planes).unwrap_err();
        assert!(bad(parse_json("[1, -2]")).contains("level 1 is -2"));
        assert!(bad(parse_json("[1.5]")).contains("level 0 is 1.5"));
        assert!(bad(parse_json("{\"a\": 1}")).contains("array"));
        assert!(bad(parse_csv("1\n2\nx\n")).contains("level 2 is x"));
        assert!(bad(parse_csv("1,2\n3\n")).contains("columns"));
        assert!(bad(parse_json(&serde_json::to_string(&vec![1u64; 65537]).unwrap())).contains("65537 levels"));
        assert!(bad(parse_json("[]")).contains("0 levels"));
    }
}
