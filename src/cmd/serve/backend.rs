//! The [`Backend`] of `svc serve` on this machine: every action through the command line's
//! code (`cmd::action`), locks and identity checks; faults with supervisord's codes.

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
}

impl Backend for Local {
    fn services(&self) -> Vec<Service> {
        let _ = &self.dirs;
        todo!("issue 15: backend")
    }
    fn service(&self, _name: &str) -> Result<Service, Fault> {
        todo!("issue 15: backend")
    }
    fn start(&self, _name: &str) -> Result<(), Fault> {
        todo!("issue 15: backend")
    }
    fn stop(&self, _name: &str) -> Result<(), Fault> {
        todo!("issue 15: backend")
    }
    fn signal(&self, _name: &str, _signal: nix::sys::signal::Signal) -> Result<(), Fault> {
        todo!("issue 15: backend")
    }
    fn runlevel(&self) -> Option<char> {
        todo!("issue 15: backend")
    }
}
