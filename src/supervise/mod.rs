//! Supervised services (docs/services.md, "Supervised services: respawn"): the small supervisor
//! process that stays with a `respawn:` service, and how `start`, `stop` and `status` deal with it.
//!
//! `svc start` launches the supervisor — the svc binary itself (`/proc/self/exe`, the hidden
//! command `supervise`) — through the same record-before-exec handshake as any program: its
//! identity is written to `<state>/NAME.supervisor` before it may run. The supervisor reads the
//! definition once, launches the service (identity record and PID file as for any service, so
//! `status`, `stop` and `reload` work the same, and keep working if the supervisor is killed),
//! waits for readiness the first time, and reports the outcome to `svc start` over a pipe (its
//! fd 3). From then on it sleeps in poll(2) on a signalfd and the service's output pipe —
//! nothing is polled on a timer — and:
//! - when the service exits on its own, records the exit status, ends what is left of its
//!   process group and launches it again: at once when it had run for at least
//!   [`STABLE_AFTER`], else after `backoff`, doubling on each quick exit (at most
//!   [`MAX_BACKOFF`]); after `max` restarts within `window` it gives up, leaves the state
//!   `failed` in its state file and exits;
//! - copies the service's stdout/stderr from the pipe into the log, rotating it by size
//!   ([`logsink`]); the service also holds the pipe's read end (as fd 3), so its writes never
//!   fail while no supervisor reads — they wait in the pipe for the next one;
//! - with a `health` check (SPEC §8.6), runs it every `interval` while the service runs, each
//!   bounded by its timeout ([`health`] for tcp and http; `exec` through [`Instances::check`]);
//!   after `retries` counted failures in a row it stops the service and restarts it as if it
//!   had exited, and keeps the verdict (`health`, `health_error`) in its state file;
//! - on SIGTERM (sent by `svc stop`) stops the service the way `svc stop` does (stop signal,
//!   KILL after stop_timeout, the whole process group), removes its records and exits.
//!
//! The supervisor's own messages go to its stderr: the container log when svc runs under
//! `svc init` (SVC_INIT_PID in the environment), else `<state>/NAME.supervisor.log`.
//!
//! The parts: the state file and finding a live supervisor ([`state`]), the report of the first
//! launch ([`report`]), the network health checks ([`health`]), the supervisor process itself
//! ([`supervisor`]) and the log it writes ([`logsink`]). `svc start`, `stop` and `status` of a
//! supervised service live with the other kinds in `crate::lifecycle`, which also gives the
//! supervisor its way to launch an instance and to run an `exec` check ([`Instances`]); nothing
//! here imports the lifecycle.

pub mod health;
pub mod logsink;
pub mod report;
pub mod state;
pub mod supervisor;

use std::time::Duration;

pub use state::{find, state_path, stderr_path, Found, Health, LastExit, Phase, SuperState};
pub use supervisor::{run, Instances, Pipe};

/// An instance that ran at least this long is restarted at once, and resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(1);
/// The backoff never grows beyond this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A supervisor quiet for this long after a restart gives back its start-up pages again.
pub const SHED_AFTER: Duration = Duration::from_secs(10);
/// The fd on which a supervisor reports its first launch to `svc start`.
pub const REPORT_FD: i32 = 3;
