//! An in-memory [`Backend`] for the method tests: a fleet of services in every state.

use crate::lifecycle::Finished;
use crate::output::StatusRow;
use crate::serve::{Backend, Fault, Service};
use crate::supervise::state::LastExit;
use nix::sys::signal::Signal;
use std::path::Path;
use std::sync::Mutex;

pub fn row(name: &str, state: &'static str, pid: Option<i32>) -> StatusRow {
    StatusRow {
        name: name.into(),
        state,
        pid,
        uptime_s: pid.map(|_| 62),
        ..StatusRow::default()
    }
}

pub fn svc(row: StatusRow) -> Service {
    Service {
        row,
        on_demand: false,
        log: None,
    }
}

/// Services in memory; `broken` cannot start, `stuck` cannot stop.
pub struct Fake {
    services: Mutex<Vec<Service>>,
    pub signals: Mutex<Vec<(String, Signal)>>,
}

impl Fake {
    pub fn new(services: Vec<Service>) -> Fake {
        Fake {
            services: Mutex::new(services),
            signals: Mutex::new(vec![]),
        }
    }

    fn set(&self, name: &str, state: &'static str, pid: Option<i32>) {
        let mut all = self.services.lock().unwrap();
        if let Some(s) = all.iter_mut().find(|s| s.row.name == name) {
            s.row.state = state;
            s.row.pid = pid;
            s.row.uptime_s = pid.map(|_| 1);
        }
    }
}

impl Backend for Fake {
    fn services(&self) -> Vec<Service> {
        self.services.lock().unwrap().clone()
    }
    fn service(&self, name: &str) -> Result<Service, Fault> {
        let all = self.services.lock().unwrap();
        let found = all.iter().find(|s| s.row.name == name).cloned();
        found.ok_or_else(|| Fault::new(Fault::BAD_NAME, name))
    }
    fn start(&self, name: &str) -> Result<(), Fault> {
        let s = self.service(name)?;
        match (s.row.state, name) {
            ("running" | "starting", _) => Err(Fault::new(Fault::ALREADY_STARTED, name)),
            (_, "broken") => Err(Fault::new(Fault::SPAWN_ERROR, "broken: exited 1")),
            _ => {
                self.set(name, "running", Some(4242));
                Ok(())
            }
        }
    }
    fn stop(&self, name: &str) -> Result<(), Fault> {
        let s = self.service(name)?;
        match (s.row.state, name) {
            ("running" | "starting", "stuck") => {
                Err(Fault::new(Fault::FAILED, "stuck: still runs"))
            }
            ("running" | "starting", _) => {
                self.set(name, "stopped", None);
                Ok(())
            }
            _ => Err(Fault::new(Fault::NOT_RUNNING, name)),
        }
    }
    fn signal(&self, name: &str, signal: Signal) -> Result<(), Fault> {
        match self.service(name)?.row.state {
            "running" | "starting" => {
                self.signals.lock().unwrap().push((name.into(), signal));
                Ok(())
            }
            _ => Err(Fault::new(Fault::NOT_RUNNING, name)),
        }
    }
    fn runlevel(&self) -> Option<char> {
        Some('2')
    }
    fn pid(&self) -> i32 {
        777
    }
}

/// web (running, with a log), db (stopped), job (done), bad (failed), flap (starting, no pid),
/// gone (dead), sock (socket:), quiet (running, `log: none`), broken, stuck.
pub fn fleet(dir: &Path) -> Fake {
    let mut web = svc(row("web", "running", Some(100)));
    web.log = Some(dir.join("web.log"));
    let mut job = svc(row("job", "done", None));
    job.row.finished = Some(Finished {
        how: "exited 0".into(),
        ago_s: 10,
    });
    let mut bad = svc(row("bad", "failed", None));
    bad.row.restarts = Some(5);
    bad.row.last_exit = Some(Some(LastExit {
        code: Some(3),
        signal: None,
        error: None,
    }));
    let mut sock = svc(row("sock", "stopped", None));
    sock.on_demand = true;
    let mut db = svc(row("db", "stopped", None));
    db.log = Some(dir.join("missing.log"));
    Fake::new(vec![
        bad,
        svc(row("broken", "stopped", None)),
        db,
        svc(row("flap", "starting", None)),
        svc(row("gone", "dead", None)),
        job,
        svc(row("quiet", "running", Some(101))),
        sock,
        svc(row("stuck", "running", Some(102))),
        web,
    ])
}
