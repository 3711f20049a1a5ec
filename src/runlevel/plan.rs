//! The plan of a runlevel switch (docs/commands.md, "Switching runlevels"), computed without side
//! effects: from the entries of the target rcN.d, the definitions and which services run now, which
//! services to stop and to start, in which order, and what must be left out before anything runs.
//!
//! Order: entries run by ascending number; the same number runs in parallel unless a
//! dependency links two services. Dependencies win over numbers: a service that another one
//! `requires` or `wants` is started before it even when its own number is higher (it is pulled
//! forward to its dependant's number), and stopped after it. `requires` that have no S entry
//! are started too (as `svc start` would); `wants` only order what is part of the switch.
//! Left out before anything runs: entries whose definition is missing or broken, services that
//! require an unknown or left-out service, and every service of a dependency cycle.
//!
//! A level that starts a service and stops one it requires contradicts itself (an S entry
//! whose `requires`, directly or through other requirements, reach a service with a K entry of
//! the same directory): [`contradictions`] finds them, for `svc check` and for the plan. The
//! K entry wins — the requirement is stopped (when it runs) and never pulled in — and the
//! dependant is left out: not started, and stopped before its requirement when it runs,
//! since `requires` are always respected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::graph::{self, Dep, Graph};
use super::{Entry, Kind};
use crate::name::ServiceName;

pub use super::graph::Deps;

/// One service to start or stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: ServiceName,
    /// The entry's own number (for a pulled-in requirement: its dependant's).
    pub number: u8,
    /// The number it runs at: its own, or lower when a dependant with a lower number needs it.
    pub rank: u8,
    /// Services of the same phase it must wait for.
    pub after: Vec<ServiceName>,
    /// Of `after`, those it `requires`: if one fails, this one is skipped.
    pub required: Vec<ServiceName>,
}

/// A service left out before anything runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub name: ServiceName,
    pub why: String,
}

/// The whole switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Stops in execution order (rank, then name bytewise).
    pub stop: Vec<Step>,
    /// Starts in execution order.
    pub start: Vec<Step>,
    /// S entries already running: nothing to do (kept across the switch).
    pub kept: Vec<ServiceName>,
    pub left_out: Vec<LeftOut>,
}

/// A service started by a level (its S entry) that requires, directly or through other
/// requirements, a service the same level stops (its K entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contradiction {
    pub dependant: ServiceName,
    /// The dependant's S entry.
    pub start_entry: PathBuf,
    pub required: ServiceName,
    /// The requirement's K entry.
    pub kill_entry: PathBuf,
    /// The requirements between them (`app` requires `mid` requires `base`: `[mid]`).
    pub through: Vec<ServiceName>,
}

impl Contradiction {
    /// `requires base, which this level stops (K20base)` (with `through mid` when indirect).
    pub fn why(&self) -> String {
        let through = if self.through.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = self.through.iter().map(|n| n.as_str()).collect();
            format!(" (through {})", names.join(", "))
        };
        format!(
            "requires {}{through}, which this runlevel stops ({})",
            self.required,
            file_name(&self.kill_entry)
        )
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every S entry of `entries` (one directory) whose service requires, directly or through other
/// requirements, a service with a K entry there: one per dependant and stopped requirement, in
/// entry order. The walk does not go on through a stopped requirement (its own requirements
/// are its problem) nor through services without a definition.
pub fn contradictions(
    entries: &[Entry],
    deps: &dyn Fn(&ServiceName) -> Option<Deps>,
) -> Vec<Contradiction> {
    let mut kills: BTreeMap<&ServiceName, &Entry> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == Kind::Kill) {
        kills.entry(&e.name).or_insert(e);
    }
    let mut out = Vec::new();
    if kills.is_empty() {
        return out;
    }
    let mut seen_dependants: BTreeSet<&ServiceName> = BTreeSet::new();
    for e in entries.iter().filter(|e| e.kind == Kind::Start) {
        if !seen_dependants.insert(&e.name) {
            continue;
        }
        // Breadth first, so the shortest chain to each stopped requirement is the one named.
        let mut via: BTreeMap<ServiceName, Option<ServiceName>> = BTreeMap::new();
        via.insert(e.name.clone(), None);
        let mut queue = std::collections::VecDeque::from([e.name.clone()]);
        while let Some(n) = queue.pop_front() {
            let Some(d) = deps(&n) else { continue };
            for r in &d.requires {
                if via.contains_key(r) {
                    continue;
                }
                via.insert(r.clone(), Some(n.clone()));
                if let Some(k) = kills.get(r) {
                    let mut through = Vec::new();
                    let mut cur = n.clone();
                    while cur != e.name {
                        through.push(cur.clone());
                        cur = via[&cur].clone().unwrap_or_else(|| e.name.clone());
                    }
                    through.reverse();
                    out.push(Contradiction {
                        dependant: e.name.clone(),
                        start_entry: e.path.clone(),
                        required: r.clone(),
                        kill_entry: k.path.clone(),
                        through,
                    });
                } else {
                    queue.push_back(r.clone());
                }
            }
        }
    }
    out
}

/// Computes the plan. `deps` knows every service that has a valid definition (`None` for
/// names without one); `running` says which run now; `broken` lists entries left out already
/// (missing or invalid definitions) with the reason.
pub fn plan(
    entries: &[Entry],
    deps: &dyn Fn(&ServiceName) -> Option<Deps>,
    running: &dyn Fn(&ServiceName) -> bool,
    broken: &[LeftOut],
) -> Plan {
    plan_with(entries, deps, running, running, broken)
}

/// [`plan`] with two answers to "does it run": `running` decides the starts (an S entry that
/// runs is kept; a requirement that runs is not pulled in), `running_stop` the stops (a K
/// entry is stopped only when it runs). A switch answers the first without asking services
/// whose start is harmless when they run (LSB scripts: `start` of a running service succeeds).
pub fn plan_with(
    entries: &[Entry],
    deps: &dyn Fn(&ServiceName) -> Option<Deps>,
    running: &dyn Fn(&ServiceName) -> bool,
    running_stop: &dyn Fn(&ServiceName) -> bool,
    broken: &[LeftOut],
) -> Plan {
    let mut out = Plan {
        left_out: broken.to_vec(),
        ..Plan::default()
    };
    let bad: BTreeSet<ServiceName> = broken.iter().map(|l| l.name.clone()).collect();
    // S entries that require a service this level stops: left out (the first reason counts);
    // those that run are stopped before their requirement.
    let found = contradictions(entries, deps);
    let mut contradicted: BTreeMap<ServiceName, String> = BTreeMap::new();
    for c in &found {
        if !bad.contains(&c.dependant) {
            contradicted
                .entry(c.dependant.clone())
                .or_insert_with(|| c.why());
        }
    }
    let killed: BTreeSet<&ServiceName> = entries
        .iter()
        .filter(|e| e.kind == Kind::Kill)
        .map(|e| &e.name)
        .collect();

    // --- starts -------------------------------------------------------------------------
    let mut numbers: BTreeMap<ServiceName, u8> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == Kind::Start) {
        if bad.contains(&e.name) || contradicted.contains_key(&e.name) {
            continue;
        }
        if running(&e.name) {
            if !out.kept.contains(&e.name) {
                out.kept.push(e.name.clone());
            }
            continue;
        }
        let n = numbers.entry(e.name.clone()).or_insert(e.number);
        *n = (*n).min(e.number);
    }
    // Pull in requirements that are not running, transitively, at their dependant's number.
    let mut queue: Vec<ServiceName> = numbers.keys().cloned().collect();
    let mut unknown: BTreeMap<ServiceName, String> = BTreeMap::new();
    while let Some(name) = queue.pop() {
        let Some(d) = deps(&name) else {
            unknown.insert(name.clone(), format!("no valid definition for {name}"));
            continue;
        };
        let here = numbers[&name];
        for r in &d.requires {
            if bad.contains(r) {
                continue;
            }
            if deps(r).is_none() {
                unknown.insert(r.clone(), format!("no definition for service {r}"));
                continue;
            }
            // A service this level stops is never pulled in (its dependants are left out).
            if running(r) || numbers.contains_key(r) || killed.contains(r) {
                continue;
            }
            numbers.insert(r.clone(), here);
            queue.push(r.clone());
        }
    }
    let mut graph = Graph::new();
    for n in numbers.keys() {
        graph.add_node(n);
        let d = deps(n).unwrap_or_default();
        for r in d.requires.iter().filter(|x| numbers.contains_key(*x)) {
            graph.add_edge(n, r, Dep::Requires);
        }
        for w in d.wants.iter().filter(|x| numbers.contains_key(*x)) {
            graph.add_edge(n, w, Dep::Wants);
        }
    }
    after_all(&mut graph, &numbers, deps, |d| d.all_start, false);
    let mut excluded: BTreeMap<ServiceName, String> = BTreeMap::new();
    for (n, why) in &unknown {
        excluded.insert(n.clone(), why.clone());
    }
    // Services whose requirement is unknown or broken.
    for n in graph.nodes() {
        if let Some(d) = deps(n) {
            for r in &d.requires {
                if bad.contains(r) {
                    excluded.insert(n.clone(), format!("requires {r}, which is left out"));
                } else if unknown.contains_key(r) && r != n {
                    excluded.insert(n.clone(), format!("requires {r}, which has no definition"));
                }
            }
        }
    }
    for cycle in graph.cycles() {
        let why = format!("dependency cycle: {}", graph::cycle_arrows(&cycle));
        for n in cycle {
            excluded.entry(n).or_insert_with(|| why.clone());
        }
    }
    close_over_requirements(&graph, &mut excluded);
    for (n, why) in &excluded {
        if graph.contains(n) || unknown.contains_key(n) {
            out.left_out.push(LeftOut {
                name: n.clone(),
                why: why.clone(),
            });
        }
        numbers.remove(n);
    }
    graph.retain(|x| numbers.contains_key(x));
    out.start = steps(&graph, &numbers);

    for (n, why) in &contradicted {
        out.left_out.push(LeftOut {
            name: n.clone(),
            why: why.clone(),
        });
    }

    // --- stops --------------------------------------------------------------------------
    let mut stop_numbers: BTreeMap<ServiceName, u8> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == Kind::Kill) {
        if bad.contains(&e.name) || deps(&e.name).is_none() || !running_stop(&e.name) {
            continue;
        }
        let n = stop_numbers.entry(e.name.clone()).or_insert(e.number);
        *n = (*n).min(e.number);
    }
    // A left-out dependant that runs stops with (before) its stopped requirement.
    for c in &found {
        if contradicted.contains_key(&c.dependant) && running_stop(&c.dependant) {
            let k = entries
                .iter()
                .find(|e| e.kind == Kind::Kill && e.name == c.required)
                .map_or(0, |e| e.number);
            let n = stop_numbers.entry(c.dependant.clone()).or_insert(k);
            *n = (*n).min(k);
        }
    }
    // Reverse edges: a service stops after the services that depend on it (ordering only: a
    // failed stop skips nothing).
    let mut stop_graph = Graph::new();
    for n in stop_numbers.keys() {
        stop_graph.add_node(n);
    }
    for n in stop_numbers.keys() {
        let d = deps(n).unwrap_or_default();
        for dep in &d.stop_order() {
            if stop_graph.contains(dep) && !stop_graph.has_edge(dep, n) {
                stop_graph.add_edge(dep, n, Dep::Wants);
            }
        }
    }
    // A stopped requirement waits for the left-out dependants that stop with it, also those
    // that require it only through services that keep running.
    for c in &found {
        if stop_numbers.contains_key(&c.dependant)
            && stop_graph.contains(&c.required)
            && !stop_graph.has_edge(&c.required, &c.dependant)
        {
            stop_graph.add_edge(&c.required, &c.dependant, Dep::Wants);
        }
    }
    after_all(&mut stop_graph, &stop_numbers, deps, |d| d.all_stop, true);
    let mut stop_excluded = BTreeMap::new();
    for cycle in stop_graph.cycles() {
        let names: Vec<&str> = cycle.iter().map(|n| n.as_str()).collect();
        let why = format!("dependency cycle: {}", names.join(" <- "));
        for n in cycle {
            stop_excluded.entry(n).or_insert_with(|| why.clone());
        }
    }
    for (n, why) in stop_excluded {
        stop_numbers.remove(&n);
        if !out.left_out.iter().any(|l| l.name == n) {
            out.left_out.push(LeftOut { name: n, why });
        }
    }
    stop_graph.retain(|x| stop_numbers.contains_key(x));
    out.stop = steps(&stop_graph, &stop_numbers);
    out
}

/// `$all` (SPEC §9): a service whose `all` holds runs after (`reversed`: a stop, before) every
/// other service of the phase with the same number, except those with `all` too and those
/// that depend on it already (no cycle is made).
fn after_all(
    graph: &mut Graph,
    numbers: &BTreeMap<ServiceName, u8>,
    deps: &dyn Fn(&ServiceName) -> Option<Deps>,
    all: impl Fn(&Deps) -> bool,
    reversed: bool,
) {
    let last: Vec<&ServiceName> = numbers
        .keys()
        .filter(|n| deps(n).is_some_and(|d| all(&d)))
        .collect();
    for a in &last {
        for (o, num) in numbers {
            if o == *a || *num != numbers[*a] || last.contains(&o) {
                continue;
            }
            let (from, to) = if reversed { (o, *a) } else { (*a, o) };
            if !graph.reaches(to, from) && !graph.has_edge(from, to) {
                graph.add_edge(from, to, Dep::Wants);
            }
        }
    }
}

/// Adds to `excluded` every service that (transitively) requires an excluded one.
fn close_over_requirements(graph: &Graph, excluded: &mut BTreeMap<ServiceName, String>) {
    loop {
        let mut added = false;
        for n in graph.nodes() {
            if excluded.contains_key(n) {
                continue;
            }
            if let Some(r) = graph
                .required(n)
                .into_iter()
                .find(|r| excluded.contains_key(r))
            {
                excluded.insert(n.clone(), format!("requires {r}, which is left out"));
                added = true;
            }
        }
        if !added {
            return;
        }
    }
}

/// The steps of one phase in execution order ([`Graph::ranks`], [`Graph::order`]).
fn steps(graph: &Graph, numbers: &BTreeMap<ServiceName, u8>) -> Vec<Step> {
    let rank = graph.ranks(numbers);
    graph
        .order(&rank)
        .into_iter()
        .map(|n| Step {
            number: numbers[&n],
            rank: rank[&n],
            after: graph.after(&n),
            required: graph.required(&n),
            name: n,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn n(s: &str) -> ServiceName {
        ServiceName::new(s).unwrap()
    }

    fn s(num: u8, name: &str) -> Entry {
        Entry {
            kind: Kind::Start,
            number: num,
            name: n(name),
            path: PathBuf::from(format!("S{num:02}{name}")),
        }
    }

    fn k(num: u8, name: &str) -> Entry {
        Entry {
            kind: Kind::Kill,
            number: num,
            name: n(name),
            path: PathBuf::from(format!("K{num:02}{name}")),
        }
    }

    type Table<'a> = &'a [(&'a str, &'a [&'a str], &'a [&'a str])];

    fn deps_of<'a>(table: Table<'a>) -> impl Fn(&ServiceName) -> Option<Deps> + 'a {
        move |name| {
            table
                .iter()
                .find(|(t, _, _)| *t == name.as_str())
                .map(|(_, r, w)| Deps {
                    requires: r.iter().map(|x| n(x)).collect(),
                    wants: w.iter().map(|x| n(x)).collect(),
                    ..Deps::default()
                })
        }
    }

    fn names(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{}@{}", s.name, s.rank))
            .collect()
    }

    #[test]
    fn starts_in_number_then_name_order_and_keeps_running_ones() {
        let table: Table = &[
            ("a", &[], &[]),
            ("b", &[], &[]),
            ("c", &[], &[]),
            ("kept", &[], &[]),
        ];
        let d = deps_of(table);
        let p = plan(
            &[s(20, "b"), s(10, "c"), s(20, "a"), s(5, "kept")],
            &d,
            &|x| x.as_str() == "kept",
            &[],
        );
        assert_eq!(names(&p.start), ["c@10", "a@20", "b@20"]);
        assert_eq!(p.kept, vec![n("kept")]);
    }

    #[test]
    fn all_runs_after_its_number_and_stops_before_it() {
        let d = |name: &ServiceName| {
            Some(Deps {
                all_start: name.as_str() == "last",
                all_stop: name.as_str() == "first",
                wants: if name.as_str() == "x" {
                    vec![n("last")]
                } else {
                    vec![]
                },
                ..Deps::default()
            })
        };
        let p = plan(
            &[s(10, "last"), s(10, "a"), s(10, "x"), s(20, "b")],
            &d,
            &|_| false,
            &[],
        );
        let last = p.start.iter().find(|s| s.name == n("last")).unwrap();
        // Not after x, which wants it already (that would be a cycle), nor after b (20).
        assert_eq!(last.after, vec![n("a")]);
        let p = plan(
            &[k(10, "first"), k(10, "a"), k(20, "b")],
            &d,
            &|_| true,
            &[],
        );
        let a = p.stop.iter().find(|s| s.name == n("a")).unwrap();
        assert_eq!(a.after, vec![n("first")]);
        assert!(p
            .stop
            .iter()
            .find(|s| s.name == n("b"))
            .unwrap()
            .after
            .is_empty());
    }

    #[test]
    fn requirements_are_pulled_forward_and_in() {
        let table: Table = &[
            ("web", &["db"], &["cache"]),
            ("db", &["disk"], &[]),
            ("disk", &[], &[]),
            ("cache", &[], &[]),
        ];
        let d = deps_of(table);
        // db has a higher number than web; disk has no entry at all; cache is wanted at 90.
        let p = plan(
            &[s(10, "web"), s(50, "db"), s(90, "cache")],
            &d,
            &|_| false,
            &[],
        );
        assert_eq!(names(&p.start), ["cache@10", "disk@10", "db@10", "web@10"]);
        let web = p.start.iter().find(|s| s.name == n("web")).unwrap();
        assert_eq!(web.required, vec![n("db")]);
        assert_eq!(web.after, vec![n("db"), n("cache")]);
    }

    #[test]
    fn cycles_and_unknown_requirements_are_left_out_with_their_dependants() {
        let table: Table = &[
            ("a", &["b"], &[]),
            ("b", &["a"], &[]),
            ("c", &["a"], &[]),
            ("d", &["ghost"], &[]),
            ("ok", &[], &["ghost"]),
        ];
        let d = deps_of(table);
        let p = plan(
            &[s(10, "a"), s(10, "b"), s(20, "c"), s(20, "d"), s(30, "ok")],
            &d,
            &|_| false,
            &[],
        );
        assert_eq!(names(&p.start), ["ok@30"]);
        let why: BTreeMap<String, String> = p
            .left_out
            .iter()
            .map(|l| (l.name.to_string(), l.why.clone()))
            .collect();
        assert!(
            why["a"].contains("cycle") && why["a"].contains("a -> b"),
            "{why:?}"
        );
        assert!(why["b"].contains("cycle"));
        assert!(why["c"].contains("requires a"));
        assert!(why["d"].contains("ghost"));
        assert!(why["ghost"].contains("no definition"));
    }

    #[test]
    fn broken_entries_take_their_dependants_with_them() {
        let table: Table = &[("app", &["broken"], &[])];
        let d = deps_of(table);
        let broken = [LeftOut {
            name: n("broken"),
            why: "invalid definition".into(),
        }];
        let p = plan(&[s(10, "broken"), s(20, "app")], &d, &|_| false, &broken);
        assert!(p.start.is_empty());
        assert_eq!(p.left_out.len(), 2);
    }

    #[test]
    fn stops_only_running_services_dependants_first() {
        let table: Table = &[("web", &["db"], &[]), ("db", &[], &[]), ("idle", &[], &[])];
        let d = deps_of(table);
        // db's K number is lower than web's: web must still stop first.
        let p = plan(
            &[k(10, "db"), k(20, "web"), k(5, "idle")],
            &d,
            &|x| x.as_str() != "idle",
            &[],
        );
        assert_eq!(names(&p.stop), ["web@10", "db@10"]);
        let db = p.stop.iter().find(|s| s.name == n("db")).unwrap();
        assert_eq!(db.after, vec![n("web")]);
    }

    #[test]
    fn a_level_never_starts_a_service_that_requires_one_it_stops() {
        let table: Table = &[
            ("base", &[], &[]),
            ("app", &["base"], &[]),
            ("mid", &["base"], &[]),
            ("top", &["mid"], &[]),
            ("fan", &[], &["base"]),
            ("other", &[], &[]),
        ];
        let d = deps_of(table);
        let entries = [
            s(10, "other"),
            s(20, "app"),
            s(30, "top"),
            s(40, "fan"),
            k(20, "base"),
        ];
        let c = contradictions(&entries, &d);
        let found: Vec<String> = c
            .iter()
            .map(|c| format!("{}->{}:{}", c.dependant, c.required, c.why()))
            .collect();
        assert_eq!(
            found,
            [
                "app->base:requires base, which this runlevel stops (K20base)",
                "top->base:requires base (through mid), which this runlevel stops (K20base)",
            ]
        );
        assert_eq!(c[0].start_entry, PathBuf::from("S20app"));
        // Nothing runs: base is neither started nor pulled in, app and top are left out, a
        // `wants` is no contradiction.
        let p = plan(&entries, &d, &|_| false, &[]);
        assert_eq!(names(&p.start), ["other@10", "fan@40"]);
        assert!(p.stop.is_empty());
        let why: BTreeMap<String, String> = p
            .left_out
            .iter()
            .map(|l| (l.name.to_string(), l.why.clone()))
            .collect();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why["app"].contains("K20base"), "{why:?}");
        assert!(why["top"].contains("through mid"), "{why:?}");
        // Everything runs: base is stopped (its K entry wins), app with it and before it; the
        // others are kept.
        let p = plan(&entries, &d, &|_| true, &[]);
        assert_eq!(names(&p.stop), ["app@20", "top@20", "base@20"]);
        assert!(p.start.is_empty());
        assert_eq!(p.kept, vec![n("other"), n("fan")]);
        assert_eq!(p.left_out.len(), 2);
    }
}
