//! The [`Backend`] of `svc serve` on this machine; faults with supervisord's codes and svc's
//! reason as their text.
//!
//! A start or a stop runs the command line itself — `svc start NAME` / `svc stop NAME`, this
//! very binary with the same directories — so it takes the same code path, locks and identity
//! checks, and a daemon it launches is the child of that short-lived process, not of `svc
//! serve`: nothing is left for the server to reap, and nothing forks inside a threaded server.
//! Reads (`status`, usage) and signals run in-process, as `svc status` and `svc reload` do.

use std::process::{Command, Stdio};

use super::super::{status, Context};
use crate::definition::{self, Definition, DefinitionError, Failed, Kind};
use crate::lifecycle::{Lifecycle, State, Status};
use crate::name::ServiceName;
use crate::output::Output;
use crate::output::StatusRow;
use crate::paths::Dirs;
use crate::serve::{Backend, Fault, Service};

/// The services of one configuration (the directories `svc serve` was given).
pub struct Local {
    dirs: Dirs,
}

impl Local {
    pub fn new(dirs: Dirs) -> Local {
        Local { dirs }
    }

    /// A context for one request's reads (quiet: what it finds goes into the answer).
    fn context(&self) -> Context {
        Context {
            dirs: self.dirs.clone(),
            life: Lifecycle::new(self.dirs.clone()),
            out: Output::new(true, true),
        }
    }

    /// The definition of service `name`: `BAD_NAME` when no valid definition has that name.
    fn load(&self, ctx: &Context, name: &str) -> Result<(ServiceName, Definition), Fault> {
        let bad = |why: String| Fault::new(Fault::BAD_NAME, why);
        let service = ServiceName::new(name).map_err(|e| bad(e.to_string()))?;
        let def = definition::load(&ctx.dirs, &service).map_err(|e| match e {
            DefinitionError::NotFound { .. } => bad(name.to_string()),
            other => bad(format!("{name}: {other}")),
        })?;
        Ok((service, def))
    }

    /// [`Local::load`] for a process: a `socket:` service is none (SPEC §10), `BAD_NAME`.
    fn process(&self, ctx: &Context, name: &str) -> Result<(ServiceName, Definition), Fault> {
        let (service, def) = self.load(ctx, name)?;
        if def.kind == Kind::OnDemand {
            let why = format!("{name} is a socket: service, not a process");
            return Err(Fault::new(Fault::BAD_NAME, why));
        }
        Ok((service, def))
    }
}

impl Local {
    /// Runs `svc VERB NAME` with this server's directories: `Ok` on exit 0, else svc's reason
    /// (its stderr, one line) or its exit status.
    fn run_cli(&self, verb: &str, name: &ServiceName) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find svc itself: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("--quiet")
            .arg("--no-color")
            .arg("--config-dir")
            .arg(&self.dirs.config)
            .arg("--state-dir")
            .arg(&self.dirs.state)
            .arg("--log-dir")
            .arg(&self.dirs.log);
        if let Some(sysv) = &self.dirs.sysv {
            cmd.arg("--sysv-dir").arg(sysv);
        }
        let out = cmd
            .arg(verb)
            .arg("--")
            .arg(name.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run svc {verb}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(|l| l.strip_prefix("svc: ").unwrap_or(l).trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        Err(match said.is_empty() {
            true => format!("svc {verb} {name}: {}", out.status),
            false => said.join("; "),
        })
    }
}

/// Whether a status is one of supervisord's running states (STARTING, RUNNING, BACKOFF).
fn running(status: &Status) -> bool {
    matches!(status.state, State::Running | State::Starting)
}

/// `FAILED` for a stop or a signal of the service that is this very `svc serve`: the answer
/// could never reach the client (`svc stop NAME` from a shell does it).
fn not_myself(name: &str, status: &Status) -> Result<(), Fault> {
    match status.pid == Some(std::process::id() as i32) {
        true => Err(Fault::new(
            Fault::FAILED,
            format!("{name} is this svc serve; it does not stop or signal itself (`svc stop {name}` does)"),
        )),
        false => Ok(()),
    }
}

impl Backend for Local {
    fn services(&self) -> Vec<Service> {
        let ctx = self.context();
        let Ok(loaded) = definition::load_all(&ctx.dirs) else {
            return Vec::new();
        };
        let levels = crate::runlevel::start_levels_all(&ctx.dirs);
        let mut out: Vec<Service> = loaded
            .ok
            .iter()
            .map(|def| {
                let lv = levels.get(def.name.as_str()).cloned().unwrap_or_default();
                status::service(&ctx, def, &lv).0
            })
            .collect();
        // A definition that no longer loads stays in sight, `unknown` with the reason: a
        // service whose file broke must not vanish from dashboards and alerts.
        out.extend(loaded.failed.iter().filter_map(|f| match f {
            Failed::Invalid { name, error, .. } => Some(Service {
                row: StatusRow {
                    name: name.to_string(),
                    state: State::Unknown.as_str(),
                    note: Some(error.to_string()),
                    ..StatusRow::default()
                },
                on_demand: false,
                log: None,
            }),
            Failed::BadName { .. } => None,
        }));
        out.sort_by(|a, b| a.row.name.cmp(&b.row.name));
        out
    }

    fn service(&self, name: &str) -> Result<Service, Fault> {
        let ctx = self.context();
        let (service, def) = self.load(&ctx, name)?;
        let levels = crate::runlevel::start_levels(&ctx.dirs, &service);
        Ok(status::service(&ctx, &def, &levels).0)
    }

    fn start(&self, name: &str) -> Result<(), Fault> {
        let ctx = self.context();
        let (service, def) = self.process(&ctx, name)?;
        // supervisord's running states: STARTING, RUNNING and BACKOFF (a supervised service
        // waiting to be restarted) are started already; so is a one-shot task done in this
        // boot, which `svc start` does not run again.
        let status = ctx.life.status(&def);
        if running(&status) || status.state == State::Done {
            return Err(Fault::new(Fault::ALREADY_STARTED, name));
        }
        self.run_cli("start", &service)
            .map_err(|why| Fault::new(Fault::SPAWN_ERROR, why))
    }

    fn stop(&self, name: &str) -> Result<(), Fault> {
        let ctx = self.context();
        let (service, def) = self.process(&ctx, name)?;
        let status = ctx.life.status(&def);
        if !running(&status) {
            return Err(Fault::new(Fault::NOT_RUNNING, name));
        }
        not_myself(name, &status)?;
        self.run_cli("stop", &service)
            .map_err(|why| Fault::new(Fault::FAILED, why))
    }

    fn signal(&self, name: &str, signal: nix::sys::signal::Signal) -> Result<(), Fault> {
        let ctx = self.context();
        let (_, def) = self.process(&ctx, name)?;
        not_myself(name, &ctx.life.status(&def))?;
        match ctx.life.signal(&def, signal) {
            Ok(_) => Ok(()),
            Err(crate::lifecycle::LifecycleError::NotRunning { .. }) => {
                Err(Fault::new(Fault::NOT_RUNNING, name))
            }
            Err(e) => Err(Fault::new(Fault::FAILED, e.to_string())),
        }
    }

    fn runlevel(&self) -> Option<char> {
        status::current_runlevel(&self.context())
    }
}
