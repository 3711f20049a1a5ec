//! Service names (docs/commands.md, "Commands"): `^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`.
//!
//! A `ServiceName` is the only thing svc joins to a directory to find a definition, a PID file
//! or a log, so a name that could escape a directory (`..`, `/`, a leading dot) never becomes one.

use std::fmt;

/// A validated service name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName(String);

/// Why a string is not a service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    pub given: String,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid service name {:?}: expected 1 to 64 characters from A-Z a-z 0-9 _ . @ -, \
             starting with a letter or digit",
            self.given
        )
    }
}

impl std::error::Error for BadName {}

impl ServiceName {
    pub fn new(s: &str) -> Result<Self, BadName> {
        if is_valid(s) {
            Ok(ServiceName(s.to_owned()))
        } else {
            Err(BadName {
                given: s.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name rule, usable on anything before it is turned into a path.
pub fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'@' | b'-'))
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for ServiceName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for ServiceName {
    type Err = BadName;
    fn from_str(s: &str) -> Result<Self, BadName> {
        ServiceName::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["httpd", "a", "getty@tty1", "x.y-z_1", &"a".repeat(64)] {
            assert!(is_valid(n), "{n}");
        }
    }

    #[test]
    fn rejects_hostile_names() {
        let long = "a".repeat(65);
        for n in [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "/",
            "a/b",
            "-x",
            ".hidden",
            "x\0y",
            "a\nb",
            "Ｘ",
            "a b",
            &long,
        ] {
            assert!(!is_valid(n), "{n:?}");
        }
    }
}
