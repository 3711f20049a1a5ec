//! The shape of the source tree (docs/design.md, "Layout"): modules import only downwards — the
//! crate's import graph has no cycle, neither among the top-level modules nor among the files of
//! one folder — and no file under `src/` is over 700 lines.
//!
//! The graph is read from the source text: every `crate::a::b` and `super::c` path (in `use`
//! lines and inline), `use crate::{a, b::c}` groups included, resolved to the longest module
//! that exists. Comments are dropped first, so a doc link does not count as an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a file under `src/` may have.
const MAX_LINES: usize = 700;

type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/process/mod.rs` → `[process]`, `src/process/launch.rs` → `[process, launch]`.
fn module_of(file: &Path) -> Module {
    let rel = file.strip_prefix(src_dir()).unwrap().with_extension("");
    let mut m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_owned())
        .collect();
    if m.last().is_some_and(|l| l == "mod") {
        m.pop();
    }
    m
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_len(s: &str) -> usize {
    s.bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        .count()
}

/// The paths `text` names after `crate::` or `super::`, as absolute module paths (possibly
/// longer than a module: the longest existing prefix is taken later).
fn referenced_paths(text: &str, me: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len() - 1].to_vec()),
    ] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            use_tree(rest, base.clone(), &mut out);
        }
    }
    out
}

/// Reads one use tree (`a::b`, `a::{b, c::{d, e}}`) from the start of `s` below `path`; returns
/// the text after it.
fn use_tree<'t>(mut s: &'t str, mut path: Module, out: &mut Vec<Module>) -> &'t str {
    loop {
        s = s.trim_start();
        let n = ident_len(s);
        if n > 0 {
            path.push(s[..n].to_owned());
            s = &s[n..];
            match s.strip_prefix("::") {
                Some(t) => s = t,
                None => {
                    out.push(path);
                    return s;
                }
            }
        } else if let Some(mut group) = s.strip_prefix('{') {
            loop {
                group = use_tree(group, path.clone(), out).trim_start();
                match group.chars().next() {
                    Some(',') => group = &group[1..],
                    Some('}') => return &group[1..],
                    _ => return group,
                }
                if let Some(t) = group.trim_start().strip_prefix('}') {
                    return t;
                }
            }
        } else {
            if !path.is_empty() {
                out.push(path);
            }
            return s;
        }
    }
}

/// Module → the modules it names.
fn import_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(file);
        if me.len() == 1 && (me[0] == "main" || me[0] == "lib") {
            continue;
        }
        let text = without_comments(&std::fs::read_to_string(file).unwrap());
        let edges: &mut BTreeSet<Module> = graph.entry(me.clone()).or_default();
        for path in referenced_paths(&text, &me) {
            if let Some(n) = (1..=path.len())
                .rev()
                .find(|&n| modules.contains(&path[..n]))
            {
                edges.insert(path[..n].to_vec());
            }
        }
    }
    graph
}

/// The cycles (strongly connected parts of more than one node) of `graph`.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Reachability by search from each node: the graph has a few dozen nodes.
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<Vec<Module>> = Vec::new();
    for (m, r) in &reaches {
        if !r.contains(*m) || found.iter().any(|c| c.contains(m)) {
            continue;
        }
        let part: Vec<Module> = r
            .iter()
            .filter(|o| reaches.get(o).is_some_and(|ro| ro.contains(*m)))
            .cloned()
            .collect();
        found.push(part);
    }
    found
}

/// The graph seen at one level: `parent`'s children (top-level modules for an empty parent),
/// an edge wherever a file inside one child names something inside another.
fn level(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    parent: &[String],
) -> BTreeMap<Module, BTreeSet<Module>> {
    let depth = parent.len() + 1;
    let child = |m: &Module| {
        (m.len() >= depth && m[..parent.len()] == *parent).then(|| m[..depth].to_vec())
    };
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in graph {
        let Some(a) = child(from) else { continue };
        let edges = out.entry(a.clone()).or_default();
        for b in tos.iter().filter_map(child) {
            if b != a {
                edges.insert(b);
            }
        }
    }
    out
}

#[test]
fn module_imports_have_no_cycle() {
    let graph = import_graph();
    assert!(
        graph.keys().any(|m| m == &["lifecycle".to_owned()]),
        "the import graph reader found no lifecycle module: {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    let parents: BTreeSet<Module> = graph
        .keys()
        .flat_map(|m| (0..m.len()).map(|n| m[..n].to_vec()))
        .collect();
    let mut problems = Vec::new();
    for parent in &parents {
        for cycle in cycles(&level(&graph, parent)) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            problems.push(format!("import cycle among {}", names.join(", ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_cycle_reader_sees_a_cycle() {
    // A test that cannot fail is a defect: the reader must see `use crate::{a::x, b}` groups,
    // `super::` paths, and a cycle through them.
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned(), "c".to_owned()];
    assert_eq!(
        referenced_paths("use crate::{a::x, b::c::{y, z}};", &b),
        vec![
            vec!["a".to_owned(), "x".to_owned()],
            vec!["b".into(), "c".into(), "y".into()],
            vec!["b".into(), "c".into(), "z".into()]
        ]
    );
    assert_eq!(
        referenced_paths("super::d::f()", &b),
        vec![vec!["b".to_owned(), "d".to_owned(), "f".to_owned()]]
    );
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(cycles(&level(&graph, &[])).len(), 1);
}

#[test]
fn no_source_file_is_over_700_lines() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these files (at most {MAX_LINES} lines each):\n{}",
        long.join("\n")
    );
}
