//! Why a job did not produce an image: [`RunError`], one kind per HTTP
//! status the server answers with.

use histo_codec::DecodeError;
use histo_core::options::OptionError;

use crate::scheduler::PhaseError;

/// Why a job did not produce an image. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input was refused or could not be decoded (413/415/422).
    #[error(transparent)]
    Input(#[from] DecodeError),
    /// The options do not make sense (422).
    #[error(transparent)]
    Options(#[from] OptionError),
    /// No worker is registered (503).
    #[error("no workers are available")]
    NoWorkers,
    /// Too many jobs running and waiting (503 with Retry-After).
    #[error("overloaded: {running} jobs running and {waiting} waiting")]
    Overloaded {
        /// Jobs running.
        running: usize,
        /// Jobs waiting.
        waiting: usize,
    },
    /// The job failed on the way (500).
    #[error("job failed: {0}")]
    Failed(String),
}

impl From<PhaseError> for RunError {
    fn from(e: PhaseError) -> Self {
        match e {
            PhaseError::NoWorkers(_) => RunError::NoWorkers,
            PhaseError::Failed(m) => RunError::Failed(m),
        }
    }
}

pub(crate) fn failed(e: impl std::fmt::Display) -> RunError {
    RunError::Failed(e.to_string())
}
