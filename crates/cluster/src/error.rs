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
    /// The job failed on the way (500): what failed, and the error that
    /// made it fail, when there is one.
    #[error("job failed: {what}")]
    Failed {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// An error kept as the source of another.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl From<PhaseError> for RunError {
    fn from(e: PhaseError) -> Self {
        match e {
            PhaseError::NoWorkers(_) => RunError::NoWorkers,
            PhaseError::Failed(what) => RunError::Failed { what, source: None },
        }
    }
}

/// A failure that no other error caused.
pub(crate) fn failed(what: impl Into<String>) -> RunError {
    RunError::Failed { what: what.into(), source: None }
}

/// A failure `source` caused.
pub(crate) fn failed_by(what: impl Into<String>, source: impl Into<BoxError>) -> RunError {
    RunError::Failed { what: what.into(), source: Some(source.into()) }
}
