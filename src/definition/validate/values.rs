//! Checks of single values: strings, paths, numbers, durations, signals, names, ids, the
//! umask, sizes and `log`.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::super::duration;
use super::super::model::{LogTarget, MAX_LOG_MAX_SIZE, MIN_LOG_MAX_SIZE};
use super::super::yaml::{Entry, Node, Spelling};
use super::sections::describe;
use super::Validator;
use crate::name::ServiceName;
use crate::users::{self, IdSpec};

impl Validator<'_> {
    pub(super) fn string(&mut self, path: &[&str], n: &Node) -> Option<String> {
        match n {
            Node::Str(s) => Some(s.clone()),
            other => {
                self.expected(path, "a string", other);
                None
            }
        }
    }

    pub(super) fn nonempty(&mut self, path: &[&str], n: &Node) -> Option<String> {
        let s = self.string(path, n)?;
        if s.is_empty() || s.contains('\0') {
            self.problem(
                path,
                format!(
                    "`{}`: expected a non-empty string without NUL bytes",
                    path.join(".")
                ),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn exec(&mut self, n: &Node) -> Option<String> {
        let s = self.nonempty(&["exec"], n)?;
        if !s.starts_with('/') && s.contains('/') {
            self.problem(
                &["exec"],
                format!("`exec`: {s:?} is a relative path; expected an absolute path or a bare program name looked up in PATH"),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn abs_path(&mut self, path: &[&str], n: &Node) -> Option<PathBuf> {
        let s = self.nonempty(path, n)?;
        if !s.starts_with('/') {
            self.problem(
                path,
                format!(
                    "`{}`: expected an absolute path, found {s:?}",
                    path.join(".")
                ),
            );
            return None;
        }
        Some(PathBuf::from(s))
    }

    pub(super) fn strings(&mut self, path: &[&str], n: &Node) -> Vec<String> {
        match n {
            Node::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Node::Str(s) if !s.contains('\0') => out.push(s.clone()),
                        Node::Int(i) => out.push(i.to_string()),
                        Node::Float(f) => out.push(f.to_string()),
                        other => self.expected(path, "a list of strings", other),
                    }
                }
                out
            }
            other => {
                self.expected(path, "a list of strings", other);
                Vec::new()
            }
        }
    }

    pub(super) fn boolean(&mut self, path: &[&str], n: &Node) -> Option<bool> {
        match n {
            Node::Bool(b) => Some(*b),
            other => {
                self.expected(path, "true or false", other);
                None
            }
        }
    }

    pub(super) fn int_in(&mut self, path: &[&str], n: &Node, lo: i128, hi: i128) -> Option<i128> {
        if matches!(n, Node::Int(_)) && path.len() == 1 {
            let decimal = self.raw_value(path[0]).is_none_or(|raw| {
                let digits = raw.strip_prefix('-').unwrap_or(raw);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
            if !decimal {
                self.problem(path, format!("`{}`: write the number in decimal", path[0]));
                return None;
            }
        }
        match n {
            Node::Int(i) if (lo..=hi).contains(i) => Some(*i),
            Node::Int(i) => {
                self.problem(
                    path,
                    format!(
                        "`{}`: {i} is out of range, expected {lo} to {hi}",
                        path.join(".")
                    ),
                );
                None
            }
            other => {
                self.expected(path, &format!("an integer from {lo} to {hi}"), other);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, path: &[&str], n: &Node) -> Option<Duration> {
        // A number must be spelled in decimal: YAML would also read 0x10 or 0o20 as 16.
        if matches!(n, Node::Int(_) | Node::Float(_)) && path.len() == 1 {
            let decimal = self.raw_value(path[0]).is_none_or(|raw| {
                !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            });
            if !decimal {
                self.problem(
                    path,
                    format!(
                        "`{}`: write seconds in decimal, or a duration such as \"500ms\", \"10s\", \"2m\"",
                        path[0]
                    ),
                );
                return None;
            }
        }
        let r = match n {
            Node::Int(i) => duration::from_secs(*i as f64),
            Node::Float(f) => duration::from_secs(*f),
            Node::Str(s) => duration::parse_str(s),
            other => Err(format!(
                "expected seconds or a duration such as \"500ms\", \"10s\", \"2m\", found {}",
                other.kind()
            )),
        };
        match r {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(path, format!("`{}`: {e}", path.join(".")));
                None
            }
        }
    }

    pub(super) fn env(&mut self, n: &Node) -> Vec<(String, String)> {
        let Some(m) = self.mapping("env", "a mapping of NAME: value", n) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for Entry {
            key: k, value: v, ..
        } in m
        {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                self.problem(
                    &["env", k],
                    format!(
                        "`env`: {k:?} is not a valid variable name (non-empty, without '=' or NUL)"
                    ),
                );
                continue;
            }
            let value = match v {
                Node::Str(s) => s.clone(),
                Node::Int(i) => i.to_string(),
                Node::Float(f) => f.to_string(),
                other => {
                    self.problem(
                        &["env", k],
                        format!(
                            "`env.{k}`: expected a string or number, found {} (quote it)",
                            other.kind()
                        ),
                    );
                    continue;
                }
            };
            if value.contains('\0') {
                self.problem(&["env", k], format!("`env.{k}`: value contains a NUL byte"));
                continue;
            }
            out.push((k.clone(), value));
        }
        out
    }

    pub(super) fn id(&mut self, path: &[&str], n: &Node, what: &str) -> Option<IdSpec> {
        let text = match n {
            Node::Str(s) => s.clone(),
            // YAML turns `0x0`, `0o0`, `-0` and `+0` into the integer 0: only a plain decimal
            // spelling is an id, anything else would silently mean root.
            Node::Int(i) => match self.raw_value(path[0]) {
                Some(raw) => raw.trim_matches(|c| c == '"' || c == '\'').to_string(),
                None => i.to_string(),
            },
            other => {
                self.expected(path, &format!("a {what} name or numeric id"), other);
                return None;
            }
        };
        match users::parse_spec(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(path, format!("`{what}`: {e}"));
                None
            }
        }
    }

    /// The value of top-level `key` as written, when it is a plain scalar (or an alias):
    /// for scalars whose spelling matters.
    pub(super) fn raw_value(&self, key: &str) -> Option<&str> {
        match &self.root.entry(key)?.spelling {
            Spelling::Plain(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value of top-level `key` is written quoted.
    pub(super) fn quoted(&self, key: &str) -> bool {
        self.root
            .entry(key)
            .is_none_or(|e| e.spelling == Spelling::Quoted)
    }

    pub(super) fn umask(&mut self, n: &Node) -> Option<u32> {
        if matches!(n, Node::Str(_)) && !self.quoted("umask") {
            self.problem(
                &["umask"],
                "`umask`: write it as a quoted octal string such as \"022\" (YAML reads an unquoted 022 differently across versions)",
            );
            return None;
        }
        match n {
            Node::Str(s)
                if (1..=4).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) =>
            {
                u32::from_str_radix(s, 8)
                    .ok()
                    .filter(|v| *v <= 0o777)
                    .or_else(|| {
                        self.problem(&["umask"], format!("`umask`: {s:?} is above \"777\""));
                        None
                    })
            }
            Node::Str(s) => {
                self.problem(&["umask"], format!("`umask`: {s:?} is not an octal mask; expected a quoted octal string such as \"022\""));
                None
            }
            other => {
                self.problem(
                    &["umask"],
                    format!("`umask`: expected a quoted octal string such as \"022\", found {} (YAML reads an unquoted 022 differently across versions)", other.kind()),
                );
                None
            }
        }
    }

    pub(super) fn signal(&mut self, path: &[&str], n: &Node) -> Option<Signal> {
        let Node::Str(s) = n else {
            self.expected(path, "a signal name such as TERM or HUP", n);
            return None;
        };
        let upper = s.to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        match full.parse::<Signal>() {
            Ok(sig) => Some(sig),
            Err(_) => {
                self.problem(path, format!("`{}`: unknown signal {s:?}; expected a name such as TERM, HUP, INT, QUIT, USR1", path.join(".")));
                None
            }
        }
    }

    pub(super) fn names(&mut self, path: &[&str], n: &Node, me: &ServiceName) -> Vec<ServiceName> {
        let mut out = Vec::new();
        for s in self.strings(path, n) {
            match ServiceName::new(&s) {
                Ok(name) if &name == me => self.problem(
                    path,
                    format!("`{}`: a service cannot depend on itself", path.join(".")),
                ),
                Ok(name) => out.push(name),
                Err(e) => self.problem(path, format!("`{}`: {e}", path.join("."))),
            }
        }
        out
    }

    pub(super) fn runlevels(&mut self, n: &Node) -> Vec<char> {
        let Node::Seq(items) = n else {
            self.expected(
                &["runlevels"],
                "a list of runlevels such as [2, 3, 4, 5]",
                n,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let c = match item {
                Node::Int(i) if (0..=6).contains(i) => char::from(b'0' + *i as u8),
                Node::Str(s) if s == "S" || s == "s" => 'S',
                Node::Str(s)
                    if s.len() == 1 && ('0'..='6').contains(&s.chars().next().unwrap_or('x')) =>
                {
                    s.chars().next().unwrap_or('0')
                }
                other => {
                    self.problem(
                        &["runlevels"],
                        format!(
                            "`runlevels`: expected runlevels 0 to 6 or \"S\", found {}",
                            describe(other)
                        ),
                    );
                    continue;
                }
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// A size in bytes: a decimal integer, or a string with a binary suffix ("512K", "10M",
    /// "1G"; "KiB"/"MiB"/"GiB" also accepted).
    pub(super) fn size(&mut self, path: &[&str], n: &Node) -> Option<u64> {
        const HINT: &str = "a size in bytes, or a string such as \"512K\", \"10M\", \"1G\"";
        let parsed = match n {
            Node::Int(i) if *i > 0 && *i <= u64::MAX as i128 => Some(*i as u64),
            Node::Str(s) => parse_size(s),
            _ => None,
        };
        match parsed {
            Some(v) if v > 0 => Some(v),
            _ => {
                self.problem(
                    path,
                    format!(
                        "`{}`: expected {HINT}, found {}",
                        path.join("."),
                        describe(n)
                    ),
                );
                None
            }
        }
    }

    /// `log_max_size` within [`MIN_LOG_MAX_SIZE`]..=[`MAX_LOG_MAX_SIZE`], else a problem
    /// saying the range.
    pub(super) fn log_max_size_in_range(&mut self, v: u64) -> Option<u64> {
        if (MIN_LOG_MAX_SIZE..=MAX_LOG_MAX_SIZE).contains(&v) {
            return Some(v);
        }
        self.problem(
            &["log_max_size"],
            format!(
                "`log_max_size`: {v} byte{} is out of range, expected 64K ({MIN_LOG_MAX_SIZE} bytes) to 1024G",
                if v == 1 { "" } else { "s" }
            ),
        );
        None
    }

    pub(super) fn log(&mut self, n: &Node) -> LogTarget {
        match n {
            Node::Str(s) if s == "default" => LogTarget::Default,
            Node::Str(s) if s == "none" => LogTarget::None,
            Node::Str(s) if s.starts_with('/') && !s.contains('\0') => {
                LogTarget::Path(PathBuf::from(s))
            }
            other => {
                self.problem(
                    &["log"],
                    format!(
                        "`log`: expected \"default\", \"none\" or an absolute path, found {}",
                        describe(other)
                    ),
                );
                LogTarget::Default
            }
        }
    }
}

/// "10M" → 10485760; plain digits are bytes. `None` for anything else.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim_start() {
        "" | "B" => 0,
        "K" | "k" | "KiB" | "KB" => 10,
        "M" | "MiB" | "MB" => 20,
        "G" | "GiB" | "GB" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}
