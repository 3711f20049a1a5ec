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
//!   records, the launcher (the crate's only `unsafe` lives there), users and groups.
//! - [`lifecycle`]: start, stop, status and reload of one service (SPEC §3), built on `process`.
//! - [`runlevel`]: rcN.d entries (SPEC §4).
//! - [`output`]: every line svc prints, colour rules and JSON (SPEC §6).
//! - [`cmd`]: one function per command, the only layer combining the others.
//! - [`exit`]: the LSB exit codes.

pub mod cli;
pub mod cmd;
pub mod definition;
pub mod exit;
pub mod lifecycle;
pub mod lock;
pub mod name;
pub mod output;
pub mod paths;
pub mod process;
pub mod ready;
pub mod runlevel;
pub mod timeline;
pub mod trust;
pub mod users;
