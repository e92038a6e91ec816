use std::path::PathBuf;

/// Why a suite file cannot be used. Each names the file (and the case, where there is
/// one); [`SuiteError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read the suite `{}`", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a policy test suite: {message}", file.display())]
    Format { file: PathBuf, message: String },

    #[error("`{}`: case `{case}`: {message}", file.display())]
    Case {
        file: PathBuf,
        case: String,
        message: String,
    },

    #[error("`{}`: cannot read the Rego file `{}`", file.display(), rego.display())]
    RegoFile {
        file: PathBuf,
        rego: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SuiteError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SuiteError::Read { .. } => None,
            SuiteError::Format { .. } => {
                Some("the format is described in `policies/README.md` (Suite format)".into())
            }
            SuiteError::Case { .. } => None,
            SuiteError::RegoFile { .. } => {
                Some("`regoFile` is a path relative to the suite file".into())
            }
        }
    }
}
