//! The LSB init-script header (LSB Core 3.1/5.0, "Init Script Comment Conventions"): reading
//! the `### BEGIN INIT INFO` block of a script's text into an [`InitInfo`], and writing one
//! back ([`InitInfo::render`]). Pure: it knows scripts, not svc's definitions, so that the
//! definition loader can read a `script:`'s header with it (see `definition::resolve`).
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

use std::fmt;
use std::path::{Path, PathBuf};

use crate::exit::{Code, HasCode};

/// First line of the block.
pub const BEGIN: &str = "### BEGIN INIT INFO";
/// Last line of the block.
pub const END: &str = "### END INIT INFO";

/// The most of a script read to find its header (a header is at the top of a script): a huge
/// script is never read whole.
pub const MAX_SCAN: u64 = 1 << 20;

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

/// Whether a script's text has an LSB block (a `### BEGIN INIT INFO` line), well formed or not.
pub fn has_block(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == BEGIN)
}

/// (keyword as written, line) of every `# Keyword: value` line of the first block of `text`,
/// 1-based: where a caller points at a field of a header [`InitInfo::parse`] accepted.
pub fn keyword_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if !inside {
            inside = line == BEGIN;
            continue;
        }
        if line == END {
            break;
        }
        if let Some((k, _)) = line.strip_prefix('#').and_then(split_keyword) {
            out.push((k.to_string(), i + 1));
        }
    }
    out
}

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
    /// written as they are; [`InitInfo::for_service`] makes sure they are single-line.
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

/// The levels 0–6 that stop a service started in `start` (its `Default-Stop`): every one that
/// does not start it; for a service started in rcS.d only 0 and 6 (halt and reboot) that do not
/// start it. An rcS.d service runs once at boot and then for the whole uptime, as sysv-rc and
/// insserv treat rcS.d (`Default-Stop: 0 6`): a `K` entry in 1–5 would stop it again on
/// entering that level. The one copy of this rule: `enable` and the INIT INFO header of
/// `svc lsb-script` use it.
pub fn kill_levels(start: &[char]) -> Vec<char> {
    let candidates: &[char] = if start.contains(&'S') {
        &['0', '6']
    } else {
        &['0', '1', '2', '3', '4', '5', '6']
    };
    candidates
        .iter()
        .copied()
        .filter(|l| !start.contains(l))
        .collect()
}

#[cfg(test)]
mod tests;
