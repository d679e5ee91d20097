//! Failure classes and the exit codes a caller can branch on.
//!
//! | code | class        | meaning                                              |
//! |------|--------------|------------------------------------------------------|
//! | 0    |              | success                                              |
//! | 2    | usage        | bad flags or environment (a variable missing or malformed, e.g. PUBLISH_ARTIFACT_KEY); nothing was read or sent |
//! | 3    | input        | the input file (or key file) is missing or unreadable, or the key file holds no key |
//! | 4    | storage      | S3 failed; nothing is left behind in the bucket      |
//! | 5    | registration | the admin API refused or failed; object removed (kept if no answer came: the row may exist) |
//! | 6    | integrity    | an object failed its SHA-256, decryption or gunzip   |
//! | 7    | output       | the output could not be written                      |
//! | 8    | exists       | that version is already published (see `--replace`)  |
//! | 9    | attestation  | provenance, signature, pin or image binding refused  |
//! | 70   | internal     | a bug or an exhausted limit in the sealing component |
//! | 128+N| interrupted  | stopped by signal N (SIGINT 130, SIGTERM 143, ...)   |
//!
//! The last one is not a class a command picks: `main` reports any failure
//! that follows a signal as the signal's code (see `interrupt`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Usage,
    Input,
    Storage,
    Registration,
    Integrity,
    Output,
    Exists,
    Attestation,
    Internal,
}

impl Class {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Usage => 2,
            Self::Input => 3,
            Self::Storage => 4,
            Self::Registration => 5,
            Self::Integrity => 6,
            Self::Output => 7,
            Self::Exists => 8,
            Self::Attestation => 9,
            Self::Internal => 70,
        }
    }
}

/// An error with the class that decides the exit code.
pub struct Failure {
    pub class: Class,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(class: Class, error: impl Into<anyhow::Error>) -> Self {
        Self {
            class,
            error: error.into(),
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.class, self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// A usage failure (exit 2) from a sentence.
pub fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Class::Usage, anyhow::anyhow!(message.into()))
}

/// Attaches a class to any error: `result.class(Class::Input)?`.
pub trait ClassExt<T> {
    fn class(self, class: Class) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ClassExt<T> for Result<T, E> {
    fn class(self, class: Class) -> Result<T, Failure> {
        self.map_err(|err| Failure::new(class, err))
    }
}

/// The class of a pipeline failure: `refusal` for a guest that refused the
/// data (a bad object when opening), `sink` for where the output went.
pub fn pipeline_class(
    err: &crate::sealing::pipeline::PipelineError,
    refusal: Class,
    sink: Class,
) -> Class {
    use crate::sealing::guest::GuestError;
    use crate::sealing::pipeline::PipelineError as P;
    match err {
        P::Input(_) => Class::Input,
        P::Guest(GuestError::Refused(_)) => refusal,
        P::Guest(GuestError::Trapped(_)) | P::Runtime(_) => Class::Internal,
        P::Sink(_) => sink,
    }
}
