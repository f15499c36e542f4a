//! Running a phase of a batch: `jobs` images at a time, a progress bar on
//! a terminal (a line per image otherwise), and a summary at the end. By
//! default no new image starts after one fails; with `--keep-going` the
//! others go on. A batch is one phase (equalize each), or two with a
//! shared table (count each, then equalize each with the summed counts).

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::targets::Target;

/// What a phase of the batch did.
pub struct Report<T> {
    /// The images it did, in the order given, with what each gave.
    pub done: Vec<(Target, T)>,
    /// Why the others failed, in the order they did.
    pub failures: Vec<anyhow::Error>,
}

impl<T> Report<T> {
    /// Whether no new image should start.
    pub fn stopped(&self, keep_going: bool) -> bool {
        !keep_going && !self.failures.is_empty()
    }
}

/// The batch's answer: fails with the first failure of any phase, so that
/// its exit code is that error's.
pub fn outcome(failures: Vec<anyhow::Error>, total: usize) -> Result<()> {
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first.context(format!("{failed} of {total} images failed, the first"))),
    }
}

/// Runs `work` on every target, `jobs` at a time; `verb` says what it did
/// ("equalized") in the progress and the summary.
pub async fn run<T, F, Fut>(verb: &str, targets: Vec<Target>, jobs: usize, keep_going: bool, work: F) -> Report<T>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let total = targets.len();
    let progress = Progress::new(total, verb);
    // One task polls every image, so a Cell is enough to stop new starts.
    let stopped = Cell::new(false);
    let mut outcomes = stream::iter(targets.into_iter().enumerate())
        .map(|(index, target)| {
            let (work, stopped) = (&work, &stopped);
            async move {
                if stopped.get() {
                    return (index, target, None);
                }
                let result = work(target.clone()).await;
                (index, target, Some(result))
            }
        })
        .buffer_unordered(jobs.max(1));
    let mut done = Vec::new();
    let mut report = Report { done: Vec::new(), failures: Vec::new() };
    let mut not_started = 0;
    while let Some((index, target, outcome)) = outcomes.next().await {
        match outcome {
            Some(Ok(value)) => {
                progress.finished(&target.input, None);
                done.push((index, target, value));
            }
            Some(Err(e)) => {
                progress.finished(&target.input, Some(&e));
                stopped.set(!keep_going);
                report.failures.push(e);
            }
            None => not_started += 1,
        }
    }
    progress.clear();
    // In the order given, whatever the order they ended in.
    done.sort_unstable_by_key(|(index, ..)| *index);
    report.done = done.into_iter().map(|(_, target, value)| (target, value)).collect();
    let (done, failed) = (report.done.len(), report.failures.len());
    eprintln!("{}", summary(verb, [done, failed, not_started, total], started.elapsed()));
    report
}

/// The line printed at the end.
fn summary(verb: &str, [done, failed, not_started, total]: [usize; 4], elapsed: Duration) -> String {
    let mut line = format!("histo: {verb} {done} of {total} images in {:.1} s", elapsed.as_secs_f64());
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
    Lines { total: usize, seen: Cell<usize>, verb: String },
}

impl Progress {
    fn new(total: usize, verb: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { total, seen: Cell::new(0), verb: verb.to_owned() };
        }
        let bar = ProgressBar::new(total as u64);
        let template = format!("{{bar:40}} {{pos}}/{{len}} images {verb}, {{elapsed}} (eta {{eta}}) {{wide_msg}}");
        let style = ProgressStyle::with_template(&template).expect("a valid template");
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
            Progress::Lines { total, seen, verb } => {
                seen.set(seen.get() + 1);
                let n = seen.get();
                match error {
                    None => eprintln!("histo: [{n}/{total}] {verb} {}", input.display()),
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
        let s = summary("equalized", [7, 1, 2, 10], Duration::from_millis(3300));
        assert_eq!(
            s,
            "histo: equalized 7 of 10 images in 3.3 s; 1 failed; 2 not started after the failure (--keep-going goes on)"
        );
        assert_eq!(summary("counted", [3, 0, 0, 3], Duration::ZERO), "histo: counted 3 of 3 images in 0.0 s");
    }
}
