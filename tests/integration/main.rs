//! Integration tests: the built `svc` binary against real processes in temporary directories.
//! One binary, one module per area; `util` holds the sandbox, waits and the process guard.

// TEMPORARY (issue 11, i11-rules): Cargo.toml's [lints] now deny undocumented unsafe blocks;
// drop this once the tests' unsafe blocks carry `// SAFETY:` comments.
#![allow(clippy::undocumented_unsafe_blocks)]

mod util;

mod access;
mod analyze;
mod ansible;
mod check;
mod check_host;
mod cli;
mod examples;
mod forking;
mod hygiene;
mod identity;
mod inetd;
mod init;
mod legacy;
mod lifecycle;
mod links;
mod logs;
mod lsb;
mod packaging;
mod procname;
mod readiness;
mod status;
mod supervise;
mod switch;
