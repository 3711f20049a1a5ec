//! The dependency graph of services: the one home of the rules about `requires` and `wants`
//! (svc.yaml(5); docs/commands.md, "Starting and stopping" and "Switching runlevels") that `svc
//! check`, `svc start`, `svc stop` and the switch plan share.
//!
//! A [`Graph`] has services as nodes, in the order they were added (callers add them in the
//! order they report them, so output does not depend on a hash), and edges from a service to
//! what it depends on, each marked [`Dep::Requires`] or [`Dep::Wants`], in the order they were
//! added. An edge may name a service that is no node (a `wants` on a service without a
//! definition): walks skip it. Pure: no I/O, so everything here is unit-tested.
//!
//! The rules: a dependency cycle is a walk that comes back to a service on its own path
//! ([`Path`]; [`Graph::cycles`] reports each once, as the services on it, starting where the
//! depth-first search entered it); a dependency runs no later than its earliest dependant
//! ([`Graph::ranks`]); within one rank dependencies come first, then names bytewise
//! ([`Graph::order`]); what must stop before a service are the services that require it,
//! directly or not ([`Graph::dependants`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::definition::Definition;
use crate::name::ServiceName;

/// What a service declares it depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deps {
    pub requires: Vec<ServiceName>,
    pub wants: Vec<ServiceName>,
    /// The services that must still run while it stops (it stops before them): an LSB
    /// header's `Required-Stop` and `Should-Stop` (SPEC §9); `None`: its `requires` and `wants`.
    pub stop: Option<Vec<ServiceName>>,
    /// `$all` in its start dependencies: it starts after every other entry of its number.
    pub all_start: bool,
    /// `$all` in its stop dependencies: it stops before every other entry of its number.
    pub all_stop: bool,
}

impl Deps {
    /// The `requires` and `wants` of a definition, as written (no `Provides` nor facilities:
    /// `runlevel::order` resolves those).
    pub fn of(def: &Definition) -> Deps {
        Deps {
            requires: def.requires.clone(),
            wants: def.wants.clone(),
            ..Deps::default()
        }
    }

    /// What must still run while it stops: [`Deps::stop`], else `requires` and `wants`.
    pub fn stop_order(&self) -> Vec<ServiceName> {
        match &self.stop {
            Some(s) => s.clone(),
            None => self.requires.iter().chain(&self.wants).cloned().collect(),
        }
    }
}

/// The strength of an edge: a failed requirement skips its dependant, a wanted service only
/// orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dep {
    Requires,
    Wants,
}

/// Services and their dependencies (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    nodes: Vec<(ServiceName, Vec<(ServiceName, Dep)>)>,
    index: HashMap<ServiceName, usize>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// A graph of `services` (in that order) with edges to their `requires`, then their
    /// `wants`.
    pub fn from_deps<'a>(services: impl IntoIterator<Item = (&'a ServiceName, &'a Deps)>) -> Graph {
        let mut g = Graph::new();
        for (name, deps) in services {
            g.add_node(name);
            for r in &deps.requires {
                g.add_edge(name, r, Dep::Requires);
            }
            for w in &deps.wants {
                g.add_edge(name, w, Dep::Wants);
            }
        }
        g
    }

    /// The graph of `defs` (in that order), as [`Graph::from_deps`].
    pub fn of_definitions<'a>(defs: impl IntoIterator<Item = &'a Definition>) -> Graph {
        let deps: Vec<(&ServiceName, Deps)> =
            defs.into_iter().map(|d| (&d.name, Deps::of(d))).collect();
        Graph::from_deps(deps.iter().map(|(n, d)| (*n, d)))
    }

    /// Adds `name` (no-op when it is there).
    pub fn add_node(&mut self, name: &ServiceName) {
        if !self.index.contains_key(name) {
            self.index.insert(name.clone(), self.nodes.len());
            self.nodes.push((name.clone(), Vec::new()));
        }
    }

    /// Adds an edge from `from` (added as a node if needed) to `to`; duplicates are kept.
    pub fn add_edge(&mut self, from: &ServiceName, to: &ServiceName, dep: Dep) {
        self.add_node(from);
        let i = self.index[from];
        self.nodes[i].1.push((to.clone(), dep));
    }

    /// Whether a walk over the edges from `from` reaches `to` (`from` itself counts).
    pub fn reaches(&self, from: &ServiceName, to: &ServiceName) -> bool {
        let mut seen: BTreeSet<&ServiceName> = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n) {
                stack.extend(self.edges(n).iter().map(|(t, _)| t));
            }
        }
        false
    }

    pub fn contains(&self, name: &ServiceName) -> bool {
        self.index.contains_key(name)
    }

    pub fn has_edge(&self, from: &ServiceName, to: &ServiceName) -> bool {
        self.edges(from).iter().any(|(t, _)| t == to)
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> impl Iterator<Item = &ServiceName> {
        self.nodes.iter().map(|(n, _)| n)
    }

    fn edges(&self, name: &ServiceName) -> &[(ServiceName, Dep)] {
        self.index.get(name).map_or(&[], |&i| &self.nodes[i].1)
    }

    /// Everything `name` depends on (requires and wants), in edge order.
    pub fn after(&self, name: &ServiceName) -> Vec<ServiceName> {
        self.edges(name).iter().map(|(t, _)| t.clone()).collect()
    }

    /// What `name` requires, in edge order.
    pub fn required(&self, name: &ServiceName) -> Vec<ServiceName> {
        self.edges(name)
            .iter()
            .filter(|(_, d)| *d == Dep::Requires)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Keeps the nodes for which `keep` holds, and the edges to them.
    pub fn retain(&mut self, keep: impl Fn(&ServiceName) -> bool) {
        let old = std::mem::take(&mut self.nodes);
        self.index.clear();
        for (name, edges) in old.into_iter().filter(|(n, _)| keep(n)) {
            self.index.insert(name.clone(), self.nodes.len());
            let edges = edges.into_iter().filter(|(t, _)| keep(t)).collect();
            self.nodes.push((name, edges));
        }
    }

    /// Every cycle (over both kinds of edge), each reported once as the services on it, in
    /// the order a depth-first search from the nodes (in their order) meets them.
    pub fn cycles(&self) -> Vec<Vec<ServiceName>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Active,
            Done,
        }
        fn visit(
            g: &Graph,
            n: &ServiceName,
            marks: &mut HashMap<ServiceName, Mark>,
            path: &mut Path,
            out: &mut Vec<Vec<ServiceName>>,
        ) {
            marks.insert(n.clone(), Mark::Active);
            path.push(n);
            for (d, _) in g.edges(n) {
                match marks.get(d).copied() {
                    Some(Mark::Active) => out.extend(path.cycle_to(d)),
                    None if g.contains(d) => visit(g, d, marks, path, out),
                    _ => {}
                }
            }
            path.pop();
            marks.insert(n.clone(), Mark::Done);
        }
        let mut marks = HashMap::new();
        let mut out = Vec::new();
        for n in self.nodes() {
            if !marks.contains_key(n) {
                visit(self, n, &mut marks, &mut Path::default(), &mut out);
            }
        }
        out
    }

    /// The rank of each node: its own number (`numbers` has one for every node), or the rank
    /// of a dependant when that is lower — a dependency runs no later than its earliest
    /// dependant.
    pub fn ranks(&self, numbers: &BTreeMap<ServiceName, u8>) -> BTreeMap<ServiceName, u8> {
        let mut rank = numbers.clone();
        loop {
            let mut changed = false;
            for (n, edges) in &self.nodes {
                let r = rank[n];
                for (a, _) in edges {
                    if let Some(ra) = rank.get_mut(a) {
                        if *ra > r {
                            *ra = r;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return rank;
            }
        }
    }

    /// The execution order: by rank, then name bytewise, except that a node comes after what
    /// it depends on among the nodes (a stable topological order; a node on a cycle, which
    /// should have been left out, takes its place by rank and name).
    pub fn order(&self, rank: &BTreeMap<ServiceName, u8>) -> Vec<ServiceName> {
        let mut done: BTreeSet<&ServiceName> = BTreeSet::new();
        let mut remaining: Vec<&ServiceName> = self.nodes().collect();
        remaining.sort_by(|a, b| {
            (rank[*a], a.as_str().as_bytes()).cmp(&(rank[*b], b.as_str().as_bytes()))
        });
        let mut placed = Vec::with_capacity(remaining.len());
        while !remaining.is_empty() {
            let pos = remaining
                .iter()
                .position(|n| {
                    self.edges(n)
                        .iter()
                        .all(|(a, _)| done.contains(a) || !self.contains(a))
                })
                .unwrap_or(0);
            let n = remaining.remove(pos);
            done.insert(n);
            placed.push(n.clone());
        }
        placed
    }

    /// The services that require `name`, directly or not (not `name` itself), each once: a
    /// depth-first walk over reversed `requires` edges, every step taking the dependants in
    /// node order. Reversed, the list is an order in which they can stop (the farthest
    /// dependants first).
    pub fn dependants(&self, name: &ServiceName) -> Vec<ServiceName> {
        let mut found: Vec<ServiceName> = Vec::new();
        let mut frontier = vec![name.clone()];
        while let Some(cur) = frontier.pop() {
            for (n, edges) in &self.nodes {
                let requires_cur = edges.iter().any(|(t, d)| *d == Dep::Requires && *t == cur);
                if requires_cur && n != name && !found.contains(n) {
                    found.push(n.clone());
                    frontier.push(n.clone());
                }
            }
        }
        found
    }
}

/// The services on the current path of a depth-first walk, from where it began: stepping to
/// one already on the path closes a cycle.
#[derive(Debug, Clone, Default)]
pub struct Path {
    stack: Vec<ServiceName>,
}

impl Path {
    pub fn push(&mut self, name: &ServiceName) {
        self.stack.push(name.clone());
    }

    pub fn pop(&mut self) {
        self.stack.pop();
    }

    pub fn contains(&self, name: &ServiceName) -> bool {
        self.stack.contains(name)
    }

    /// The services of the cycle that a step to `name` closes (from `name` on), or `None` when
    /// `name` is not on the path.
    pub fn cycle_to(&self, name: &ServiceName) -> Option<Vec<ServiceName>> {
        let at = self.stack.iter().position(|s| s == name)?;
        Some(self.stack[at..].to_vec())
    }

    /// The whole path followed by a step to `name`: `web -> db -> web`.
    pub fn arrows_to(&self, name: &ServiceName) -> String {
        let mut names: Vec<&str> = self.stack.iter().map(|n| n.as_str()).collect();
        names.push(name.as_str());
        names.join(" -> ")
    }
}

/// A cycle as messages name it: `a -> b -> a`.
pub fn cycle_arrows(cycle: &[ServiceName]) -> String {
    let names: Vec<&str> = cycle.iter().map(|n| n.as_str()).collect();
    match names.first() {
        Some(first) => format!("{} -> {first}", names.join(" -> ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> ServiceName {
        ServiceName::new(s).unwrap()
    }

    /// `(name, requires, wants)` rows, added in row order.
    fn graph(rows: &[(&str, &[&str], &[&str])]) -> Graph {
        let deps: Vec<(ServiceName, Deps)> = rows
            .iter()
            .map(|(name, r, w)| {
                (
                    n(name),
                    Deps {
                        requires: r.iter().map(|x| n(x)).collect(),
                        wants: w.iter().map(|x| n(x)).collect(),
                        ..Deps::default()
                    },
                )
            })
            .collect();
        Graph::from_deps(deps.iter().map(|(n, d)| (n, d)))
    }

    fn strs(v: &[ServiceName]) -> Vec<&str> {
        v.iter().map(|n| n.as_str()).collect()
    }

    #[test]
    fn edges_keep_their_order_and_kind() {
        let g = graph(&[("web", &["db", "disk"], &["cache", "ghost"])]);
        assert_eq!(strs(&g.after(&n("web"))), ["db", "disk", "cache", "ghost"]);
        assert_eq!(strs(&g.required(&n("web"))), ["db", "disk"]);
        assert!(g.has_edge(&n("web"), &n("ghost")));
        assert!(!g.contains(&n("ghost")));
        assert!(g.after(&n("nobody")).is_empty());
    }

    #[test]
    fn cycles_are_reported_once_with_their_path() {
        let g = graph(&[
            ("a", &["b"], &[]),
            ("b", &[], &["c"]),
            ("c", &["a"], &[]),
            ("d", &["a"], &[]),
            ("self", &["self"], &[]),
            ("x", &["y", "ghost"], &[]),
            ("y", &[], &[]),
        ]);
        let found: Vec<String> = g.cycles().iter().map(|c| cycle_arrows(c)).collect();
        assert_eq!(found, ["a -> b -> c -> a", "self -> self"]);
    }

    #[test]
    fn the_search_starts_from_the_first_node() {
        let g = graph(&[("b", &["a"], &[]), ("a", &["b"], &[])]);
        assert_eq!(cycle_arrows(&g.cycles()[0]), "b -> a -> b");
    }

    #[test]
    fn a_deep_chain_has_no_cycle() {
        let names: Vec<ServiceName> = (0..2000).map(|i| n(&format!("s{i}"))).collect();
        let mut g = Graph::new();
        for w in names.windows(2) {
            g.add_edge(&w[0], &w[1], Dep::Requires);
        }
        g.add_node(&names[1999]);
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn dependencies_rank_with_their_earliest_dependant_and_come_first() {
        let g = graph(&[
            ("cache", &[], &[]),
            ("db", &["disk"], &[]),
            ("disk", &[], &[]),
            ("web", &["db"], &["cache"]),
            ("zz", &[], &[]),
        ]);
        let numbers: BTreeMap<ServiceName, u8> = [
            ("cache", 90),
            ("db", 50),
            ("disk", 10),
            ("web", 10),
            ("zz", 5),
        ]
        .iter()
        .map(|(s, k)| (n(s), *k))
        .collect();
        let rank = g.ranks(&numbers);
        assert_eq!(rank[&n("cache")], 10);
        assert_eq!(rank[&n("db")], 10);
        assert_eq!(rank[&n("zz")], 5);
        assert_eq!(strs(&g.order(&rank)), ["zz", "cache", "disk", "db", "web"]);
    }

    #[test]
    fn order_ignores_edges_to_services_that_are_no_node() {
        let g = graph(&[("b", &["ghost"], &[]), ("a", &["b"], &["absent"])]);
        let rank: BTreeMap<ServiceName, u8> = [(n("a"), 1), (n("b"), 1)].into_iter().collect();
        assert_eq!(strs(&g.order(&rank)), ["b", "a"]);
    }

    #[test]
    fn retain_drops_nodes_and_the_edges_to_them() {
        let mut g = graph(&[("a", &["b"], &["c"]), ("b", &[], &[]), ("c", &[], &[])]);
        g.retain(|x| x.as_str() != "b");
        assert_eq!(strs(&g.nodes().cloned().collect::<Vec<_>>()), ["a", "c"]);
        assert_eq!(strs(&g.after(&n("a"))), ["c"]);
        assert!(g.required(&n("a")).is_empty());
    }

    #[test]
    fn dependants_follow_requires_backwards_not_wants() {
        let g = graph(&[
            ("app", &["mid"], &[]),
            ("base", &[], &[]),
            ("fan", &[], &["base"]),
            ("mid", &["base"], &[]),
            ("other", &["base"], &[]),
        ]);
        assert_eq!(strs(&g.dependants(&n("base"))), ["mid", "other", "app"]);
        assert!(g.dependants(&n("app")).is_empty());
        // A cycle back to the service itself does not list it.
        let g = graph(&[("a", &["b"], &[]), ("b", &["a"], &[])]);
        assert_eq!(strs(&g.dependants(&n("a"))), ["b"]);
    }

    #[test]
    fn a_path_names_the_cycle_a_step_closes() {
        let mut p = Path::default();
        for s in ["top", "a", "b"] {
            p.push(&n(s));
        }
        assert!(p.contains(&n("a")));
        assert_eq!(strs(&p.cycle_to(&n("a")).unwrap()), ["a", "b"]);
        assert_eq!(p.cycle_to(&n("zz")), None);
        assert_eq!(p.arrows_to(&n("a")), "top -> a -> b -> a");
        p.pop();
        assert!(!p.contains(&n("b")));
    }
}
