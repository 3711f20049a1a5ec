//! What goes wrong with a definition: one [`Problem`] at a place of a file, and why a
//! definition could not be loaded ([`DefinitionError`], with its LSB exit code).

use std::fmt;
use std::path::PathBuf;

use crate::exit::{Code, HasCode};
use crate::name::ServiceName;

/// One problem found in a definition file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a definition could not be loaded.
#[derive(Debug)]
pub enum DefinitionError {
    /// No `init.d/NAME.yaml`.
    NotFound { name: ServiceName, path: PathBuf },
    /// The file is there but could not be read or may not be trusted.
    Unreadable { path: PathBuf, why: String },
    /// The file was read and is wrong; every problem found.
    Invalid(Vec<Problem>),
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefinitionError::NotFound { name, path } => {
                write!(
                    f,
                    "no such service {name}: {} does not exist",
                    path.display()
                )
            }
            DefinitionError::Unreadable { path, why } => {
                write!(f, "cannot read {}: {why}", path.display())
            }
            DefinitionError::Invalid(problems) => {
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DefinitionError {}

impl HasCode for DefinitionError {
    fn code(&self) -> Code {
        match self {
            DefinitionError::NotFound { .. } => Code::NotInstalled,
            DefinitionError::Unreadable { .. } | DefinitionError::Invalid(_) => Code::NotConfigured,
        }
    }
}
