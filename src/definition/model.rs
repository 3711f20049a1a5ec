//! The types of a validated service definition (svc.yaml(5) and docs/services.md): what the rest of
//! svc uses, with no further checks. Built by [`super::validate`], completed by [`super::resolve`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::name::ServiceName;
use crate::paths::Dirs;
use crate::users::IdSpec;

/// What the service runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// `exec:` as written: an absolute path or a bare name looked up in PATH at launch.
    Exec(String),
    /// `script:` an LSB init script (svc.yaml(5) and docs/services.md).
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
    /// `oneshot: true`: a task `start` runs to completion; `done` once it exited 0.
    Oneshot,
}

/// A readiness check (docs/commands.md, readiness in "Starting and stopping").
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

/// The cgroup limits of `limits:` (SPEC §8.7): `memory` in bytes and `pids`, written to the
/// service's cgroup as `memory.max` and `pids.max`; `None` is no limit ("max").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
}

impl CgroupLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some()
    }
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
    pub(super) const ALL: [(&'static str, Resource); 15] = [
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

    pub(super) fn from_name(s: &str) -> Option<Resource> {
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

/// `respawn:` settings (docs/services.md, "Supervised services: respawn").
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

/// `health:` settings (SPEC §8.6; docs/services.md, "Health checks").
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub check: HealthCheck,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures that make the service unhealthy (at least 1).
    pub retries: u32,
    /// After each start, failures within this time do not count.
    pub start_period: Duration,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// A TCP connect to HOST:PORT succeeds.
    Tcp { host: String, port: u16 },
    /// A plain-HTTP GET is answered with a status from 200 to 399.
    Http {
        url: String,
        host: String,
        port: u16,
        path: String,
    },
    /// The command (program first) exits 0.
    Exec(Vec<String>),
}

/// Transport of an on-demand service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// `socket:` settings of an on-demand service (docs/inetd.md, "The super daemon").
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

/// The commands svc runs around a service (SPEC §8.2), each an argument vector whose program
/// is resolved like `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Run in order before the program; each must exit 0.
    pub pre_start: Vec<Vec<String>>,
    /// Run in order after the service has stopped (or a launched start failed).
    pub post_stop: Vec<Vec<String>>,
    /// Run before start, restart, reload and force-reload.
    pub config_test: Option<Vec<String>>,
}

/// The top-level keys a definition file gives, in file order, each with its line: what the
/// file said itself (not what was filled in from elsewhere), and where, for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys(pub Vec<(String, usize)>);

impl Keys {
    /// The line of top-level `key`, if the file gives it.
    pub fn line(&self, key: &str) -> Option<usize> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, l)| *l)
    }

    /// Whether the file gives top-level `key`.
    pub fn given(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// A validated service definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: ServiceName,
    /// Decided once from `script:`, `oneshot:`, `socket:` and `respawn:`; see [`Kind`].
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
    /// `limits.memory` and `limits.pids`: cgroup limits, not rlimits (§8.7).
    pub cgroup_limits: CgroupLimits,
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
    /// `env_file:` (§8.4), read at every start, in the order given.
    pub env_files: Vec<EnvFile>,
    /// `runtime_dir`: directories made under the runtime root for each launch (SPEC §8.3),
    /// each a name or two joined by one `/`.
    pub runtime_dir: Vec<String>,
    /// `runtime_dir_mode`: their mode.
    pub runtime_dir_mode: u32,
    /// `pre_start`, `post_stop` and `config_test` (SPEC §8.2).
    pub hooks: Hooks,
    /// A oneshot's `stop_exec`: the argument vector `stop` runs (program first).
    pub stop_exec: Option<Vec<String>>,
    /// `health`: the supervisor's periodic check of a supervised service (SPEC §8.6).
    pub health: Option<Health>,
    /// The keys the file gives, with their lines.
    pub keys: Keys,
    /// A `script:` service's INIT INFO block, whole (filled by [`super::resolve`]): what orders
    /// it among the others (SPEC §9), facilities and `Provides` included.
    pub lsb: Option<LsbHeader>,
}

/// The INIT INFO block of a service's script, with where each keyword was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsbHeader {
    pub script: PathBuf,
    pub info: crate::lsb::header::InitInfo,
    /// (keyword as written, line) for every keyword line of the block.
    pub lines: Vec<(String, usize)>,
}

impl LsbHeader {
    /// The line of `keyword` (any case), else the `### BEGIN INIT INFO` line.
    pub fn line(&self, keyword: &str) -> usize {
        self.lines
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map_or(self.info.begin_line, |(_, l)| *l)
    }
}

/// One `env_file:` entry: an absolute path; `optional` when written with a leading `-` (a
/// missing file is then skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    pub path: PathBuf,
    pub optional: bool,
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

    /// What the `svc lsb-script` shim says about the service (see [`crate::lsb::shim`]).
    pub fn lsb_service(&self) -> crate::lsb::shim::Service<'_> {
        crate::lsb::shim::Service {
            name: &self.name,
            requires: &self.requires,
            wants: &self.wants,
            runlevels: &self.runlevels,
            description: self.description.as_deref(),
        }
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

/// Global settings from `svc.yaml` (docs/commands.md, "Files").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub default_runlevel: Option<char>,
    /// `sysv_dir:` the SysV directory whose scripts svc runs (SPEC §9), an absolute path.
    pub sysv_dir: Option<PathBuf>,
    /// `serve:` the settings of `svc serve` (SPEC §10).
    pub serve: ServeSettings,
}

/// `serve:` in svc.yaml: where `svc serve` also listens on TCP, and the credentials TCP needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeSettings {
    /// `listen: "HOST:PORT"` (checked by [`super::validate::parse_host_port`]).
    pub listen: Option<String>,
    pub username: Option<String>,
    pub password: Option<PasswordHash>,
}

/// `serve.password`: never the password itself, its hash (supervisord's `{SHA}` form, or
/// `{SHA256}`), as raw digest bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `{SHA}` + 40 hex digits.
    Sha1([u8; 20]),
    /// `{SHA256}` + 64 hex digits.
    Sha256([u8; 32]),
}
