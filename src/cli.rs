//! The command line (docs/commands.md): commands, flags and their help text, and the value sets of
//! its arguments ([`Shell`], [`Candidates`]).
//!
//! This module only declares; it imports nothing of the library. The svc(8) page and the
//! completion scripts are generated from the `clap::Command` built here, which `crate::docgen`
//! takes as its input (`Cli::command()`), so the two never drift and never import each other.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// What `svc --version` prints after `svc `: the crate version and the git commit built from
/// (set by build.rs; `unknown` outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("SVC_GIT_COMMIT"),
    ")"
);

/// A SysV init-script style service manager.
#[derive(Debug, Parser)]
#[command(name = "svc", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Configuration directory [env: SVC_CONFIG_DIR] [default: /etc/svc as root, else ~/.config/svc]
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Runtime state directory [env: SVC_STATE_DIR] [default: /run/svc as root, else $XDG_RUNTIME_DIR/svc or /tmp/svc-$UID]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log directory [env: SVC_LOG_DIR] [default: /var/log/svc as root, else ~/.local/state/svc/log]
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Run a SysV system's own scripts: DIR/init.d, DIR/rcN.d, DIR/insserv.conf, e.g. /etc [env: SVC_SYSV_DIR] [default: sysv_dir in svc.yaml, else none]
    #[arg(long, global = true, value_name = "DIR")]
    pub sysv_dir: Option<PathBuf>,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never colour the output (also: NO_COLOR in the environment)
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

// `defer`: each command's arguments are built only when that command is the one being parsed
// (or when help, completions and the man page build the whole tree). Building all of them up
// front was a third of the start-up of every call: ~35 page faults and ~0.3 ms (issue 16).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Start services (and the services they require)
    Start {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop services
    Stop {
        /// Also stop the running services that require them (dependants first)
        #[arg(long)]
        with_dependents: bool,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop then start services (starts them even if they were stopped)
    Restart {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Restart services that are running; do nothing for the others
    TryRestart {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send services their reload_signal (exit 3 if none is defined, 7 if not running)
    Reload {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Reload services that define reload_signal, restart the others
    ForceReload {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Show whether services run (one name: in detail; none: a table of all services)
    Status {
        /// Print a JSON array for scripts
        #[arg(long, conflicts_with = "prometheus")]
        json: bool,
        /// Print the Prometheus text format (for node_exporter's textfile collector)
        #[arg(long)]
        prometheus: bool,
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Print a service's log (-f: follow it)
    Logs {
        #[arg(value_name = "NAME")]
        name: String,
        /// Print only the last N lines (reaching into the rotated files NAME.log.1 …)
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<usize>,
        /// Keep printing what is appended, through log rotation, until interrupted
        #[arg(short, long)]
        follow: bool,
    },
    /// Validate every definition and runlevel directory and report all problems at once
    Check {
        /// Leave out what depends on this host: whether the programs, working and log
        /// directories exist and svc may switch to the `user:` (for a configuration meant for
        /// another machine or an image)
        #[arg(long)]
        no_host_checks: bool,
    },
    /// Create S/K links for a service in runlevels/rcN.d
    Enable {
        #[arg(value_name = "NAME")]
        name: String,
        /// Runlevels that start it, e.g. 2345 (default: the definition's `runlevels`, else 2345)
        #[arg(long, value_name = "LEVELS")]
        levels: Option<String>,
        /// Start number NN (default: start_priority, else computed from dependencies)
        #[arg(long, value_name = "NN")]
        start: Option<u8>,
        /// Stop number NN (default: stop_priority, else computed from dependencies)
        #[arg(long, value_name = "NN")]
        stop: Option<u8>,
    },
    /// Remove a service's S/K links from every runlevel
    Disable {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Show in which runlevels services start (chkconfig style)
    List {
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Change runlevel: stop the K entries that run, start the S entries that don't
    #[command(alias = "telinit")]
    Switch {
        #[arg(value_name = "RUNLEVEL")]
        level: String,
        #[command(flatten)]
        opts: SwitchOpts,
    },
    /// Run rcS.d, then runlevel N (default: default_runlevel from svc.yaml, else 3)
    Boot {
        #[arg(value_name = "RUNLEVEL")]
        level: Option<String>,
        #[command(flatten)]
        opts: SwitchOpts,
    },
    /// Print the previous and current runlevel, like runlevel(8)
    Runlevel,
    /// The super daemon: listen for every `socket:` service and spawn it per connection
    Inetd {
        /// Detach and run in the background, with a PID file (`<state>/inetd.pid`)
        #[arg(long)]
        daemon: bool,
    },
    /// Serve supervisord's XML-RPC, Prometheus metrics and a status page (UNIX socket, TCP)
    Serve {
        /// Also listen on TCP at HOST:PORT (needs serve.username and serve.password in svc.yaml)
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// The supervisor of a `respawn:` service (started by `svc start`, not by hand)
    #[command(hide = true)]
    Supervise {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Which verdict hosts.allow/hosts.deny give a client of a service, and the deciding rule
    AccessCheck {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(value_name = "ADDRESS")]
        address: String,
    },
    /// Print a shell completion script (bash, zsh or fish) on stdout
    Completions {
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the svc(8) manual page (roff) on stdout, generated from this command line
    #[command(hide = true)]
    Manpage,
    /// Print completion candidates, one a line: the service names of the configuration, or
    /// the runlevels (called by the completion scripts)
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(value_name = "KIND")]
        kind: Candidates,
    },
    /// Run as PID 1: boot, reap zombies, forward signals, switch to runlevel 0 on SIGTERM/SIGINT
    Init {
        /// Runlevel to boot into (default: default_runlevel from svc.yaml, else 3)
        #[arg(value_name = "RUNLEVEL")]
        level: Option<String>,
        /// The main program: run in the foreground after boot; init ends when it does
        #[arg(last = true, value_name = "COMMAND", value_parser = clap::value_parser!(std::ffi::OsString))]
        command: Vec<std::ffi::OsString>,
    },
    /// Show the last runlevel transition: slowest services first, and the critical chain
    Analyze {
        /// Write the timeline as an SVG picture to FILE
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Print the timeline as JSON
        #[arg(long)]
        json: bool,
        /// Show an earlier transition: 1 is the one before the last, up to 4 (see --list)
        #[arg(long, value_name = "N", default_value_t = 0)]
        transition: usize,
        /// List the recorded transitions, the last first, numbered for --transition
        #[arg(long, conflicts_with_all = ["svg", "transition"])]
        list: bool,
    },
    /// Print an LSB init script that runs svc for a service (--install DIR: write one per service)
    LsbScript {
        /// Write DIR/NAME (mode 0755) for each named service, or every defined one
        #[arg(long, value_name = "DIR")]
        install: Option<PathBuf>,
        #[arg(value_name = "NAME", required_unless_present = "install")]
        names: Vec<String>,
    },
}

// Options shared by `switch` and `boot`. A plain comment, not a doc comment: with the
// deferred subcommands (`defer = true` above) a doc comment here would become their about text.
#[derive(Debug, Clone, clap::Args)]
pub struct SwitchOpts {
    /// Print the plan without doing it
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the plan as JSON
    #[arg(long)]
    pub json: bool,
    /// Most services started or stopped at once (default: 16 per core)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// The shells `svc completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What `svc __complete` lists for the completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Candidates {
    /// The service names of `init.d/`.
    Services,
    /// 0 to 6 and S.
    Runlevels,
}
