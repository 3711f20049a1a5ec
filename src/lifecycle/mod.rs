//! start, stop, reload and status of one service (docs/commands.md, "Starting and stopping").
//!
//! A service's kind ([`Kind`], decided once when its definition is validated) chooses how each
//! operation goes, in one `match` per operation here; the kinds live in their own modules:
//! - [`exec`]: a program svc launches and watches by its PID file (in the foreground, or
//!   `forking:` under a keeper, [`forking`]);
//! - [`supervised`]: a program run under svc's supervisor ([`crate::supervise`]);
//! - [`script`]: an LSB init script that starts and stops its daemon itself;
//! - [`oneshot`]: a task `start` runs to its end, `done` once it exited 0 (its record:
//!   [`done`]);
//! - on-demand (`socket:`): launched per connection by `svc inetd`
//!   ([`Lifecycle::connection_launch`]), never by `start`; its liveness is probed like the exec
//!   kind's.
//!
//! Around them: what the operations answer ([`state`]), why they fail ([`error`]), preparing a
//! launch ([`prepare`]) and probing liveness from PID file, record and /proc ([`probe`]).
//! This module decides; [`crate::process`] does. A service's liveness is always re-derived
//! ([`Lifecycle::probe`]); nothing is cached between commands. start and stop hold the
//! service's lock (`<state>/NAME.lock`, flock) so concurrent commands on one service cannot
//! interleave; the lock dies with the process, so a killed svc never leaves it stale.

pub(crate) mod done;
pub mod error;
pub(crate) mod exec;
pub(crate) mod forking;
pub(crate) mod oneshot;
pub(crate) mod prepare;
pub(crate) mod probe;
pub mod script;
pub mod state;
pub(crate) mod supervised;

use std::io;

use crate::definition::{Definition, Kind, Program};
use crate::exit::Code;
use crate::paths::Dirs;
use crate::process::group::{self, Groups};
use crate::process::launch::Launch;
use crate::process::procfs::Procfs;

pub use error::LifecycleError;
pub(crate) use prepare::{credentials, program};
pub use state::{Finished, Liveness, Started, State, Status, Stopped};

type Result<T> = std::result::Result<T, LifecycleError>;

/// The lifecycle operations, bound to one set of directories.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub dirs: Dirs,
    pub procfs: Procfs,
    ancestors: std::sync::OnceLock<Vec<i32>>,
}

/// An exclusive per-service lock, released when dropped (or when svc dies).
pub type ServiceLock = crate::lock::Lock;

/// The program `start` (or a supervisor) launches for `def`: on-demand (`socket:`) services
/// are not started this way.
pub(crate) fn startable(def: &Definition) -> Result<&str> {
    match def.kind {
        Kind::OnDemand => Err(LifecycleError::OnDemand {
            service: def.name.clone(),
        }),
        Kind::Exec | Kind::Supervised | Kind::Script | Kind::Oneshot => match &def.program {
            Program::Exec(e) => Ok(e),
            Program::Script(s) => s.to_str().ok_or_else(|| LifecycleError::ScriptNotUtf8 {
                service: def.name.clone(),
            }),
        },
    }
}

impl Lifecycle {
    pub fn new(dirs: Dirs) -> Lifecycle {
        Lifecycle {
            dirs,
            procfs: Procfs::system(),
            ancestors: std::sync::OnceLock::new(),
        }
    }

    /// Takes the service's lock, waiting for a concurrent command to finish.
    pub fn lock(&self, def: &Definition) -> Result<ServiceLock> {
        self.dirs.ensure_state().map_err(LifecycleError::State)?;
        let path = self.dirs.lock(&def.name);
        let named = |source: io::Error| LifecycleError::Lock {
            path: path.clone(),
            source,
        };
        crate::lock::exclusive(crate::lock::open(&path).map_err(named)?).map_err(named)
    }

    /// Whether another svc holds the service's lock right now (a start in progress).
    pub(crate) fn lock_held(&self, def: &Definition) -> bool {
        crate::lock::is_held(&self.dirs.lock(&def.name))
    }

    /// svc itself and its ancestors: never a service.
    pub(crate) fn ancestors(&self) -> &[i32] {
        self.ancestors
            .get_or_init(|| group::ancestors(&self.procfs))
    }

    /// Signals process groups, sparing svc's own and its ancestors'.
    pub(crate) fn groups(&self) -> Groups<'_> {
        Groups::new(&self.procfs, self.ancestors())
    }

    /// Decides whether the service runs (docs/security.md, "How svc decides a service runs").
    pub fn probe(&self, def: &Definition) -> Liveness {
        match def.kind {
            Kind::Script => script::probe(self, def),
            Kind::Oneshot => oneshot::probe(self, def),
            Kind::Exec | Kind::Supervised | Kind::OnDemand => probe::probe(self, def),
        }
    }

    /// `status` of one service; a supervised one's supervisor adds restarts, the last exit and
    /// the `failed` and restarting (`starting`) states.
    pub fn status(&self, def: &Definition) -> Status {
        match def.kind {
            Kind::Script => script::status(self, def),
            Kind::Supervised => supervised::status(self, def),
            Kind::Oneshot => oneshot::status(self, def),
            Kind::Exec | Kind::OnDemand => probe::status(self, def),
        }
    }

    /// Starts one service (its `requires` are the caller's business).
    pub fn start(&self, def: &Definition) -> Result<Started> {
        match def.kind {
            Kind::OnDemand => Err(LifecycleError::OnDemand {
                service: def.name.clone(),
            }),
            Kind::Script => {
                let _lock = self.lock(def)?;
                script::start(self, def)
            }
            Kind::Exec => {
                let exec = startable(def)?;
                let _lock = self.lock(def)?;
                exec::start(self, def, exec)
            }
            Kind::Supervised => {
                let _lock = self.lock(def)?;
                supervised::start(self, def)
            }
            Kind::Oneshot => {
                let exec = startable(def)?;
                let _lock = self.lock(def)?;
                oneshot::start(self, def, exec)
            }
        }
    }

    /// Stops one service (docs/commands.md, "Starting and stopping").
    pub fn stop(&self, def: &Definition) -> Result<Stopped> {
        let _lock = self.lock(def)?;
        match def.kind {
            Kind::Script => script::stop(self, def),
            Kind::Supervised => supervised::stop(self, def),
            Kind::Oneshot => oneshot::stop(self, def),
            Kind::Exec | Kind::OnDemand => exec::stop(self, def),
        }
    }

    /// Reloads one service (docs/commands.md, "Starting and stopping"): `reload_signal`, or an LSB
    /// script's `reload`. A oneshot has no `reload_signal` (validation refuses it).
    pub fn reload(&self, def: &Definition) -> Result<i32> {
        match def.kind {
            Kind::Script => script::reload(self, def),
            Kind::Exec | Kind::Supervised | Kind::OnDemand | Kind::Oneshot => {
                exec::reload(self, def)
            }
        }
    }

    /// The launch of a super-daemon service for one connection (docs/inetd.md, "The super daemon"):
    /// the definition's program, user, environment, directory and limits, with the connection as
    /// stdin and stdout and the service log as stderr.
    pub fn connection_launch(
        &self,
        def: &Definition,
        connection: std::os::fd::OwnedFd,
    ) -> Result<Launch> {
        match &def.program {
            Program::Exec(exec) => exec::connection_launch(self, def, exec, connection),
            Program::Script(_) => Err(LifecycleError::ScriptOnDemand {
                service: def.name.clone(),
            }),
        }
    }

    /// The `svc supervise NAME` process of a supervised service; returns its exit code.
    pub fn supervise(&self, def: &Definition) -> Code {
        supervised::supervise(self, def)
    }
}
