//! Service definitions (SPEC §2): `init.d/NAME.yaml` read, validated and turned into a
//! [`Definition`] that the rest of svc can use without further checks.
//!
//! Validation gathers every problem of a file before reporting, each with the file, the line
//! (and column where YAML gives one) and what was expected, so `svc check` shows them all in one
//! run. YAML itself is parsed in [`yaml`] only.

pub mod duration;
pub mod yaml;
mod yaml_hint;

use std::fmt;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::exit::{Code, HasCode};
use crate::name::ServiceName;
use crate::paths::Dirs;
use crate::users::{self, IdSpec};
use yaml::Node;

/// The largest definition file svc reads; anything bigger is not a hand-written definition.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// What the service runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// `exec:` as written: an absolute path or a bare name looked up in PATH at launch.
    Exec(String),
    /// `script:` an LSB init script (SPEC §2).
    Script(PathBuf),
}

/// The kind of service a definition describes, decided once by validation from its keys (they
/// exclude each other); every lifecycle operation is one `match` on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `exec:` launched by svc (in the foreground or `forking:`) and watched by its PID file.
    Exec,
    /// `exec:` with `respawn:`: run as the child of svc's supervisor.
    Supervised,
    /// `script:`: an LSB init script starts, stops and reports its daemon.
    Script,
    /// `socket:`: launched per connection by `svc inetd`, never by `start`.
    OnDemand,
}

/// A readiness check (SPEC §3.1 step 5).
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    Tcp(String),
    File(PathBuf),
    Notify,
}

/// Where the daemon's stdout and stderr go.
#[derive(Debug, Clone, PartialEq)]
pub enum LogTarget {
    Default,
    Path(PathBuf),
    None,
}

/// One `limits:` entry: resource, soft and hard limit (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub resource: Resource,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The rlimits a definition may set, by their `ulimit`/`limits.conf` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Sigpending,
    Stack,
}

impl Resource {
    const ALL: [(&'static str, Resource); 15] = [
        ("as", Resource::As),
        ("core", Resource::Core),
        ("cpu", Resource::Cpu),
        ("data", Resource::Data),
        ("fsize", Resource::Fsize),
        ("locks", Resource::Locks),
        ("memlock", Resource::Memlock),
        ("msgqueue", Resource::Msgqueue),
        ("nice", Resource::Nice),
        ("nofile", Resource::Nofile),
        ("nproc", Resource::Nproc),
        ("rss", Resource::Rss),
        ("rtprio", Resource::Rtprio),
        ("sigpending", Resource::Sigpending),
        ("stack", Resource::Stack),
    ];

    fn from_name(s: &str) -> Option<Resource> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
    }

    /// The `RLIMIT_*` number.
    pub fn raw(self) -> libc::__rlimit_resource_t {
        match self {
            Resource::As => libc::RLIMIT_AS,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Locks => libc::RLIMIT_LOCKS,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::Msgqueue => libc::RLIMIT_MSGQUEUE,
            Resource::Nice => libc::RLIMIT_NICE,
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::Rtprio => libc::RLIMIT_RTPRIO,
            Resource::Sigpending => libc::RLIMIT_SIGPENDING,
            Resource::Stack => libc::RLIMIT_STACK,
        }
    }
}

/// `respawn:` settings (SPEC §3.6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Respawn {
    pub max: u32,
    pub window: Duration,
    pub backoff: Duration,
}

impl Default for Respawn {
    fn default() -> Self {
        Respawn {
            max: 5,
            window: Duration::from_secs(60),
            backoff: Duration::from_secs(1),
        }
    }
}

/// Transport of an on-demand service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// `socket:` settings of an on-demand service (SPEC §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    pub port: u16,
    pub bind: IpAddr,
    pub protocol: Protocol,
    pub wait: bool,
    pub instances: Option<u32>,
    pub per_source: Option<u32>,
    /// (connections per second, seconds refused)
    pub cps: Option<(u32, u32)>,
}

/// A validated service definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: ServiceName,
    /// Decided once from `script:`, `socket:` and `respawn:`; see [`Kind`].
    pub kind: Kind,
    pub file: PathBuf,
    pub description: Option<String>,
    pub program: Program,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    pub env: Vec<(String, String)>,
    pub user: Option<IdSpec>,
    pub group: Option<IdSpec>,
    pub umask: u32,
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    pub forking: bool,
    pub pidfile: Option<PathBuf>,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    pub reload_signal: Option<Signal>,
    pub ready: Option<Ready>,
    pub ready_timeout: Duration,
    pub requires: Vec<ServiceName>,
    pub wants: Vec<ServiceName>,
    pub runlevels: Vec<char>,
    pub start_priority: Option<u8>,
    pub stop_priority: Option<u8>,
    pub respawn: Option<Respawn>,
    pub log: LogTarget,
    /// A supervised service's log is rotated when it would grow past this many bytes.
    pub log_max_size: u64,
    /// Rotated log files kept besides the current one (`NAME.log.1` is the newest).
    pub log_keep: u32,
    /// A supervised service's log lines start with the time the supervisor read them.
    pub log_timestamps: bool,
    pub socket: Option<Socket>,
}

/// Default `log_max_size`: 10 MiB.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
/// Default `log_keep`.
pub const DEFAULT_LOG_KEEP: u32 = 5;
/// The smallest `log_max_size`: below it rotation (up to `log_keep` renames each time) would
/// throttle the service (`log_max_size: 1` meant one rotation per line).
pub const MIN_LOG_MAX_SIZE: u64 = 64 << 10;
/// The largest `log_max_size` (1024 GiB).
pub const MAX_LOG_MAX_SIZE: u64 = 1 << 40;
/// The most rotated files `log_keep` may ask for.
pub const MAX_LOG_KEEP: u32 = 1000;

impl Definition {
    /// The PID file: the definition's own, else `<state>/NAME.pid`.
    pub fn pidfile(&self, dirs: &Dirs) -> PathBuf {
        self.pidfile
            .clone()
            .unwrap_or_else(|| dirs.default_pidfile(&self.name))
    }

    /// The log file, or `None` for `log: none`.
    pub fn log_path(&self, dirs: &Dirs) -> Option<PathBuf> {
        match &self.log {
            LogTarget::Default => Some(dirs.default_log(&self.name)),
            LogTarget::Path(p) => Some(p.clone()),
            LogTarget::None => None,
        }
    }
}

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

/// Loads `init.d/NAME.yaml` from the configuration directory.
pub fn load(dirs: &Dirs, name: &ServiceName) -> Result<Definition, DefinitionError> {
    load_file(&dirs.definition(name), name)
}

/// Reads and validates one definition file.
pub fn load_file(path: &Path, name: &ServiceName) -> Result<Definition, DefinitionError> {
    let text = read_trusted(path).map_err(|e| match e {
        ReadError::Missing => DefinitionError::NotFound {
            name: name.clone(),
            path: path.to_owned(),
        },
        ReadError::Other(why) => DefinitionError::Unreadable {
            path: path.to_owned(),
            why,
        },
    })?;
    let mut def = parse(path, name, &text).map_err(DefinitionError::Invalid)?;
    // `script:`: dependencies and runlevels the file does not give come from the INIT INFO.
    crate::legacy::fill_from_header(&mut def, &text).map_err(DefinitionError::Invalid)?;
    Ok(def)
}

enum ReadError {
    Missing,
    Other(String),
}

/// Reads a configuration file without ever blocking on it (a FIFO is refused, see
/// [`crate::regular`]), then checks it may be trusted.
fn read_trusted(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let mut f = match crate::regular::open_read(path, crate::regular::Links::Follow) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Other(e.to_string())),
    };
    let meta = f.metadata().map_err(|e| ReadError::Other(e.to_string()))?;
    if !meta.is_file() {
        return Err(ReadError::Other("not a regular file".into()));
    }
    crate::trust::check_config_file(path, &meta).map_err(ReadError::Other)?;
    if meta.size() > MAX_FILE_SIZE {
        return Err(ReadError::Other(format!(
            "file is {} bytes; a definition may be at most {MAX_FILE_SIZE} bytes",
            meta.size()
        )));
    }
    let mut bytes = Vec::new();
    Read::by_ref(&mut f)
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Other(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Other(format!(
            "not valid UTF-8 (byte offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Every definition file in `init.d/`, sorted by name: (file name stem, path). Files that do not
/// end in `.yaml` are ignored; a `.yaml` file whose stem is not a valid name is returned with
/// `Err` so callers can report it.
pub fn list_files(dirs: &Dirs) -> std::io::Result<Vec<(Result<ServiceName, String>, PathBuf)>> {
    let dir = dirs.init_d();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        let fname = entry.file_name();
        let Some(fname) = fname.to_str() else {
            out.push((Err(format!("{:?}", entry.file_name())), entry.path()));
            continue;
        };
        let Some(stem) = fname.strip_suffix(".yaml") else {
            continue;
        };
        out.push((
            ServiceName::new(stem).map_err(|e| e.to_string()),
            entry.path(),
        ));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Validates the text of a definition; all problems are returned together.
pub fn parse(file: &Path, name: &ServiceName, text: &str) -> Result<Definition, Vec<Problem>> {
    let mut v = Validator {
        file,
        text: text.strip_prefix('\u{feff}').unwrap_or(text),
        problems: Vec::new(),
    };
    let def = v.definition(name);
    v.problems.sort_by_key(|p| p.line.unwrap_or(0));
    match def {
        Some(d) if v.problems.is_empty() => Ok(d),
        _ => Err(v.problems),
    }
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

const KEYS: &[&str] = &[
    "description",
    "exec",
    "script",
    "args",
    "workdir",
    "env",
    "user",
    "group",
    "umask",
    "limits",
    "nice",
    "forking",
    "pidfile",
    "stop_signal",
    "stop_timeout",
    "reload_signal",
    "ready",
    "ready_timeout",
    "requires",
    "wants",
    "runlevels",
    "start_priority",
    "stop_priority",
    "respawn",
    "log",
    "log_max_size",
    "log_keep",
    "log_timestamps",
    "socket",
];

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

impl Validator<'_> {
    /// The line of `key` (a top-level key, or `key` nested under `parent`), 1-based.
    fn line_of(&self, path: &[&str]) -> Option<usize> {
        let lines: Vec<&str> = self.text.lines().collect();
        let top = path.first()?;
        let is_key = |line: &str, key: &str| {
            let t = line.trim_start();
            let t = t.strip_prefix("- ").unwrap_or(t);
            let t = t
                .strip_prefix('"')
                .and_then(|r| r.strip_prefix(key).and_then(|r| r.strip_prefix('"')))
                .or_else(|| t.strip_prefix(key));
            matches!(t.map(str::trim_start), Some(r) if r.starts_with(':'))
        };
        let start = lines
            .iter()
            .position(|l| !l.starts_with([' ', '\t', '#']) && is_key(l, top))?;
        let mut found = start;
        for key in &path[1..] {
            let mut hit = None;
            for (i, l) in lines.iter().enumerate().skip(found) {
                if i > start && !l.is_empty() && !l.starts_with([' ', '\t', '#']) {
                    break;
                }
                if i == found {
                    // Flow style on the parent's line: `ready: {tcp: ...}`.
                    if l.contains(&format!("{key}:")) || l.contains(&format!("{key} :")) {
                        hit = Some(i);
                        break;
                    }
                    continue;
                }
                if is_key(l, key) {
                    hit = Some(i);
                    break;
                }
            }
            found = hit.unwrap_or(found);
        }
        Some(found + 1)
    }

    fn problem(&mut self, path: &[&str], message: impl Into<String>) {
        let line = if path.is_empty() {
            None
        } else {
            self.line_of(path)
        };
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            column: None,
            message: message.into(),
        });
    }

    fn expected(&mut self, path: &[&str], what: &str, found: &Node) {
        let key = path.join(".");
        self.problem(
            path,
            format!("`{key}`: expected {what}, found {}", found.kind()),
        );
    }

    fn definition(&mut self, name: &ServiceName) -> Option<Definition> {
        let root = match yaml::parse(self.text) {
            Ok(n) => n,
            Err(e) => {
                self.problems.push(Problem {
                    file: self.file.to_owned(),
                    line: e.line,
                    column: e.column,
                    message: format!("invalid YAML: {}", e.message),
                });
                return None;
            }
        };
        let map = match root {
            Node::Map(m) => m,
            Node::Null => {
                self.problem(
                    &[],
                    "the file is empty: expected a mapping with at least `exec`",
                );
                return None;
            }
            other => {
                self.problem(
                    &[],
                    format!(
                        "expected a mapping of settings (key: value), found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        for (k, _) in &map {
            if !KEYS.contains(&k.as_str()) {
                let hint = suggest(k)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.problem(
                    &[k.as_str()],
                    format!(
                        "unknown key `{k}`{hint}; expected one of: {}",
                        KEYS.join(", ")
                    ),
                );
            }
        }
        let get = |k: &str| map.iter().find(|(key, _)| key == k).map(|(_, v)| v);

        let description = get("description").and_then(|n| self.string(&["description"], n));
        let exec = get("exec").and_then(|n| self.exec(n));
        let script = get("script").and_then(|n| self.abs_path(&["script"], n));
        let program = match (exec, script, get("exec").is_some(), get("script").is_some()) {
            (Some(e), None, _, false) => Some(Program::Exec(e)),
            (None, Some(s), false, _) => Some(Program::Script(s)),
            (_, _, true, true) => {
                self.problem(
                    &["script"],
                    "`exec` and `script` are exclusive: give one of them",
                );
                None
            }
            (_, _, false, false) => {
                self.problem(&[], "missing `exec`: expected the program to run (an absolute path or a name in PATH), or `script`");
                None
            }
            _ => None,
        };
        let args = get("args")
            .map(|n| self.strings(&["args"], n))
            .unwrap_or_default();
        if matches!(program, Some(Program::Script(_))) && get("args").is_some() {
            self.problem(&["args"], "`args` cannot be used with `script`");
        }
        let workdir = get("workdir")
            .and_then(|n| self.abs_path(&["workdir"], n))
            .unwrap_or_else(|| PathBuf::from("/"));
        let env = get("env").map(|n| self.env(n)).unwrap_or_default();
        let user = get("user").and_then(|n| self.id(&["user"], n, "user"));
        let group = get("group").and_then(|n| self.id(&["group"], n, "group"));
        if user.is_some() || group.is_some() {
            if let Err(e) = users::resolve(user.as_ref(), group.as_ref()) {
                let at = if user.is_some() { "user" } else { "group" };
                self.problem(&[at], e);
            }
        }
        let umask = get("umask").and_then(|n| self.umask(n)).unwrap_or(0o022);
        let limits = get("limits").map(|n| self.limits(n)).unwrap_or_default();
        let nice = get("nice")
            .and_then(|n| self.int_in(&["nice"], n, -20, 19))
            .map(|v| v as i32);
        let forking = get("forking")
            .and_then(|n| self.boolean(&["forking"], n))
            .unwrap_or(false);
        let pidfile = get("pidfile").and_then(|n| self.abs_path(&["pidfile"], n));
        if forking && pidfile.is_none() && get("pidfile").is_none() {
            self.problem(
                &["forking"],
                "`forking: true` needs `pidfile`: the path where the program writes its PID",
            );
        }
        let stop_signal = get("stop_signal")
            .and_then(|n| self.signal(&["stop_signal"], n))
            .unwrap_or(Signal::SIGTERM);
        let stop_timeout = get("stop_timeout")
            .and_then(|n| self.duration(&["stop_timeout"], n))
            .unwrap_or(Duration::from_secs(10));
        let reload_signal = get("reload_signal").and_then(|n| self.signal(&["reload_signal"], n));
        let ready = get("ready").and_then(|n| self.ready(n));
        let ready_timeout = get("ready_timeout")
            .and_then(|n| self.duration(&["ready_timeout"], n))
            .unwrap_or(Duration::from_secs(30));
        let requires = get("requires")
            .map(|n| self.names(&["requires"], n, name))
            .unwrap_or_default();
        let wants = get("wants")
            .map(|n| self.names(&["wants"], n, name))
            .unwrap_or_default();
        let runlevels = get("runlevels")
            .map(|n| self.runlevels(n))
            .unwrap_or_default();
        let start_priority = get("start_priority")
            .and_then(|n| self.int_in(&["start_priority"], n, 0, 99))
            .map(|v| v as u8);
        let stop_priority = get("stop_priority")
            .and_then(|n| self.int_in(&["stop_priority"], n, 0, 99))
            .map(|v| v as u8);
        let respawn = get("respawn").and_then(|n| self.respawn(n));
        let log = get("log")
            .map(|n| self.log(n))
            .unwrap_or(LogTarget::Default);
        let log_max_size = get("log_max_size")
            .and_then(|n| self.size(&["log_max_size"], n))
            .and_then(|v| self.log_max_size_in_range(v))
            .unwrap_or(DEFAULT_LOG_MAX_SIZE);
        let log_keep = get("log_keep")
            .and_then(|n| self.int_in(&["log_keep"], n, 0, MAX_LOG_KEEP.into()))
            .map(|v| v as u32)
            .unwrap_or(DEFAULT_LOG_KEEP);
        let log_timestamps = get("log_timestamps")
            .and_then(|n| self.boolean(&["log_timestamps"], n))
            .unwrap_or(false);
        let socket = get("socket").and_then(|n| self.socket(n));
        if log_timestamps && respawn.is_none() {
            self.problem(
                &["log_timestamps"],
                "`log_timestamps` needs `respawn`: the supervisor adds the times (an unsupervised program writes its log itself)",
            );
        }
        if respawn.is_some() {
            if forking {
                self.problem(
                    &["respawn"],
                    "`respawn` needs a program that stays in the foreground: the supervisor must be its parent (drop `forking: true`)",
                );
            }
            if socket.is_some() {
                self.problem(
                    &["respawn"],
                    "`respawn` and `socket` exclude each other: `svc inetd` starts on-demand services per connection",
                );
            }
        }
        if matches!(program, Some(Program::Script(_))) {
            for (key, set) in [
                ("forking", forking),
                ("respawn", respawn.is_some()),
                ("socket", socket.is_some()),
            ] {
                if set {
                    self.problem(&[key], format!("`{key}` cannot be used with `script`: the LSB script starts and stops its daemon itself"));
                }
            }
        }

        let program = program?;
        let kind = match (&program, &socket, &respawn) {
            (Program::Script(_), _, _) => Kind::Script,
            (_, Some(_), _) => Kind::OnDemand,
            (_, _, Some(_)) => Kind::Supervised,
            _ => Kind::Exec,
        };
        Some(Definition {
            name: name.clone(),
            kind,
            file: self.file.to_owned(),
            description,
            program,
            args,
            workdir,
            env,
            user,
            group,
            umask,
            limits,
            nice,
            forking,
            pidfile,
            stop_signal,
            stop_timeout,
            reload_signal,
            ready,
            ready_timeout,
            requires,
            wants,
            runlevels,
            start_priority,
            stop_priority,
            respawn,
            log,
            log_max_size,
            log_keep,
            log_timestamps,
            socket,
        })
    }

    fn string(&mut self, path: &[&str], n: &Node) -> Option<String> {
        match n {
            Node::Str(s) => Some(s.clone()),
            other => {
                self.expected(path, "a string", other);
                None
            }
        }
    }

    fn nonempty(&mut self, path: &[&str], n: &Node) -> Option<String> {
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

    fn exec(&mut self, n: &Node) -> Option<String> {
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

    fn abs_path(&mut self, path: &[&str], n: &Node) -> Option<PathBuf> {
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

    fn strings(&mut self, path: &[&str], n: &Node) -> Vec<String> {
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

    fn boolean(&mut self, path: &[&str], n: &Node) -> Option<bool> {
        match n {
            Node::Bool(b) => Some(*b),
            other => {
                self.expected(path, "true or false", other);
                None
            }
        }
    }

    fn int_in(&mut self, path: &[&str], n: &Node, lo: i128, hi: i128) -> Option<i128> {
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

    fn duration(&mut self, path: &[&str], n: &Node) -> Option<Duration> {
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

    fn env(&mut self, n: &Node) -> Vec<(String, String)> {
        let Node::Map(m) = n else {
            self.expected(&["env"], "a mapping of NAME: value", n);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
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

    fn id(&mut self, path: &[&str], n: &Node, what: &str) -> Option<IdSpec> {
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

    /// The value of top-level `key` as written on its line (for scalars whose spelling matters).
    fn raw_value(&self, key: &str) -> Option<&str> {
        let line = self.line_of(&[key])?;
        let text = self.text.lines().nth(line - 1)?;
        let value = text.split_once(':')?.1.trim();
        let value = match value.find(" #") {
            Some(i) => value[..i].trim_end(),
            None => value,
        };
        Some(value)
    }

    /// Whether the value of top-level `key` is written quoted in the source text.
    fn quoted(&self, key: &str) -> bool {
        self.raw_value(key)
            .is_none_or(|v| v.starts_with('"') || v.starts_with('\''))
    }

    fn umask(&mut self, n: &Node) -> Option<u32> {
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

    fn limits(&mut self, n: &Node) -> Vec<Limit> {
        let Node::Map(m) = n else {
            self.expected(
                &["limits"],
                "a mapping such as { nofile: 4096, core: 0 }",
                n,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            let Some(resource) = Resource::from_name(k) else {
                let names: Vec<&str> = Resource::ALL.iter().map(|(n, _)| *n).collect();
                self.problem(
                    &["limits", k],
                    format!(
                        "`limits`: unknown limit `{k}`; expected one of: {}",
                        names.join(", ")
                    ),
                );
                continue;
            };
            let one = |n: &Node| -> Result<Option<u64>, String> {
                match n {
                    Node::Int(i) if *i >= 0 && *i < u64::MAX as i128 => Ok(Some(*i as u64)),
                    Node::Str(s) if s == "unlimited" || s == "infinity" => Ok(None),
                    other => Err(format!(
                        "expected a non-negative integer or \"unlimited\", found {}",
                        other.kind()
                    )),
                }
            };
            let r = match v {
                Node::Seq(pair) if pair.len() == 2 => {
                    one(&pair[0]).and_then(|s| Ok((s, one(&pair[1])?)))
                }
                Node::Seq(_) => Err("expected a value or a [soft, hard] pair".to_string()),
                other => one(other).map(|x| (x, x)),
            };
            match r {
                Ok((soft, hard)) => {
                    let too_high = matches!((soft, hard), (None, Some(_)))
                        || matches!((soft, hard), (Some(s), Some(h)) if s > h);
                    if too_high {
                        self.problem(
                            &["limits", k],
                            format!("`limits.{k}`: the soft limit is above the hard limit"),
                        );
                    } else {
                        out.push(Limit {
                            resource,
                            soft,
                            hard,
                        });
                    }
                }
                Err(e) => self.problem(&["limits", k], format!("`limits.{k}`: {e}")),
            }
        }
        out
    }

    fn signal(&mut self, path: &[&str], n: &Node) -> Option<Signal> {
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

    fn ready(&mut self, n: &Node) -> Option<Ready> {
        let Node::Map(m) = n else {
            self.expected(&["ready"], "a mapping with one of tcp, file or notify", n);
            return None;
        };
        if m.len() != 1 {
            self.problem(&["ready"], "`ready`: expected exactly one of { tcp: \"HOST:PORT\" }, { file: PATH } or { notify: true }");
            return None;
        }
        let (k, v) = &m[0];
        match k.as_str() {
            "tcp" => {
                let s = self.nonempty(&["ready", "tcp"], v)?;
                if parse_host_port(&s).is_none() {
                    self.problem(&["ready", "tcp"], format!("`ready.tcp`: {s:?} is not HOST:PORT (e.g. \"127.0.0.1:8080\", \"[::1]:8080\")"));
                    return None;
                }
                Some(Ready::Tcp(s))
            }
            "file" => self.abs_path(&["ready", "file"], v).map(Ready::File),
            "notify" => match self.boolean(&["ready", "notify"], v)? {
                true => Some(Ready::Notify),
                false => None,
            },
            other => {
                self.problem(
                    &["ready", other],
                    format!("`ready`: unknown check `{other}`; expected tcp, file or notify"),
                );
                None
            }
        }
    }

    fn names(&mut self, path: &[&str], n: &Node, me: &ServiceName) -> Vec<ServiceName> {
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

    fn runlevels(&mut self, n: &Node) -> Vec<char> {
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

    fn respawn(&mut self, n: &Node) -> Option<Respawn> {
        match n {
            Node::Bool(false) => None,
            Node::Bool(true) => Some(Respawn::default()),
            Node::Map(m) => {
                let mut r = Respawn::default();
                for (k, v) in m {
                    match k.as_str() {
                        "max" => {
                            r.max = self
                                .int_in(&["respawn", "max"], v, 0, 1_000_000)
                                .unwrap_or(5) as u32
                        }
                        "window" => {
                            r.window = self.duration(&["respawn", "window"], v).unwrap_or(r.window)
                        }
                        "backoff" => {
                            r.backoff = self
                                .duration(&["respawn", "backoff"], v)
                                .unwrap_or(r.backoff)
                        }
                        other => self.problem(
                            &["respawn", other],
                            format!(
                                "`respawn`: unknown key `{other}`; expected max, window, backoff"
                            ),
                        ),
                    }
                }
                Some(r)
            }
            other => {
                self.expected(
                    &["respawn"],
                    "false, true or { max, window, backoff }",
                    other,
                );
                None
            }
        }
    }

    /// A size in bytes: a decimal integer, or a string with a binary suffix ("512K", "10M",
    /// "1G"; "KiB"/"MiB"/"GiB" also accepted).
    fn size(&mut self, path: &[&str], n: &Node) -> Option<u64> {
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
    fn log_max_size_in_range(&mut self, v: u64) -> Option<u64> {
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

    fn log(&mut self, n: &Node) -> LogTarget {
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

    fn socket(&mut self, n: &Node) -> Option<Socket> {
        let Node::Map(m) = n else {
            self.expected(&["socket"], "a mapping with at least `port`", n);
            return None;
        };
        let mut s = Socket {
            port: 0,
            bind: IpAddr::from([0, 0, 0, 0]),
            protocol: Protocol::Tcp,
            wait: false,
            instances: None,
            per_source: None,
            cps: None,
        };
        let mut port = None;
        let mut ok = true;
        for (k, v) in m {
            let p = ["socket", k.as_str()];
            match k.as_str() {
                "port" => port = self.int_in(&p, v, 1, 65535).map(|x| x as u16),
                "bind" => match v {
                    Node::Str(b) => match b.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                        Ok(ip) => s.bind = ip,
                        Err(_) => {
                            self.problem(&p, format!("`socket.bind`: {b:?} is not an IPv4 or IPv6 address"));
                            ok = false;
                        }
                    },
                    other => {
                        self.expected(&p, "an IP address", other);
                        ok = false;
                    }
                },
                "protocol" => match v {
                    Node::Str(x) if x == "tcp" => s.protocol = Protocol::Tcp,
                    Node::Str(x) if x == "udp" => s.protocol = Protocol::Udp,
                    other => {
                        self.problem(&p, format!("`socket.protocol`: expected tcp or udp, found {}", describe(other)));
                        ok = false;
                    }
                },
                "wait" => s.wait = self.boolean(&p, v).unwrap_or(false),
                "instances" => s.instances = self.int_in(&p, v, 1, 1_000_000).map(|x| x as u32),
                "per_source" => s.per_source = self.int_in(&p, v, 1, 1_000_000).map(|x| x as u32),
                "cps" => match v {
                    Node::Seq(pair) if pair.len() == 2 => {
                        let a = self.int_in(&p, &pair[0], 1, 1_000_000);
                        let b = self.int_in(&p, &pair[1], 0, 86_400);
                        if let (Some(a), Some(b)) = (a, b) {
                            s.cps = Some((a as u32, b as u32));
                        }
                    }
                    other => {
                        self.problem(&p, format!("`socket.cps`: expected [connections per second, seconds refused], found {}", describe(other)));
                    }
                },
                other => self.problem(&p, format!("`socket`: unknown key `{other}`; expected port, bind, protocol, wait, instances, per_source, cps")),
            }
        }
        match port {
            Some(p) => s.port = p,
            None => {
                if !m.iter().any(|(k, _)| k == "port") {
                    self.problem(&["socket"], "`socket`: missing `port`");
                }
                ok = false;
            }
        }
        if s.protocol == Protocol::Udp && !s.wait && ok {
            self.problem(
                &["socket", "wait"],
                "`socket`: a udp service needs `wait: true` (one process is handed the socket)",
            );
            ok = false;
        }
        ok.then_some(s)
    }
}

fn describe(n: &Node) -> String {
    match n {
        Node::Str(s) => format!("{s:?}"),
        Node::Int(i) => i.to_string(),
        other => other.kind().to_string(),
    }
}

/// The closest known key to a typo (edit distance 1 or 2).
fn suggest(k: &str) -> Option<&'static str> {
    fn dist(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    KEYS.iter()
        .map(|c| (dist(k, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Splits `HOST:PORT` / `[V6]:PORT`.
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h.to_string(), p)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h.to_string(), p)
    };
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    Some((host, port))
}

/// Global settings from `svc.yaml` (SPEC §1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub default_runlevel: Option<char>,
}

/// Reads `svc.yaml` if present.
pub fn load_settings(dirs: &Dirs) -> Result<Settings, Vec<Problem>> {
    let path = dirs.config.join("svc.yaml");
    let text = match read_trusted(&path) {
        Ok(t) => t,
        Err(ReadError::Missing) => return Ok(Settings::default()),
        Err(ReadError::Other(why)) => {
            return Err(vec![Problem {
                file: path,
                line: None,
                column: None,
                message: why,
            }])
        }
    };
    let mut v = Validator {
        file: &path,
        text: &text,
        problems: Vec::new(),
    };
    let mut settings = Settings::default();
    match yaml::parse(&text) {
        Ok(Node::Null) => {}
        Ok(Node::Map(m)) => {
            for (k, val) in &m {
                match k.as_str() {
                    "default_runlevel" => {
                        let lv = v.runlevels(&Node::Seq(vec![val.clone()]));
                        settings.default_runlevel = lv.first().copied();
                    }
                    other => v.problem(
                        &[other],
                        format!("unknown key `{other}`; expected default_runlevel"),
                    ),
                }
            }
        }
        Ok(other) => v.problem(
            &[],
            format!("expected a mapping of settings, found {}", other.kind()),
        ),
        Err(e) => v.problems.push(Problem {
            file: path.clone(),
            line: e.line,
            column: e.column,
            message: format!("invalid YAML: {}", e.message),
        }),
    }
    if v.problems.is_empty() {
        Ok(settings)
    } else {
        Err(v.problems)
    }
}

#[cfg(test)]
mod tests;
