//! Ordering by INIT INFO headers (SPEC §9; docs/lsb.md, "Ordering"): the [`Deps`] of every
//! service, with the names an LSB header uses resolved as insserv(8) resolves them.
//!
//! For a service with a header (a SysV script, a `script:` definition), unless its YAML gives
//! `requires`/`wants` itself: `Required-Start` are `requires`, `Should-Start` are `wants`,
//! `X-Start-Before: B` makes B want it; `Required-Stop` and `Should-Stop` are what must still run
//! while it stops, `X-Stop-After: B` makes B stop before it. A name is a service's name or a
//! name in some service's `Provides`; a facility (`$syslog`) is what insserv.conf maps it to
//! ([`Facilities`], read from the SysV directory) plus the services that provide it — its
//! members that are not marked optional (`+`) count as `requires` in `Required-*`, the others as
//! `wants`; a facility nothing provides is satisfied. `$all` sets [`Deps::all_start`] /
//! [`Deps::all_stop`]. A `Required-Start` name that resolves to nothing stays a `requires` on a
//! missing service (the switch leaves the dependant out, `svc check` names the header line, as
//! insserv refuses such a script); a `Should-*`, `Required-Stop` or `X-*` name that resolves to
//! nothing is ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::graph::{Deps, Graph};
use crate::definition::{self, sysv, Definition};
use crate::lsb::facilities::Facilities;
use crate::lsb::header::is_facility;
use crate::name::ServiceName;
use crate::paths::Dirs;

/// A problem of insserv.conf or a file of insserv.conf.d: file, line (when known), message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// `DIR/insserv.conf` and the files of `DIR/insserv.conf.d` (sorted, backups and hidden files
/// left out as in init.d), read as configuration files (never blocking, trusted as root).
/// Without a SysV directory or those files: no facilities.
pub fn facilities(dirs: &Dirs) -> (Facilities, Vec<FacilityProblem>) {
    let mut fac = Facilities::default();
    let mut problems = Vec::new();
    let Some(dir) = &dirs.sysv else {
        return (fac, problems);
    };
    let mut files = vec![dir.join("insserv.conf")];
    if let Ok(rd) = std::fs::read_dir(dir.join("insserv.conf.d")) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|f| !sysv::ignored(f)))
            .map(|e| e.path())
            .collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        match definition::read::read_trusted(&file) {
            Ok(text) => problems.extend(fac.add_text(&text).into_iter().map(|p| FacilityProblem {
                file: file.clone(),
                line: Some(p.line),
                message: p.message,
            })),
            Err(definition::read::ReadError::Missing) => {}
            Err(definition::read::ReadError::Other(why)) => problems.push(FacilityProblem {
                file,
                line: None,
                message: why,
            }),
        }
    }
    (fac, problems)
}

/// A `Required-Start` name of a header that no service has or provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub service: ServiceName,
    pub name: String,
    /// The script whose header names it, and the line of `Required-Start`.
    pub script: PathBuf,
    pub line: usize,
}

/// The dependencies of a set of services, headers resolved (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Order {
    deps: BTreeMap<ServiceName, Deps>,
    /// Every `Required-Start` name that resolves to nothing, in service order.
    pub missing: Vec<Missing>,
}

/// Names resolved: service names, then `Provides`.
struct Names<'a> {
    services: BTreeSet<&'a ServiceName>,
    provides: BTreeMap<&'a str, Vec<&'a ServiceName>>,
    facilities: &'a Facilities,
}

/// What a list of header words stands for.
#[derive(Default)]
struct Resolved {
    strong: Vec<ServiceName>,
    weak: Vec<ServiceName>,
    all: bool,
    missing: Vec<String>,
}

impl Names<'_> {
    fn name(&self, w: &str) -> Vec<ServiceName> {
        if let Some(n) = self.services.iter().find(|n| n.as_str() == w) {
            return vec![(*n).clone()];
        }
        self.provides
            .get(w)
            .map(|v| v.iter().map(|n| (*n).clone()).collect())
            .unwrap_or_default()
    }

    /// YAML `requires`/`wants`: each name, or what provides it; a name nothing has or provides
    /// is kept (the switch and `svc check` report it as always).
    fn yaml(&self, list: &[ServiceName]) -> Vec<ServiceName> {
        list.iter()
            .flat_map(|n| {
                let found = self.name(n.as_str());
                if found.is_empty() {
                    vec![n.clone()]
                } else {
                    found
                }
            })
            .collect()
    }

    /// The services of `words`; `strong`: the words are `Required-*` (non-optional members of
    /// facilities and names are strong), else all are weak.
    fn words<'w>(&self, words: impl IntoIterator<Item = &'w str>, strong: bool) -> Resolved {
        let mut r = Resolved::default();
        for w in words {
            if w == "$all" {
                r.all = true;
            } else if is_facility(w) {
                for m in self.facilities.expand(w) {
                    let list = if strong && !m.optional {
                        &mut r.strong
                    } else {
                        &mut r.weak
                    };
                    list.extend(self.name(&m.name));
                }
                let list = if strong { &mut r.strong } else { &mut r.weak };
                list.extend(self.name(w));
            } else {
                let found = self.name(w);
                if found.is_empty() {
                    r.missing.push(w.to_string());
                }
                if strong {
                    r.strong.extend(found);
                } else {
                    r.weak.extend(found);
                }
            }
        }
        r
    }
}

fn push_unique(
    v: &mut Vec<ServiceName>,
    items: impl IntoIterator<Item = ServiceName>,
    me: &ServiceName,
) {
    for i in items {
        if &i != me && !v.contains(&i) {
            v.push(i);
        }
    }
}

fn words_of(v: Option<&str>) -> Vec<&str> {
    v.map(|s| s.split_whitespace().collect())
        .unwrap_or_default()
}

impl Order {
    /// The services of `dirs` ([`Order::of`] with the facilities of the SysV directory).
    pub fn new<'a>(dirs: &Dirs, defs: impl IntoIterator<Item = &'a Definition>) -> Order {
        Order::of(defs, &facilities(dirs).0)
    }

    /// The dependencies of `defs`, their headers resolved among them with `facilities`.
    pub fn of<'a>(
        defs: impl IntoIterator<Item = &'a Definition>,
        facilities: &Facilities,
    ) -> Order {
        let defs: Vec<&Definition> = defs.into_iter().collect();
        let mut names = Names {
            services: defs.iter().map(|d| &d.name).collect(),
            provides: BTreeMap::new(),
            facilities,
        };
        for d in &defs {
            for p in d.lsb.iter().flat_map(|h| &h.info.provides) {
                if p != d.name.as_str() {
                    names.provides.entry(p.as_str()).or_default().push(&d.name);
                }
            }
        }
        let mut order = Order::default();
        // (target, service) pairs of X-Start-Before and X-Stop-After, applied at the end.
        let mut start_before: Vec<(ServiceName, ServiceName)> = Vec::new();
        let mut stop_after: Vec<(ServiceName, ServiceName)> = Vec::new();
        for d in &defs {
            let me = &d.name;
            let mut deps = Deps::default();
            let header = d.lsb.as_ref();
            match header {
                Some(h) if !d.keys.given("requires") => {
                    let r = names.words(h.info.required_start.iter().map(String::as_str), true);
                    push_unique(&mut deps.requires, r.strong, me);
                    push_unique(&mut deps.wants, r.weak, me);
                    deps.all_start |= r.all;
                    for m in r.missing {
                        if let Ok(n) = ServiceName::new(&m) {
                            push_unique(&mut deps.requires, [n], me);
                        }
                        if m != me.as_str() {
                            order.missing.push(Missing {
                                service: me.clone(),
                                name: m,
                                script: h.script.clone(),
                                line: h.line("Required-Start"),
                            });
                        }
                    }
                }
                _ => push_unique(&mut deps.requires, names.yaml(&d.requires), me),
            }
            match header {
                Some(h) if !d.keys.given("wants") => {
                    let r = names.words(h.info.should_start.iter().map(String::as_str), false);
                    push_unique(&mut deps.wants, r.weak, me);
                    deps.all_start |= r.all;
                }
                _ => push_unique(&mut deps.wants, names.yaml(&d.wants), me),
            }
            if let Some(h) = header {
                let req = names.words(h.info.required_stop.iter().map(String::as_str), true);
                let should = names.words(h.info.should_stop.iter().map(String::as_str), false);
                let mut stop = Vec::new();
                push_unique(&mut stop, req.strong.into_iter().chain(req.weak), me);
                push_unique(&mut stop, should.weak, me);
                deps.all_stop = req.all || should.all;
                deps.stop = Some(stop);
                let before = names.words(words_of(h.info.extension("X-Start-Before")), false);
                start_before.extend(before.weak.into_iter().map(|t| (t, me.clone())));
                let after = names.words(words_of(h.info.extension("X-Stop-After")), false);
                stop_after.extend(after.weak.into_iter().map(|t| (t, me.clone())));
            }
            order.deps.insert(me.clone(), deps);
        }
        for (target, me) in start_before {
            if let Some(d) = order.deps.get_mut(&target) {
                push_unique(&mut d.wants, [me], &target);
            }
        }
        for (target, me) in stop_after {
            if let Some(d) = order.deps.get_mut(&target) {
                let mut stop = d.stop_order();
                push_unique(&mut stop, [me], &target);
                d.stop = Some(stop);
            }
        }
        order
    }

    /// The services, in name order.
    pub fn names(&self) -> impl Iterator<Item = &ServiceName> {
        self.deps.keys()
    }

    /// The dependencies of `name`; `None` when it is not one of the services.
    pub fn deps(&self, name: &ServiceName) -> Option<Deps> {
        self.deps.get(name).cloned()
    }

    /// The start graph (requires and wants) of every service, in name order: cycles for `svc
    /// check`.
    pub fn graph(&self) -> Graph {
        Graph::from_deps(self.deps.iter())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::definition::LsbHeader;
    use crate::lsb::header::{keyword_lines, InitInfo};

    /// A SysV script's definition with the header `lines`.
    pub(crate) fn script(name: &str, lines: &[&str]) -> Definition {
        let n = ServiceName::new(name).unwrap();
        let path = PathBuf::from(format!("/sysv/init.d/{name}"));
        let mut def =
            definition::parse(&path, &n, &format!("script: {}\n", path.display())).unwrap();
        let text = format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n{}### END INIT INFO\n",
            lines.iter().map(|l| format!("# {l}\n")).collect::<String>()
        );
        def.lsb = Some(LsbHeader {
            script: path,
            info: InitInfo::parse(&text).unwrap(),
            lines: keyword_lines(&text),
        });
        def
    }

    fn strs(v: &[ServiceName]) -> Vec<&str> {
        v.iter().map(|n| n.as_str()).collect()
    }

    fn n(s: &str) -> ServiceName {
        ServiceName::new(s).unwrap()
    }

    #[test]
    fn headers_resolve_through_provides_and_facilities() {
        let mut fac = Facilities::default();
        fac.add_text("$syslog +logd\n$time clock\n$remote_fs $local_fs\n");
        let defs = [
            script("logd", &["Provides: logd"]),
            script("clock", &["Provides: clock"]),
            script("db", &["Provides: db database"]),
            script("early", &["X-Start-Before: database", "X-Stop-After: web"]),
            script(
                "web",
                &[
                    "Required-Start: $syslog $time $remote_fs database nothere",
                    "Should-Start: ghost logd",
                    "Required-Stop: database $all",
                ],
            ),
        ];
        let o = Order::of(defs.iter(), &fac);
        let web = o.deps(&n("web")).unwrap();
        assert_eq!(strs(&web.requires), ["clock", "db", "nothere"]);
        assert_eq!(strs(&web.wants), ["logd"]);
        assert_eq!(strs(&web.stop_order()), ["db", "early"]);
        assert!(web.all_stop && !web.all_start);
        assert_eq!(strs(&o.deps(&n("db")).unwrap().wants), ["early"]);
        assert_eq!(o.missing.len(), 1);
        assert_eq!(
            (o.missing[0].name.as_str(), o.missing[0].line),
            ("nothere", 3)
        );
        // A header without dependencies: none, and an empty stop list (not its requires).
        let d = o.deps(&n("logd")).unwrap();
        assert!(d.requires.is_empty() && d.stop == Some(vec![]));
    }
}
