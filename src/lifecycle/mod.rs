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
//!   ([`Lifecycle::connection_template`]), never by `start`; its liveness is probed like the exec
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
pub(crate) mod hooks;
pub(crate) mod oneshot;
pub(crate) mod prepare;
pub(crate) mod probe;
pub(crate) mod rundir;
pub mod script;
pub mod state;
pub(crate) mod supervised;

use std::io;

use crate::definition::{Definition, Kind, Program};
use crate::exit::Code;
use crate::paths::Dirs;
use crate::process::cgroup::Cgroup;
use crate::process::group::{self, Groups};
use crate::process::launch::Launch;
use crate::process::procfs::Procfs;

pub use error::LifecycleError;
pub(crate) use prepare::{credentials, program};
pub(crate) use prepare::{env_files, BASE_ENV};
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

    /// The service's cgroup (SPEC §8.7); `None` without containment.
    pub(crate) fn cgroup(&self, def: &Definition) -> Option<Cgroup> {
        Cgroup::of(&self.dirs.state, def.name.as_str())
    }

    /// The cgroup a stop ends after the process group (§8.7): none for on-demand services,
    /// whose cgroups are left to `svc inetd` (its servers hold them).
    pub(crate) fn stop_cgroup(&self, def: &Definition) -> Option<Cgroup> {
        self.cgroup(def).filter(|_| def.kind != Kind::OnDemand)
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
        let st = match def.kind {
            Kind::Script => script::status(self, def),
            Kind::Supervised => supervised::status(self, def),
            Kind::Oneshot => oneshot::status(self, def),
            Kind::Exec | Kind::OnDemand => probe::status(self, def),
        };
        match def.kind {
            Kind::Exec | Kind::Supervised | Kind::Script => self.with_leftovers(def, st),
            // A task's processes end with it; a super daemon's servers are its own business.
            Kind::Oneshot | Kind::OnDemand => st,
        }
    }

    /// §8.7: a service whose main process is gone while its cgroup still holds processes is
    /// dead, with a note naming them.
    fn with_leftovers(&self, def: &Definition, mut st: Status) -> Status {
        if !matches!(st.state, State::Stopped | State::Dead | State::Failed) {
            return st;
        }
        let Some(cg) = self.cgroup(def) else {
            return st;
        };
        let pids = cg.procs();
        if pids.is_empty() {
            return st;
        }
        const SHOWN: usize = 8;
        let mut named: Vec<String> = pids
            .iter()
            .take(SHOWN)
            .map(|p| match self.procfs.stat(*p) {
                Some(s) => format!("{p} ({})", s.comm),
                None => p.to_string(),
            })
            .collect();
        if pids.len() > SHOWN {
            named.push(format!("and {} more", pids.len() - SHOWN));
        }
        let left = format!(
            "its main process is gone but its cgroup still holds {}: {}",
            match pids.len() {
                1 => "1 process".to_string(),
                n => format!("{n} processes"),
            },
            named.join(", ")
        );
        st.state = State::Dead;
        st.note = Some(match st.note.take() {
            Some(n) => format!("{n}; {left}"),
            None => left,
        });
        st
    }

    /// Starts one service (its `requires` are the caller's business); its `config_test`, if
    /// any, runs first unless the service already runs.
    pub fn start(&self, def: &Definition) -> Result<Started> {
        self.start_with(def, true)
    }

    /// `start` whose caller has run `config_test` already (`restart`, before it stopped).
    pub fn start_tested(&self, def: &Definition) -> Result<Started> {
        self.start_with(def, false)
    }

    /// What a restart checks before it stops anything: the env files the start will read
    /// (§8.4) and the service's `config_test` (§8.2), if it has one. Either failing is exit 6,
    /// and the running service is left as it was: a broken configuration never takes a
    /// working service down.
    pub fn config_test(&self, def: &Definition) -> Result<()> {
        env_files(def)?;
        hooks::config_test(self, def)
    }

    fn start_with(&self, def: &Definition, test: bool) -> Result<Started> {
        let started = self.start_kind(def, test);
        if started.is_err() {
            self.after_failed_start(def);
        }
        started
    }

    /// §8.7: a start that failed leaves nothing in the service's cgroup — unless the service
    /// runs after all (an error that did not touch it) or its supervisor is still there.
    fn after_failed_start(&self, def: &Definition) {
        let Some(cg) = self.cgroup(def).filter(|_| def.kind != Kind::OnDemand) else {
            return;
        };
        if !cg.exists() {
            return;
        }
        let running = matches!(self.probe(def), Liveness::Running { .. })
            || (def.kind == Kind::Supervised
                && matches!(
                    crate::supervise::find(&self.dirs, &self.procfs, def),
                    crate::supervise::Found::Alive { .. }
                ));
        if !running {
            let _lock = self.lock(def);
            let soft = std::time::Instant::now() + def.stop_timeout;
            if cg
                .end(&self.procfs, def.stop_signal, soft, self.ancestors())
                .is_ok()
            {
                let _ = cg.remove();
            }
        }
    }

    fn start_kind(&self, def: &Definition, test: bool) -> Result<Started> {
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
                exec::start(self, def, exec, test)
            }
            Kind::Supervised => {
                let _lock = self.lock(def)?;
                supervised::start(self, def, test)
            }
            Kind::Oneshot => {
                let exec = startable(def)?;
                let _lock = self.lock(def)?;
                oneshot::start(self, def, exec, test)
            }
        }
    }

    /// Stops one service (docs/commands.md, "Starting and stopping").
    pub fn stop(&self, def: &Definition) -> Result<Stopped> {
        let _lock = self.lock(def)?;
        // Whether there is anything to stop (for `post_stop`), asked only when it matters.
        let ran = !def.hooks.post_stop.is_empty() && self.has_run(def);
        let soft = std::time::Instant::now() + def.stop_timeout;
        let stopped = match def.kind {
            Kind::Script => script::stop(self, def),
            Kind::Supervised => supervised::stop(self, def),
            Kind::Oneshot => oneshot::stop(self, def),
            Kind::Exec | Kind::OnDemand => exec::stop(self, def),
        }?;
        // §8.7: then whatever is left in the cgroup, before post_stop runs.
        let cgroup = self.stop_cgroup(def);
        // An empty cgroup is removed at once (rmdir refuses one with processes): nothing to read.
        let empty = cgroup.as_ref().is_none_or(|cg| cg.remove());
        let contained = match empty {
            true => Ok(()),
            false => self.end_cgroup(cgroup.as_ref(), def, soft),
        };
        // post_stop first (§8.2), then the runtime directories (§8.3), whatever post_stop did.
        let stopped = hooks::after_stop(self, def, stopped, ran);
        // What post_stop commands left, then the cgroup itself.
        let ended = match def.hooks.post_stop.is_empty() {
            true => Ok(()),
            false => {
                let soft = std::time::Instant::now() + def.stop_timeout;
                self.end_cgroup(cgroup.as_ref(), def, soft)
            }
        };
        if let (Some(cg), Ok(()), Ok(())) = (&cgroup, &contained, &ended) {
            if !empty || !def.hooks.post_stop.is_empty() {
                let _ = cg.remove();
            }
        }
        let removed = self.remove_runtime_dirs(def);
        let stopped = stopped?;
        contained?;
        ended?;
        removed?;
        Ok(self.still_escaped(stopped))
    }

    /// §8.7: ends every process left in the service's cgroup (stop_signal, then KILL at
    /// `soft`); nothing to do without containment (`None`).
    fn end_cgroup(
        &self,
        cgroup: Option<&Cgroup>,
        def: &Definition,
        soft: std::time::Instant,
    ) -> Result<()> {
        let Some(cg) = cgroup else {
            return Ok(());
        };
        cg.end(&self.procfs, def.stop_signal, soft, self.ancestors())
            .map_err(|pids| LifecycleError::CgroupSurvived {
                service: def.name.clone(),
                pids,
            })
    }

    /// A stop's list of processes that had left the process group, less those the cgroup
    /// took with it.
    fn still_escaped(&self, stopped: Stopped) -> Stopped {
        match stopped {
            Stopped::Stopped { pid, escaped } => Stopped::Stopped {
                pid,
                escaped: escaped
                    .into_iter()
                    .filter(|(p, _)| self.procfs.stat(*p).is_some_and(|s| !s.is_zombie()))
                    .collect(),
            },
            other => other,
        }
    }

    /// The last step of a stop, and of a start that failed after its launch was prepared: the
    /// runtime directories go with their contents (SPEC §8.3; nothing without `runtime_dir`).
    /// `post_stop` (§8.2) runs before this.
    pub(crate) fn remove_runtime_dirs(&self, def: &Definition) -> Result<()> {
        if def.runtime_dir.is_empty() {
            return Ok(());
        }
        // The owner svc gives what it makes: a parent of `a/b` with another is not svc's.
        let owner = prepare::owner(credentials(def).ok().flatten().as_ref());
        rundir::remove(&self.dirs, def, owner).map_err(LifecycleError::RuntimeDir)
    }

    /// Whether the service runs, has died, or has a live supervisor: not cleanly stopped.
    fn has_run(&self, def: &Definition) -> bool {
        !matches!(self.probe(def), Liveness::Stopped)
            || (def.kind == Kind::Supervised
                && matches!(
                    crate::supervise::find(&self.dirs, &self.procfs, def),
                    crate::supervise::Found::Alive { .. }
                ))
    }

    /// Reloads one service (docs/commands.md, "Starting and stopping"): `reload_signal`, or an LSB
    /// script's `reload`. A oneshot has no `reload_signal` (validation refuses it). Without
    /// one, reload exits 3 (SPEC §3.3) before `config_test`, which guards only a real reload.
    pub fn reload(&self, def: &Definition) -> Result<i32> {
        match def.kind {
            Kind::Script => script::reload(self, def),
            Kind::Exec | Kind::Supervised | Kind::OnDemand | Kind::Oneshot => {
                if def.reload_signal.is_some() {
                    hooks::config_test(self, def)?;
                }
                exec::reload(self, def)
            }
        }
    }

    /// Sends `sig` to the running service's main process (`svc serve`'s `signalProcess`, SPEC
    /// §10), with the identity checks of `reload`: the PID signalled.
    pub fn signal(&self, def: &Definition, sig: nix::sys::signal::Signal) -> Result<i32> {
        exec::signal(def, self.probe(def), sig)
    }

    /// The launch of a super-daemon service (docs/inetd.md, "The super daemon"): the
    /// definition's program, user, environment, directory and limits, with the service log as
    /// stderr; prepared once and forked for each connection ([`Launch::fork_on`]).
    pub fn connection_template(&self, def: &Definition) -> Result<Launch> {
        match &def.program {
            Program::Exec(exec) => exec::connection_template(self, def, exec),
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
