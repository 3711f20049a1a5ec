//! svc — a SysV init-script style service manager.
//!
//! The binary (`src/main.rs`) only parses the command line and maps the outcome to an LSB exit
//! code; everything else lives here, one module per concept:
//!
//! - [`paths`]: where configuration, state and logs live (docs/commands.md, "Files").
//! - [`name`]: the `ServiceName` newtype; nothing joins a name to a path without it.
//! - [`definition`]: the YAML service definitions (svc.yaml(5)): read once with positions
//!   (the only module that knows about YAML), validated without I/O, then resolved (users, a
//!   script's INIT INFO) in one named step; a service's `Kind` is decided there.
//! - [`process`]: everything that touches PIDs: /proc parsing, pidfds, PID files, identity
//!   records and the launcher, whose child runs only async-signal-safe syscalls between fork
//!   and exec; and the start-up memory long-running processes give back.
//! - [`users`], [`trust`], [`lock`]: strict user/group resolution, who may write a file, flocks.
//! - [`regular`]: opening files another user may control (logs, rule files, definitions)
//!   without blocking on a FIFO, regular files only, symlinks refused or followed as asked.
//! - [`ready`]: readiness checks; [`timeline`]: the boot timeline behind `svc analyze`.
//! - [`lifecycle`]: start, stop, status and reload of one service (docs/commands.md), one
//!   `match` on its `Kind` per operation: the exec kind (and a forking launch under its
//!   keeper), the supervised kind, the script kind (`script: /etc/init.d/foo`).
//! - [`supervise`]: the supervisor of a `respawn:` service and its log rotation (docs/services.md).
//! - [`lsb`]: the LSB init-script format: INIT INFO headers read, shims for `svc lsb-script`
//!   written.
//! - [`runlevel`]: rcN.d entries, S/K links, the one dependency graph (`requires`/`wants`:
//!   cycles, order) and the pure plan and schedule of a switch (docs/commands.md).
//! - [`clock`]: every date, time and duration svc writes.
//! - [`access`], [`inetd`], [`securelog`]: the super daemon and its access control (docs/inetd.md).
//! - [`serve`]: `svc serve`'s protocols (SPEC §10): supervisord's XML-RPC, Prometheus metrics
//!   and the status page, over a backend the `serve` command gives it.
//! - [`init`]: svc as PID 1: reaps zombies, forwards signals, boots and shuts down.
//! - [`logview`]: reading and following a service's log through its rotations (`svc logs`).
//! - [`output`]: every line svc prints, colour rules and JSON.
//! - [`cli`]: the command line (clap): commands, flags, help text; imports nothing of the crate.
//! - [`docgen`]: the svc(8) page and shell completions, generated from the clap `Command` it is
//!   given (the binary gives it [`cli`]'s) and from [`exit`]'s table.
//! - [`cmd`]: one function per command, the only layer combining the others.
//! - [`exit`]: the LSB exit codes and the one table of what each means.
//!
//! `unsafe` is confined to small places, each with a `// SAFETY:` comment (the `[lints]` of
//! Cargo.toml deny an undocumented one): the launcher, its child side and its keeper (the
//! child subreaper of a forking launch), pidfd and poll syscalls (`process::handle`),
//! madvise/malloc_trim (`process::memory`), flock (`lock`), waitpid, prctl and clock_gettime in
//! the supervisor, the fork of a switch's worker processes (`process::worker`), and the
//! pre_exec of `svc init` that gives the main program an empty signal mask and the terminal.
//! Plain syscalls that nix or std wrap go through the wrapper.

pub mod access;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod definition;
pub mod docgen;
pub mod exit;
pub mod fdlimit;
pub mod inetd;
pub mod init;
pub mod lifecycle;
pub mod lock;
pub mod logview;
pub mod lsb;
pub mod name;
pub mod output;
pub mod parallel;
pub mod paths;
pub mod process;
pub mod ready;
pub mod regular;
pub mod runlevel;
pub mod securelog;
pub mod serve;
pub mod supervise;
pub mod timeline;
pub mod trust;
pub mod users;
