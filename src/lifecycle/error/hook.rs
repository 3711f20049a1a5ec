//! How a hook command (SPEC §8.2: `pre_start`, `post_stop`, `config_test`) failed: the facts,
//! and the words `svc` prints for them. Part of [`super::LifecycleError`].

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::LifecycleError;

/// Which hook a command belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    PreStart,
    PostStop,
    ConfigTest,
}

impl HookKind {
    /// The definition key.
    pub fn key(self) -> &'static str {
        match self {
            HookKind::PreStart => "pre_start",
            HookKind::PostStop => "post_stop",
            HookKind::ConfigTest => "config_test",
        }
    }
}

/// How a hook command ended when it did not exit 0.
#[derive(Debug)]
pub enum HookEnd {
    /// It exited with this non-zero status.
    Exited(i32),
    /// A signal (number) ended it.
    Signalled(i32),
    /// It ran past `ready_timeout`; its process group was killed.
    TimedOut(Duration),
    /// It could not be run at all (program not found, untrusted, fork or exec failed).
    NotRun(Box<LifecycleError>),
}

/// One failed hook command, with the last lines of what it printed.
#[derive(Debug)]
pub struct HookFailure {
    pub hook: HookKind,
    pub command: Vec<String>,
    pub ended: HookEnd,
    /// Its last non-blank output lines, control characters made `?`.
    pub output: Vec<String>,
}

impl fmt::Display for HookEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookEnd::Exited(c) => write!(f, "exited with status {c}"),
            HookEnd::Signalled(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "was killed by signal {}", sig.as_str()),
                Err(_) => write!(f, "was killed by signal {s}"),
            },
            HookEnd::TimedOut(t) => write!(
                f,
                "did not finish within {}s (ready_timeout); its process group was killed",
                t.as_secs_f64()
            ),
            HookEnd::NotRun(e) => write!(f, "could not be run: {e}"),
        }
    }
}

impl fmt::Display for HookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command: Vec<String> = self.command.iter().map(|a| quoted(a)).collect();
        write!(
            f,
            "{} command `{}` {}",
            self.hook.key(),
            command.join(" "),
            self.ended
        )?;
        if !self.output.is_empty() {
            write!(f, "; its output:")?;
            for l in &self.output {
                write!(f, "\n    {l}")?;
            }
        }
        Ok(())
    }
}

/// An argument as a shell would need it written: as it is when plain, else in single quotes.
fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Several failures, one per line after the first.
pub(super) struct Failures<'a>(pub(super) &'a [HookFailure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "\n  ")?;
            }
            write!(f, "{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_command_as_a_shell_would_read_it() {
        let f = HookFailure {
            hook: HookKind::PreStart,
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo 'x'; exit 2".into(),
                "".into(),
            ],
            ended: HookEnd::Exited(2),
            output: vec!["x".into()],
        };
        assert_eq!(
            f.to_string(),
            "pre_start command `/bin/sh -c 'echo '\\''x'\\''; exit 2' ''` exited with status 2; its output:\n    x"
        );
        let t = HookEnd::TimedOut(Duration::from_millis(1500)).to_string();
        assert_eq!(
            t,
            "did not finish within 1.5s (ready_timeout); its process group was killed"
        );
        assert_eq!(
            HookEnd::Signalled(9).to_string(),
            "was killed by signal SIGKILL"
        );
    }
}
