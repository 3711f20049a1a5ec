//! The LSB init-script format (LSB Core 3.1/5.0, "Init Script Comment Conventions" and "Init
//! Script Actions"): reading the `### BEGIN INIT INFO` block of a script's text into an
//! [`InitInfo`], and writing the shim that `svc lsb-script` prints, a POSIX sh script whose
//! actions run `svc ACTION NAME`.
//!
//! Both directions live here so that what svc writes is exactly what it can read back, and so
//! that `script: /etc/init.d/foo` definitions read dependencies and default runlevels with the
//! same parser ([`InitInfo::parse`], then [`InitInfo::requires`], [`InitInfo::wants`],
//! [`InitInfo::runlevels`]).
//!
//! The parser follows the spec and is lenient where real Debian scripts are: keywords match
//! without regard to case, values may be separated by tabs or spaces, empty fields are empty,
//! `Default-Start: 2345` is read as `2 3 4 5`, lines holding only `#` are ignored, and keywords
//! the spec does not define (`X-Start-Before`, `X-Interactive`, ...) are kept, not rejected. A
//! continuation line (`#` then a tab or at least two spaces, then text that is not a keyword)
//! extends the keyword before it: prose for `Description` (joined with single spaces), more
//! words for a list. Everything else that is not `# Keyword: value` inside the block, an
//! unterminated block, a keyword given twice and a runlevel outside 0-6/S are errors naming
//! the line.
//!
//! The generated script depends on no file but the svc binary: its absolute path and the
//! configuration, state and log directories of the svc that generated it are baked in as
//! single-quoted sh words, so the installed script addresses the same configuration whatever
//! the environment of its caller (`service` clears it).

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::definition::Definition;
use crate::exit::{Code, HasCode};
use crate::paths::Dirs;

/// First line of the block.
pub const BEGIN: &str = "### BEGIN INIT INFO";
/// Last line of the block.
pub const END: &str = "### END INIT INFO";

/// The actions every generated script accepts, in the order its usage line names them.
pub const ACTIONS: [&str; 7] = [
    "start",
    "stop",
    "restart",
    "try-restart",
    "reload",
    "force-reload",
    "status",
];

/// The system facilities LSB defines (names starting with `$` are reserved for them), with
/// what each promises. Distributions add more (`$portmap`, `$x-display-manager`); any `$name`
/// is accepted as a facility.
pub const FACILITIES: [(&str, &str); 8] = [
    ("$local_fs", "all local file systems are mounted"),
    ("$network", "low level networking is up"),
    ("$named", "host name resolution is available"),
    ("$portmap", "SunRPC/ONCRPC portmapping is available"),
    ("$remote_fs", "all remote file systems are available"),
    ("$syslog", "the system logger is operational"),
    ("$time", "the system time has been set"),
    ("$all", "after all other scripts (start last)"),
];

/// Dependencies the generated scripts always declare, in Required-Start and Required-Stop:
/// the Debian convention for a daemon (Debian's init.d skeleton, what lintian expects). svc
/// lives in /usr/sbin, writes its logs under /var/log and its daemons may log to syslog, so it
/// runs after `$remote_fs` (which implies `$local_fs`) and `$syslog`, and is stopped before
/// them.
pub const BASE_DEPENDENCIES: [&str; 2] = ["$remote_fs", "$syslog"];

/// True for a system facility name (`$local_fs`, `$network`, any `$name`).
pub fn is_facility(word: &str) -> bool {
    word.len() > 1 && word.starts_with('$')
}

/// The parsed `INIT INFO` block of one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitInfo {
    /// `Provides`: the facilities (usually the script's own name) this script provides.
    pub provides: Vec<String>,
    /// `Required-Start`: facilities that must be available before it starts.
    pub required_start: Vec<String>,
    /// `Required-Stop`: facilities that must still be available while it stops.
    pub required_stop: Vec<String>,
    /// `Should-Start`: started first if present; failure tolerated.
    pub should_start: Vec<String>,
    /// `Should-Stop`: stopped after it if present.
    pub should_stop: Vec<String>,
    /// `Default-Start`: runlevels `0`-`6` and `S`, in the order written, without repeats.
    pub default_start: Vec<char>,
    /// `Default-Stop`: as `default_start`.
    pub default_stop: Vec<char>,
    /// `Short-Description`, `None` when absent or empty.
    pub short_description: Option<String>,
    /// `Description` with its continuation lines joined by single spaces.
    pub description: Option<String>,
    /// Every other keyword (`X-Start-Before`, `X-Interactive`, ...), as written, with its value.
    pub extensions: Vec<(String, String)>,
    /// 1-based line of `### BEGIN INIT INFO` in the text.
    pub begin_line: usize,
}

/// Why a script's `INIT INFO` block could not be read. Lines are 1-based lines of the whole
/// text; the caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LsbError {
    /// No `### BEGIN INIT INFO` line at all.
    NoBlock,
    /// `### BEGIN INIT INFO` without a following `### END INIT INFO`.
    Unterminated { begin_line: usize },
    /// A line of the block that is not what the format allows there.
    Line {
        line: usize,
        expected: String,
        found: String,
    },
    /// A keyword given a second time.
    Duplicate {
        line: usize,
        keyword: String,
        first_line: usize,
    },
    /// A `Default-Start`/`Default-Stop` word that is not a runlevel.
    Runlevel {
        line: usize,
        keyword: String,
        found: String,
    },
}

impl fmt::Display for LsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LsbError::NoBlock => write!(
                f,
                "no LSB header: expected a `{BEGIN}` ... `{END}` block of comment lines"
            ),
            LsbError::Unterminated { begin_line } => write!(
                f,
                "line {begin_line}: `{BEGIN}` has no matching `{END}` line"
            ),
            LsbError::Line {
                line,
                expected,
                found,
            } => write!(f, "line {line}: expected {expected}, found {found:?}"),
            LsbError::Duplicate {
                line,
                keyword,
                first_line,
            } => write!(
                f,
                "line {line}: `{keyword}` given twice (first on line {first_line}): expected each keyword once"
            ),
            LsbError::Runlevel {
                line,
                keyword,
                found,
            } => write!(
                f,
                "line {line}: `{keyword}`: expected runlevels 0 to 6 or S separated by spaces, found {found:?}"
            ),
        }
    }
}

impl std::error::Error for LsbError {}

impl HasCode for LsbError {
    /// A script without a usable header is a configuration problem (LSB 6, "not configured").
    fn code(&self) -> Code {
        Code::NotConfigured
    }
}

/// Why a script file's header could not be read: the file and the cause.
#[derive(Debug)]
pub struct ReadError {
    pub path: PathBuf,
    pub cause: ReadCause,
}

#[derive(Debug)]
pub enum ReadCause {
    Io(std::io::Error),
    Parse(LsbError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            ReadCause::Io(e) => write!(f, "{}: cannot read: {e}", self.path.display()),
            ReadCause::Parse(LsbError::NoBlock) => {
                write!(f, "{}: {}", self.path.display(), LsbError::NoBlock)
            }
            // "FILE:LINE: ..." like every other svc problem report.
            ReadCause::Parse(e) => {
                let text = e.to_string();
                match text.strip_prefix("line ") {
                    Some(rest) => write!(f, "{}:{rest}", self.path.display()),
                    None => write!(f, "{}: {text}", self.path.display()),
                }
            }
        }
    }
}

impl std::error::Error for ReadError {}

impl HasCode for ReadError {
    fn code(&self) -> Code {
        match &self.cause {
            ReadCause::Io(e) if e.kind() == std::io::ErrorKind::NotFound => Code::NotInstalled,
            ReadCause::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Code::Privilege,
            ReadCause::Io(_) | ReadCause::Parse(_) => Code::NotConfigured,
        }
    }
}

/// The keywords LSB defines, as the spec spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Provides,
    RequiredStart,
    RequiredStop,
    ShouldStart,
    ShouldStop,
    DefaultStart,
    DefaultStop,
    ShortDescription,
    Description,
}

impl Key {
    const ALL: [(Key, &'static str); 9] = [
        (Key::Provides, "Provides"),
        (Key::RequiredStart, "Required-Start"),
        (Key::RequiredStop, "Required-Stop"),
        (Key::ShouldStart, "Should-Start"),
        (Key::ShouldStop, "Should-Stop"),
        (Key::DefaultStart, "Default-Start"),
        (Key::DefaultStop, "Default-Stop"),
        (Key::ShortDescription, "Short-Description"),
        (Key::Description, "Description"),
    ];

    fn find(word: &str) -> Option<(Key, &'static str)> {
        Self::ALL
            .iter()
            .copied()
            .find(|(_, n)| n.eq_ignore_ascii_case(word))
    }
}

/// Which field a line fills, so a continuation line knows where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Known(Key),
    Extension(usize),
}

/// `# Keyword: value` → (keyword, value); `None` when the line is not of that shape. A keyword
/// is letters, digits and `-`, starting with a letter.
fn split_keyword(after_hash: &str) -> Option<(&str, &str)> {
    let s = after_hash.trim_start();
    let colon = s.find(':')?;
    let key = &s[..colon];
    let ok = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| (key, s[colon + 1..].trim()))
}

fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split_whitespace()
}

fn show(line: &str) -> String {
    const MAX: usize = 80;
    match line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

impl InitInfo {
    /// Reads the first `### BEGIN INIT INFO` block of a script's text. Text before and after
    /// the block is not looked at (it is the script).
    pub fn parse(text: &str) -> Result<InitInfo, LsbError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let begin_line = lines
            .by_ref()
            .find(|(_, l)| l.trim_end() == BEGIN)
            .map(|(n, _)| n)
            .ok_or(LsbError::NoBlock)?;
        let mut info = InitInfo {
            begin_line,
            ..InitInfo::default()
        };
        // Line on which each known keyword was given, for duplicate reports.
        let mut seen: Vec<(Key, usize)> = Vec::new();
        let mut last: Option<Field> = None;
        for (n, raw) in lines {
            let line = raw.trim_end();
            if line == END {
                return Ok(info);
            }
            if line == BEGIN {
                return Err(LsbError::Line {
                    line: n,
                    expected: format!("`{END}` before another `{BEGIN}`"),
                    found: show(line),
                });
            }
            if line.is_empty() {
                continue;
            }
            let Some(after) = line.strip_prefix('#') else {
                return Err(LsbError::Line {
                    line: n,
                    expected: format!("a comment line `# Keyword: value` or `{END}`"),
                    found: show(line),
                });
            };
            if after.trim().is_empty() {
                continue;
            }
            let keyword = split_keyword(after);
            let indented = after.starts_with('\t') || after.starts_with("  ");
            // A continuation: indented text that is not itself a keyword line (lenient about
            // indented keywords: `#  Provides: x` is a keyword).
            let is_keyword = match keyword {
                Some((k, _)) => Key::find(k).is_some() || k.starts_with("X-") || !indented,
                None => false,
            };
            if indented && !is_keyword {
                let Some(field) = last else {
                    return Err(LsbError::Line {
                        line: n,
                        expected: "`# Keyword: value` (a continuation line needs a keyword line before it)".into(),
                        found: show(line),
                    });
                };
                info.continue_field(field, after.trim());
                continue;
            }
            let Some((key, value)) = keyword else {
                return Err(LsbError::Line {
                    line: n,
                    expected: format!(
                        "`# Keyword: value`, a continuation line (`#` then a tab or two spaces) or `{END}`"
                    ),
                    found: show(line),
                });
            };
            last = Some(match Key::find(key) {
                Some((k, name)) => {
                    if let Some((_, first)) = seen.iter().find(|(s, _)| *s == k) {
                        return Err(LsbError::Duplicate {
                            line: n,
                            keyword: name.to_string(),
                            first_line: *first,
                        });
                    }
                    seen.push((k, n));
                    info.set(k, name, value, n)?;
                    Field::Known(k)
                }
                None => {
                    info.extensions.push((key.to_string(), value.to_string()));
                    Field::Extension(info.extensions.len() - 1)
                }
            });
        }
        Err(LsbError::Unterminated { begin_line })
    }

    /// Reads a script file and parses its header.
    pub fn read(path: &Path) -> Result<InitInfo, ReadError> {
        let err = |cause| ReadError {
            path: path.to_path_buf(),
            cause,
        };
        // Never blocking on a FIFO put where the script was (see `crate::regular`).
        let mut bytes = Vec::new();
        crate::regular::open_read(path, crate::regular::Links::Follow)
            .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut bytes))
            .map_err(|e| err(ReadCause::Io(e)))?;
        // Scripts are not always UTF-8 (Latin-1 comments); the header is ASCII in practice.
        let text = String::from_utf8_lossy(&bytes);
        InitInfo::parse(&text).map_err(|e| err(ReadCause::Parse(e)))
    }

    fn set(&mut self, key: Key, name: &str, value: &str, line: usize) -> Result<(), LsbError> {
        let list = |v: &str| words(v).map(str::to_string).collect::<Vec<_>>();
        let text = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key {
            Key::Provides => self.provides = list(value),
            Key::RequiredStart => self.required_start = list(value),
            Key::RequiredStop => self.required_stop = list(value),
            Key::ShouldStart => self.should_start = list(value),
            Key::ShouldStop => self.should_stop = list(value),
            Key::DefaultStart => self.default_start = runlevels(name, value, line)?,
            Key::DefaultStop => self.default_stop = runlevels(name, value, line)?,
            Key::ShortDescription => self.short_description = text(value),
            Key::Description => self.description = text(value),
        }
        Ok(())
    }

    fn continue_field(&mut self, field: Field, more: &str) {
        let append_text = |t: &mut Option<String>| match t {
            Some(s) => {
                s.push(' ');
                s.push_str(more);
            }
            None => *t = Some(more.to_string()),
        };
        let append_words = |l: &mut Vec<String>| l.extend(words(more).map(str::to_string));
        match field {
            Field::Known(Key::Description) => append_text(&mut self.description),
            Field::Known(Key::ShortDescription) => append_text(&mut self.short_description),
            Field::Known(Key::Provides) => append_words(&mut self.provides),
            Field::Known(Key::RequiredStart) => append_words(&mut self.required_start),
            Field::Known(Key::RequiredStop) => append_words(&mut self.required_stop),
            Field::Known(Key::ShouldStart) => append_words(&mut self.should_start),
            Field::Known(Key::ShouldStop) => append_words(&mut self.should_stop),
            // Runlevels on a continuation line: kept as they come when valid, like the rest.
            Field::Known(Key::DefaultStart) => {
                extend_levels(&mut self.default_start, more);
            }
            Field::Known(Key::DefaultStop) => {
                extend_levels(&mut self.default_stop, more);
            }
            Field::Extension(i) => {
                let v = &mut self.extensions[i].1;
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(more);
            }
        }
    }

    /// Hard start dependencies (`Required-Start`): facility names (`$network`) and the
    /// `Provides` names of other scripts.
    pub fn requires(&self) -> &[String] {
        &self.required_start
    }

    /// Soft start dependencies (`Should-Start`).
    pub fn wants(&self) -> &[String] {
        &self.should_start
    }

    /// The runlevels it starts in by default (`Default-Start`).
    pub fn runlevels(&self) -> &[char] {
        &self.default_start
    }

    /// The non-facility names of `requires()`: other scripts or services.
    pub fn required_services(&self) -> impl Iterator<Item = &str> {
        self.required_start
            .iter()
            .map(String::as_str)
            .filter(|w| !is_facility(w))
    }

    /// The non-facility names of `wants()`.
    pub fn wanted_services(&self) -> impl Iterator<Item = &str> {
        self.should_start
            .iter()
            .map(String::as_str)
            .filter(|w| !is_facility(w))
    }

    /// The value of an extension keyword (`X-Interactive`), matched without regard to case.
    pub fn extension(&self, key: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Keywords that are neither LSB's nor `X-` extensions (a typo like `Required-Starts`):
    /// accepted, for a caller that wants to warn about them.
    pub fn unknown_keywords(&self) -> impl Iterator<Item = &str> {
        self.extensions
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !k.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("X-")))
    }

    /// The block as text, `### BEGIN INIT INFO` to `### END INIT INFO` with a final newline:
    /// empty lists are written as empty fields, absent descriptions are left out. Values are
    /// written as they are; [`InitInfo::for_definition`] makes sure they are single-line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut field = |key: &str, value: &str| {
            let pad = 19usize.saturating_sub(key.len() + 1).max(1);
            if value.is_empty() {
                out.push_str(&format!("# {key}:\n"));
            } else {
                out.push_str(&format!("# {key}:{}{value}\n", " ".repeat(pad)));
            }
        };
        let join = |l: &[String]| l.join(" ");
        let levels = |l: &[char]| l.iter().map(char::to_string).collect::<Vec<_>>().join(" ");
        field("Provides", &join(&self.provides));
        field("Required-Start", &join(&self.required_start));
        field("Required-Stop", &join(&self.required_stop));
        field("Should-Start", &join(&self.should_start));
        field("Should-Stop", &join(&self.should_stop));
        field("Default-Start", &levels(&self.default_start));
        field("Default-Stop", &levels(&self.default_stop));
        if let Some(s) = &self.short_description {
            field("Short-Description", s);
        }
        if let Some(s) = &self.description {
            field("Description", s);
        }
        for (k, v) in &self.extensions {
            field(k, v);
        }
        format!("{BEGIN}\n{out}{END}\n")
    }

    /// The header of the shim for a definition:
    /// - `Provides`: the service name;
    /// - `Required-Start`/`-Stop`: [`BASE_DEPENDENCIES`], then `requires`;
    /// - `Should-Start`/`-Stop`: `wants`;
    /// - `Default-Start`: `runlevels`, or `2 3 4 5` when empty; `Default-Stop`: the levels of
    ///   0-6 it does not start in (`0 1 6`); for a service started in `S` (once at boot, then
    ///   kept in every level) only `0 6`, halt and reboot, like Debian's rcS scripts;
    /// - `Short-Description`: `description` on one line (control characters become spaces),
    ///   else "svc service NAME".
    pub fn for_definition(def: &Definition) -> InitInfo {
        let mut required: Vec<String> = BASE_DEPENDENCIES.iter().map(|s| s.to_string()).collect();
        required.extend(def.requires.iter().map(|n| n.as_str().to_string()));
        let wants: Vec<String> = def.wants.iter().map(|n| n.as_str().to_string()).collect();
        let mut start: Vec<char> = Vec::new();
        for &c in &def.runlevels {
            if !start.contains(&c) {
                start.push(c);
            }
        }
        if start.is_empty() {
            start = vec!['2', '3', '4', '5'];
        }
        let stop = crate::runlevel::links::kill_levels(&start);
        let short = def
            .description
            .as_deref()
            .map(one_line)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("svc service {}", def.name));
        InitInfo {
            provides: vec![def.name.as_str().to_string()],
            required_stop: required.clone(),
            required_start: required,
            should_stop: wants.clone(),
            should_start: wants,
            default_start: start,
            default_stop: stop,
            short_description: Some(short),
            description: None,
            extensions: Vec::new(),
            begin_line: 0,
        }
    }
}

/// Control characters (newlines, tabs, escapes) become spaces; runs of spaces collapse.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn level_char(c: char) -> Option<char> {
    match c {
        '0'..='6' => Some(c),
        's' | 'S' => Some('S'),
        _ => None,
    }
}

/// `2 3 4 5`, `2345` or `S`.
fn runlevels(keyword: &str, value: &str, line: usize) -> Result<Vec<char>, LsbError> {
    let mut out = Vec::new();
    for w in words(value) {
        let levels: Option<Vec<char>> = w.chars().map(level_char).collect();
        let Some(levels) = levels else {
            return Err(LsbError::Runlevel {
                line,
                keyword: keyword.to_string(),
                found: w.to_string(),
            });
        };
        for c in levels {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

fn extend_levels(levels: &mut Vec<char>, more: &str) {
    for c in more.chars().filter_map(level_char) {
        if !levels.contains(&c) {
            levels.push(c);
        }
    }
}

/// `'...'` with every `'` written as `'\''`: safe for any bytes but NUL, which no path holds.
pub fn sh_quote(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// The marker line that identifies a script written by svc (so `--install` may replace it).
pub const MARKER: &str = "# Generated by `svc lsb-script`";

/// The init script for `def`: the header of [`InitInfo::for_definition`], then a `case` that
/// execs `SVC --config-dir C --state-dir S --log-dir L ACTION NAME` for each of [`ACTIONS`],
/// so svc's LSB exit code is the script's. Anything else, or more than one argument: usage on
/// stderr and exit 2. A missing svc binary: exit 5 (4 for `status`, "unknown").
///
/// Bytes, not a `String`: the paths are baked in as they are, and a path need not be UTF-8.
/// No path appears in a comment (a newline in it would end the comment).
pub fn script(def: &Definition, svc: &Path, dirs: &Dirs) -> Vec<u8> {
    let info = InitInfo::for_definition(def);
    let name = def.name.as_str();
    let q = |p: &Path| sh_quote(p.as_os_str().as_bytes());
    let actions = ACTIONS.join("|");
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(b"#!/bin/sh\n");
    out.extend_from_slice(info.render().as_bytes());
    out.extend_from_slice(
        format!(
            "{MARKER} for the service {name}: regenerate it rather than edit it.\n\
             # Every action runs svc with the directories of the svc that wrote this script\n\
             # and exits with svc's LSB exit code.\n\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(b"SVC=");
    out.extend_from_slice(&q(svc));
    out.extend_from_slice(b"\nCONFIG_DIR=");
    out.extend_from_slice(&q(&dirs.config));
    out.extend_from_slice(b"\nSTATE_DIR=");
    out.extend_from_slice(&q(&dirs.state));
    out.extend_from_slice(b"\nLOG_DIR=");
    out.extend_from_slice(&q(&dirs.log));
    out.extend_from_slice(format!("\nNAME='{name}'\n").as_bytes());
    out.extend_from_slice(
        format!(
            r#"
usage() {{
    echo "Usage: $0 {{{actions}}}" >&2
    exit 2
}}

[ "$#" -eq 1 ] || usage
case "$1" in
    {actions})
        if [ ! -x "$SVC" ]; then
            echo "$0: $SVC is not installed" >&2
            [ "$1" = status ] && exit 4
            exit 5
        fi
        exec "$SVC" --config-dir "$CONFIG_DIR" --state-dir "$STATE_DIR" --log-dir "$LOG_DIR" "$1" "$NAME"
        ;;
    *)
        usage
        ;;
esac
"#
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body: &str) -> String {
        format!("#!/bin/sh\n{BEGIN}\n{body}{END}\n\necho script\n")
    }

    #[test]
    fn debian_skeleton() {
        let text = header(
            "# Provides:          skeleton\n\
             # Required-Start:    $remote_fs $syslog\n\
             # Required-Stop:     $remote_fs $syslog\n\
             # Default-Start:     2 3 4 5\n\
             # Default-Stop:      0 1 6\n\
             # Short-Description: Example initscript\n\
             # Description:       This file should be used to construct scripts to be\n\
             #                    placed in /etc/init.d.\n",
        );
        let i = InitInfo::parse(&text).unwrap();
        assert_eq!(i.begin_line, 2);
        assert_eq!(i.provides, ["skeleton"]);
        assert_eq!(i.requires(), ["$remote_fs", "$syslog"]);
        assert_eq!(i.required_stop, ["$remote_fs", "$syslog"]);
        assert!(i.wants().is_empty());
        assert_eq!(i.runlevels(), ['2', '3', '4', '5']);
        assert_eq!(i.default_stop, ['0', '1', '6']);
        assert_eq!(i.short_description.as_deref(), Some("Example initscript"));
        assert_eq!(
            i.description.as_deref(),
            Some("This file should be used to construct scripts to be placed in /etc/init.d.")
        );
        assert_eq!(i.required_services().count(), 0);
    }

    #[test]
    fn continuation_with_tab_and_extensions() {
        let text = header(
            "# Provides:\t\tfoo bar\n\
             # Should-Start:\t$syslog baz\n\
             # Description: one\n\
             #\ttwo\n\
             #   three\n\
             # X-Start-Before:    $network\n\
             # X-Interactive:     true\n\
             #\n",
        );
        let i = InitInfo::parse(&text).unwrap();
        assert_eq!(i.provides, ["foo", "bar"]);
        assert_eq!(i.wants(), ["$syslog", "baz"]);
        assert_eq!(i.wanted_services().collect::<Vec<_>>(), ["baz"]);
        assert_eq!(i.description.as_deref(), Some("one two three"));
        assert_eq!(i.extension("x-start-before"), Some("$network"));
        assert_eq!(i.extension("X-Interactive"), Some("true"));
        assert_eq!(i.unknown_keywords().count(), 0);
    }

    #[test]
    fn empty_fields_are_empty() {
        let text = header(
            "# Provides: foo\n# Required-Start:\n# Required-Stop:   \n# Default-Start:\n\
             # Default-Stop:\n# Short-Description:\n",
        );
        let i = InitInfo::parse(&text).unwrap();
        assert!(i.requires().is_empty() && i.required_stop.is_empty());
        assert!(i.runlevels().is_empty() && i.default_stop.is_empty());
        assert_eq!(i.short_description, None);
    }

    #[test]
    fn runlevels_lenient_forms() {
        let i =
            InitInfo::parse(&header("# Default-Start: 2345\n# Default-Stop: s 0 6 6\n")).unwrap();
        assert_eq!(i.runlevels(), ['2', '3', '4', '5']);
        assert_eq!(i.default_stop, ['S', '0', '6']);
        let e = InitInfo::parse(&header("# Provides: a\n# Default-Start: 2 3 7\n")).unwrap_err();
        assert_eq!(
            e,
            LsbError::Runlevel {
                line: 4,
                keyword: "Default-Start".into(),
                found: "7".into()
            }
        );
        assert!(e
            .to_string()
            .starts_with("line 4: `Default-Start`: expected runlevels"));
    }

    #[test]
    fn keywords_ignore_case_and_trailing_space() {
        let text = "#!/bin/sh\n### BEGIN INIT INFO   \r\n# provides: a\r\n# REQUIRED-START: $network b\r\n### END INIT INFO \r\n";
        let i = InitInfo::parse(text).unwrap();
        assert_eq!(i.provides, ["a"]);
        assert_eq!(i.requires(), ["$network", "b"]);
        assert_eq!(i.required_services().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn missing_end_names_the_begin_line() {
        let text = "#!/bin/sh\n\n### BEGIN INIT INFO\n# Provides: a\n";
        let e = InitInfo::parse(text).unwrap_err();
        assert_eq!(e, LsbError::Unterminated { begin_line: 3 });
        assert!(e.to_string().contains("line 3"), "{e}");
        // Code after the block does not end it.
        let e =
            InitInfo::parse("### BEGIN INIT INFO\n# Provides: a\ncase x in esac\n").unwrap_err();
        assert!(
            matches!(e, LsbError::Line { line: 3, .. }),
            "a script line inside the block: {e:?}"
        );
    }

    #[test]
    fn no_block_is_an_error_value() {
        assert_eq!(
            InitInfo::parse("#!/bin/sh\necho hi\n"),
            Err(LsbError::NoBlock)
        );
        assert_eq!(InitInfo::parse(""), Err(LsbError::NoBlock));
        // The marker must be the whole line.
        assert_eq!(
            InitInfo::parse("# ### BEGIN INIT INFO\n### END INIT INFO\n"),
            Err(LsbError::NoBlock)
        );
    }

    #[test]
    fn bad_lines_name_line_and_expectation() {
        let e = InitInfo::parse(&header("# Provides: a\n# just a comment\n")).unwrap_err();
        match &e {
            LsbError::Line {
                line,
                expected,
                found,
            } => {
                assert_eq!(*line, 4);
                assert!(expected.contains("# Keyword: value"), "{expected}");
                assert_eq!(found, "# just a comment");
            }
            other => panic!("{other:?}"),
        }
        let e = InitInfo::parse(&header("#   orphan continuation\n")).unwrap_err();
        assert!(matches!(e, LsbError::Line { line: 3, .. }), "{e:?}");
        let e = InitInfo::parse(&header("# Provides: a\n# Provides: b\n")).unwrap_err();
        assert_eq!(
            e,
            LsbError::Duplicate {
                line: 4,
                keyword: "Provides".into(),
                first_line: 3
            }
        );
        let e = InitInfo::parse(&format!("{BEGIN}\n# Provides: a\n{BEGIN}\n{END}\n")).unwrap_err();
        assert!(matches!(e, LsbError::Line { line: 3, .. }), "{e:?}");
    }

    #[test]
    fn indented_keyword_is_a_keyword_and_unknown_keys_are_kept() {
        let i = InitInfo::parse(&header(
            "# Description: text\n#  Provides: a\n# Required-Starts: typo\n",
        ))
        .unwrap();
        assert_eq!(i.provides, ["a"]);
        assert_eq!(i.description.as_deref(), Some("text"));
        assert_eq!(
            i.unknown_keywords().collect::<Vec<_>>(),
            ["Required-Starts"]
        );
        assert!(i.requires().is_empty());
    }

    #[test]
    fn facilities() {
        for (f, _) in FACILITIES {
            assert!(is_facility(f), "{f}");
        }
        assert!(is_facility("$x-display-manager"));
        assert!(!is_facility("$"));
        assert!(!is_facility("network"));
        let i = InitInfo::parse(&header(
            "# Required-Start: $local_fs $network $remote_fs $syslog $named $portmap $time db\n\
             # Should-Start: $all cache\n",
        ))
        .unwrap();
        assert_eq!(i.requires().len(), 8);
        assert_eq!(i.required_services().collect::<Vec<_>>(), ["db"]);
        assert_eq!(i.wanted_services().collect::<Vec<_>>(), ["cache"]);
    }

    #[test]
    fn first_block_wins_and_rest_of_script_is_ignored() {
        let text = format!(
            "{}\n{BEGIN}\n# Provides: second\n{END}\n",
            header("# Provides: first\n")
        );
        assert_eq!(InitInfo::parse(&text).unwrap().provides, ["first"]);
    }

    #[test]
    fn render_round_trips() {
        let info = InitInfo {
            provides: vec!["web".into()],
            required_start: vec!["$remote_fs".into(), "db".into()],
            required_stop: vec!["$remote_fs".into()],
            should_start: vec![],
            should_stop: vec![],
            default_start: vec!['2', '3'],
            default_stop: vec!['0', '1', '4', '5', '6'],
            short_description: Some("Web".into()),
            description: Some("A web server".into()),
            extensions: vec![("X-Interactive".into(), "true".into())],
            begin_line: 1,
        };
        let text = info.render();
        assert!(text.starts_with(BEGIN) && text.ends_with(&format!("{END}\n")));
        assert_eq!(InitInfo::parse(&text).unwrap(), info);
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote(b"/a b"), b"'/a b'");
        assert_eq!(sh_quote(b"it's"), b"'it'\\''s'");
        assert_eq!(sh_quote(b""), b"''");
        assert_eq!(sh_quote(b"$(x)\n`y`"), b"'$(x)\n`y`'");
    }

    #[test]
    fn one_line_descriptions() {
        assert_eq!(one_line("a\nb\t c\u{1b}[31m"), "a b c [31m");
    }
}
