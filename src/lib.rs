//! svc — a SysV init-script style service manager.
//!
//! The binary (`src/main.rs`) only parses the command line and maps the outcome to an LSB exit
//! code; everything else lives here, one module per concept:
//!
//! - [`paths`]: where configuration, state and logs live (SPEC §1).
//! - [`name`]: the `ServiceName` newtype; nothing joins a name to a path without it.
//! - [`definition`]: the YAML service definitions and their validation (SPEC §2); the only
//!   module that knows about YAML.
//! - [`process`]: everything that touches PIDs: /proc parsing, pidfds, PID files, identity
//!   records and the launcher, whose child runs only async-signal-safe syscalls between fork
//!   and exec.
//! - [`users`], [`trust`], [`lock`]: strict user/group resolution, who may write a file, flocks.
//! - [`ready`]: readiness checks; [`timeline`]: the boot timeline behind `svc analyze`.
//! - [`docgen`]: the svc(8) page and shell completions, generated from [`cli`].
//!
//! `unsafe` is confined to small commented places: the launcher, pidfd and poll syscalls
//! (`process::handle`), flock (`lock`), and the fork of a switch's worker processes.
//! - [`lifecycle`]: start, stop, status and reload of one service (SPEC §3), built on `process`.
//! - [`runlevel`]: rcN.d entries, S/K links and the pure plan of a switch (SPEC §4).
//! - [`output`]: every line svc prints, colour rules and JSON (SPEC §6).
//! - [`logview`]: reading and following a service's log through its rotations (`svc logs`).
//! - [`cmd`]: one function per command, the only layer combining the others.
//! - [`init`]: svc as PID 1: reaps zombies, forwards signals, boots and shuts down (one
//!   commented `unsafe`: the pre_exec that gives the main program the terminal).
//! - [`exit`]: the LSB exit codes.
//! - [`lsb`]: the LSB init-script format: INIT INFO headers read, shims for `svc lsb-script` written.
//! - [`legacy`]: LSB init scripts run as services (`script: /etc/init.d/foo`).

pub mod access;
pub mod cli;
pub mod cmd;
pub mod definition;
pub mod docgen;
pub mod exit;
pub mod inetd;
pub mod init;
pub mod legacy;
pub mod lifecycle;
pub mod lock;
pub mod logview;
pub mod lsb;
pub mod name;
pub mod output;
pub mod paths;
pub mod process;
pub mod ready;
pub mod runlevel;
pub mod securelog;
pub mod supervise;
pub mod timeline;
pub mod trust;
pub mod users;
