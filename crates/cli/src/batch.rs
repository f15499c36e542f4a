//! Running a batch: `jobs` images at a time, a progress bar on a terminal
//! (a line per image otherwise), and a summary at the end. A failed image
//! leaves no output behind (each is written under a temporary name); by
//! default no new image starts after one fails, with `--keep-going` the
//! others go on. The batch fails with the first failure's error, so its
//! exit code is that error's.

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::targets::Target;

/// How an image of the batch ended.
enum Outcome {
    Done,
    Failed(anyhow::Error),
    /// Not started: an earlier image failed.
    NotStarted,
}

/// Equalizes every target with `equalize`, `jobs` at a time.
pub async fn run<F, Fut>(targets: Vec<Target>, jobs: usize, keep_going: bool, equalize: F) -> Result<()>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let started = Instant::now();
    let total = targets.len();
    let progress = Progress::new(total);
    // One task polls every image, so a Cell is enough to stop new starts.
    let stopped = Cell::new(false);
    let mut outcomes = stream::iter(targets)
        .map(|target| {
            let (equalize, stopped) = (&equalize, &stopped);
            async move {
                let input = target.input.clone();
                if stopped.get() {
                    return (input, Outcome::NotStarted);
                }
                match equalize(target).await {
                    Ok(()) => (input, Outcome::Done),
                    Err(e) => (input, Outcome::Failed(e)),
                }
            }
        })
        .buffer_unordered(jobs.max(1));
    let (mut done, mut not_started, mut failures) = (0, 0, Vec::new());
    while let Some((input, outcome)) = outcomes.next().await {
        match outcome {
            Outcome::Done => {
                done += 1;
                progress.finished(&input, None);
            }
            Outcome::Failed(e) => {
                progress.finished(&input, Some(&e));
                stopped.set(!keep_going);
                failures.push(e);
            }
            Outcome::NotStarted => not_started += 1,
        }
    }
    progress.clear();
    eprintln!("{}", summary(done, failures.len(), not_started, total, started.elapsed()));
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => {
            Err(first.context(format!("{} of {total} images failed, the first", total - done - not_started)))
        }
    }
}

/// The line printed at the end.
fn summary(done: usize, failed: usize, not_started: usize, total: usize, elapsed: Duration) -> String {
    let mut line = format!("histo: equalized {done} of {total} images in {:.1} s", elapsed.as_secs_f64());
    if failed > 0 {
        line.push_str(&format!("; {failed} failed"));
    }
    if not_started > 0 {
        line.push_str(&format!("; {not_started} not started after the failure (--keep-going goes on)"));
    }
    line
}

/// What the user sees while the batch runs.
enum Progress {
    Bar(ProgressBar),
    Lines { total: usize, seen: Cell<usize> },
}

impl Progress {
    fn new(total: usize) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { total, seen: Cell::new(0) };
        }
        let bar = ProgressBar::new(total as u64);
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} images, {elapsed} (eta {eta}) {wide_msg}")
            .expect("a valid template");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress::Bar(bar)
    }

    fn finished(&self, input: &Path, error: Option<&anyhow::Error>) {
        match self {
            Progress::Bar(bar) => {
                if let Some(e) = error {
                    bar.println(format!("histo: failed: {e:#}"));
                }
                bar.set_message(input.display().to_string());
                bar.inc(1);
            }
            Progress::Lines { total, seen } => {
                seen.set(seen.get() + 1);
                let n = seen.get();
                match error {
                    None => eprintln!("histo: [{n}/{total}] {}", input.display()),
                    Some(e) => eprintln!("histo: [{n}/{total}] failed: {e:#}"),
                }
            }
        }
    }

    fn clear(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_failed_and_what_never_started() {
        let s = summary(7, 1, 2, 10, Duration::from_millis(3300));
        assert_eq!(
            s,
            "histo: equalized 7 of 10 images in 3.3 s; 1 failed; 2 not started after the failure (--keep-going goes on)"
        );
        assert_eq!(summary(3, 0, 0, 3, Duration::ZERO), "histo: equalized 3 of 3 images in 0.0 s");
    }
}
