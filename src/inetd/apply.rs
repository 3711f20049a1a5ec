//! Applying the configuration to the super daemon (docs/inetd.md, "The super daemon" and "Access
//! control"), at start and on SIGHUP: the access rules are (re)read, and the served services are
//! brought in line with the definitions ([`super::load_definitions`]): new ones listen, removed
//! ones and moved sockets are closed first (so a port can pass to another service), a broken
//! definition keeps its last good one. Running servers are left alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::limits::Rates;
use super::listen::{self, Listener};
use super::{load_definitions, warn, Daemon, Loaded, Service};
use crate::access::Rules;
use crate::definition::Definition;

/// The access rules of `config`; their problems go to stderr.
pub(super) fn load_rules(config: &Path) -> Rules {
    let rules = Rules::load(config);
    for p in rules.problems() {
        eprintln!("{p}");
    }
    rules
}

impl Daemon<'_> {
    pub(super) fn served(&self) -> usize {
        self.services
            .values()
            .filter(|s| s.listener.is_some())
            .count()
    }

    /// Reads the definitions and brings the services in line: new ones listen, removed ones
    /// stop listening, a broken one keeps its last good definition. Running servers are left
    /// alone. `reload`: this is a SIGHUP (rules are re-read, the log reopened).
    pub(super) fn apply(&mut self, reload: bool) {
        if reload {
            self.log.reopen();
            self.rules = Arc::new(load_rules(&self.life.dirs.config));
        }
        let mut next: BTreeMap<String, Definition> = BTreeMap::new();
        for (name, loaded) in load_definitions(self.life) {
            match loaded {
                Loaded::Served(def) => {
                    next.insert(name, *def);
                }
                Loaded::NotOnDemand => {}
                Loaded::Broken(why) => match self.services.get(&name) {
                    Some(old) => {
                        warn(format_args!(
                            "{name}: invalid definition, keeping the last good one: {why}"
                        ));
                        next.insert(name, old.def.clone());
                    }
                    None => warn(format_args!(
                        "{name}: invalid definition, not served: {why}"
                    )),
                },
            }
        }
        // Removed and moved sockets are closed first, so a port can pass to another service.
        let names: Vec<String> = self.services.keys().cloned().collect();
        for name in names {
            match next.get(&name) {
                None => {
                    if let Some(gone) = self.services.remove(&name) {
                        // Its cgroup goes with its last server (now, if none runs).
                        if let Some(cg) = self.life.cgroup(&gone.def) {
                            if !cg.remove() && !self.retired.contains(&cg) {
                                self.retired.push(cg);
                            }
                        }
                    }
                    warn(format_args!("{name}: no longer served"));
                }
                Some(def) => {
                    let svc = self.services.get_mut(&name).expect("listed above");
                    let (old, new) = (svc.def.socket.as_ref(), def.socket.as_ref());
                    if old.map(listen::address) != new.map(listen::address) {
                        svc.listener = None;
                    }
                }
            }
        }
        for (name, def) in next {
            // Served again: its cgroup is its own again, not one to remove. (Its path is
            // worked out only when some cgroup waits for removal: a SIGHUP storm stays cheap.)
            if !self.retired.is_empty() {
                if let Some(cg) = self.life.cgroup(&def) {
                    self.retired.retain(|r| *r != cg);
                }
            }
            let svc = self.services.entry(name).or_insert_with(|| Service {
                def: def.clone(),
                listener: None,
                socket_id: 0,
                rates: Rates::default(),
                paused_until: None,
                checking: false,
                template: None,
            });
            svc.def = def;
            // Prepared again from what is there now, at its next connection.
            svc.template = None;
            if svc.listener.is_none() {
                let sock = svc
                    .def
                    .socket
                    .as_ref()
                    .expect("only socket services are kept");
                match Listener::bind(sock) {
                    Ok(l) => {
                        svc.listener = Some(l);
                        svc.socket_id = self.next_socket;
                        self.next_socket += 1;
                    }
                    Err(e) => warn(format_args!(
                        "{}: cannot listen on {}: {e}; not served",
                        svc.def.name,
                        listen::describe(sock)
                    )),
                }
            }
        }
        if reload {
            warn(format_args!(
                "reloaded: {} service(s) served",
                self.served()
            ));
        }
    }
}
