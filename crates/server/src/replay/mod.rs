//! The deployment replay: the Terraform → Tinkerbell/iPXE → Ansible →
//! Kubernetes → ArgoCD pipeline, derived from the files in `deploy/` and
//! `k8s/` by `cargo xtask replay` (crates/xtask, with real HCL and YAML
//! parsers) into [`lines`], and paced for a person to read.

use std::time::Duration;

/// One line of the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    /// `terraform`, `tinkerbell`, `ansible`, `kubernetes` or `argocd`.
    pub phase: &'static str,
    /// What happens, as the tool would say it.
    pub message: &'static str,
    /// The file (relative to the repository root) it comes from.
    pub source: &'static str,
}

#[rustfmt::skip]
mod lines;

pub use lines::LINES;

/// The phases, in pipeline order.
pub const PHASES: [&str; 5] = ["terraform", "tinkerbell", "ansible", "kubernetes", "argocd"];

/// The whole replay takes about this long, however many lines it has.
const TOTAL: Duration = Duration::from_millis(3500);

/// Time between two lines: readable (at most 110 ms), and the whole replay
/// done in [`TOTAL`] (at least 25 ms, for a very long replay).
pub fn interval() -> Duration {
    let n = LINES.len().max(1) as u32;
    (TOTAL / n).clamp(Duration::from_millis(25), Duration::from_millis(110))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_phase_in_order() {
        let mut last = 0;
        for line in LINES {
            let at = PHASES.iter().position(|p| *p == line.phase).expect("known phase");
            assert!(at >= last, "{line:?} out of order");
            last = at;
        }
        for phase in PHASES {
            assert!(LINES.iter().any(|l| l.phase == phase), "no {phase} line");
        }
    }

    #[test]
    fn every_source_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for line in LINES {
            assert!(root.join(line.source).is_file(), "{} does not exist", line.source);
        }
    }

    #[test]
    fn finishes_within_a_few_seconds() {
        assert!(interval() * LINES.len() as u32 <= Duration::from_secs(4));
        assert!(interval() >= Duration::from_millis(25));
    }
}
