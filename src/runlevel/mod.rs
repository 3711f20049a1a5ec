//! Runlevel directories (docs/commands.md, "Runlevels" and "Switching runlevels"):
//! `runlevels/rcN.d` entries named `S<NN><NAME>` or `K<NN><NAME>`, read strictly: an entry is a
//! file or symlink whose name starts with `S` or `K` and must read `[SK][0-9]{2}NAME`; names
//! starting with anything else (a README, `s20lower`) are not entries. Entries sort by number, then
//! by name, bytewise.

pub mod graph;
pub mod insserv;
pub mod links;
pub mod order;
pub mod plan;
pub mod schedule;

use std::path::{Path, PathBuf};

use crate::name::ServiceName;
use crate::paths::Dirs;

/// Start or kill entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Start,
    Kill,
}

/// A well-formed entry of an rcN.d directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub number: u8,
    pub name: ServiceName,
    pub path: PathBuf,
}

/// A problem with one entry or directory, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Checks a runlevel argument: `0`-`6` or `S` (`s` accepted).
pub fn parse_level(s: &str) -> Option<char> {
    match s {
        "S" | "s" => Some('S'),
        _ if s.len() == 1 && ('0'..='6').contains(&s.chars().next()?) => s.chars().next(),
        _ => None,
    }
}

/// The directory of a runlevel.
pub fn level_dir(dirs: &Dirs, level: char) -> PathBuf {
    dirs.runlevels().join(format!("rc{level}.d"))
}

/// The SysV directory's rcN.d of a runlevel (SPEC §9), when there is a SysV directory.
pub fn sysv_level_dir(dirs: &Dirs, level: char) -> Option<PathBuf> {
    dirs.sysv.as_ref().map(|d| d.join(format!("rc{level}.d")))
}

/// The directories of a runlevel: `runlevels/rcN.d`, then `DIR/rcN.d` with a SysV directory.
pub fn level_dirs(dirs: &Dirs, level: char) -> Vec<PathBuf> {
    std::iter::once(level_dir(dirs, level))
        .chain(sysv_level_dir(dirs, level))
        .collect()
}

/// Reads one runlevel: its well-formed entries, sorted by kind, number and name (bytewise), and
/// a problem for every badly formed one (`S5foo`, `S20 x`, a directory named `S30y`) and every
/// entry whose definition is missing (a dangling link). A missing directory has no entries.
/// With a SysV directory, `DIR/rcN.d` is read too and merged (SPEC §9); a service with entries
/// in both directories of the level is a problem naming both, and is left out of the level.
pub fn scan(dirs: &Dirs, level: char) -> (Vec<Entry>, Vec<EntryProblem>) {
    let exists = |n: &ServiceName| crate::definition::exists(dirs, n);
    let missing = |n: &ServiceName| match dirs.sysv_init_d() {
        None => format!(
            "no definition for service {n} ({} does not exist)",
            dirs.definition(n).display()
        ),
        Some(sysv) => format!(
            "no definition for service {n} (neither {} nor an LSB script {})",
            dirs.definition(n).display(),
            sysv.join(n.as_str()).display()
        ),
    };
    let (mut entries, mut problems) = scan_dir(&level_dir(dirs, level), &exists, &missing);
    let Some(sysv_dir) = sysv_level_dir(dirs, level) else {
        return (entries, problems);
    };
    let (theirs, their_problems) = scan_dir(&sysv_dir, &exists, &missing);
    problems.extend(their_problems);
    let mine: std::collections::BTreeSet<ServiceName> =
        entries.iter().map(|e| e.name.clone()).collect();
    let both: std::collections::BTreeSet<ServiceName> = theirs
        .iter()
        .filter(|e| mine.contains(&e.name))
        .map(|e| e.name.clone())
        .collect();
    for name in &both {
        let paths: Vec<String> = entries
            .iter()
            .chain(&theirs)
            .filter(|e| &e.name == name)
            .map(|e| e.path.display().to_string())
            .collect();
        problems.push(EntryProblem {
            path: sysv_dir.clone(),
            message: format!(
                "{name} has entries in both runlevel directories of this level ({}): expected one place; {name} is left out of runlevel {level}",
                paths.join(" and ")
            ),
        });
    }
    entries.extend(theirs);
    entries.retain(|e| !both.contains(&e.name));
    sort_entries(&mut entries);
    (entries, problems)
}

fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        (a.kind, a.number, a.name.as_str().as_bytes()).cmp(&(
            b.kind,
            b.number,
            b.name.as_str().as_bytes(),
        ))
    });
}

fn scan_dir(
    dir: &Path,
    exists: &dyn Fn(&ServiceName) -> bool,
    missing: &dyn Fn(&ServiceName) -> String,
) -> (Vec<Entry>, Vec<EntryProblem>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (entries, problems),
        Err(e) => {
            problems.push(EntryProblem {
                path: dir.to_owned(),
                message: format!("cannot read the directory: {e}"),
            });
            return (entries, problems);
        }
    };
    for e in rd.flatten() {
        let path = e.path();
        let fname = e.file_name();
        let Some(fname) = fname.to_str() else {
            if fname
                .as_encoded_bytes()
                .first()
                .is_some_and(|b| matches!(b, b'S' | b'K'))
            {
                problems.push(EntryProblem {
                    path,
                    message: "badly formed entry: the name is not valid UTF-8".into(),
                });
            }
            continue;
        };
        if !fname.starts_with(['S', 'K']) {
            continue;
        }
        let Some((k, number, name)) = parse_entry(fname) else {
            problems.push(EntryProblem {
                path,
                message: "badly formed entry: expected S<NN><NAME> or K<NN><NAME> (NN two digits, NAME a service name)".into(),
            });
            continue;
        };
        let ft = std::fs::metadata(&path).map(|m| m.file_type());
        if matches!(&ft, Ok(t) if t.is_dir()) {
            problems.push(EntryProblem {
                path,
                message: "badly formed entry: a directory, expected a file or a symlink".into(),
            });
            continue;
        }
        let Ok(name) = ServiceName::new(name) else {
            continue;
        };
        if !exists(&name) {
            problems.push(EntryProblem {
                path,
                message: missing(&name),
            });
            continue;
        }
        entries.push(Entry {
            kind: if k == 'S' { Kind::Start } else { Kind::Kill },
            number,
            name,
            path,
        });
    }
    sort_entries(&mut entries);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    (entries, problems)
}

/// The runlevels, in the order `svc list` shows them.
pub const LEVELS: [char; 8] = ['0', '1', '2', '3', '4', '5', '6', 'S'];

/// A well-formed entry name split into kind (`S`/`K`), number and service name.
pub fn parse_entry(file_name: &str) -> Option<(char, u8, &str)> {
    let b = file_name.as_bytes();
    if b.len() < 4
        || !matches!(b[0], b'S' | b'K')
        || !b[1].is_ascii_digit()
        || !b[2].is_ascii_digit()
    {
        return None;
    }
    let name = &file_name[3..];
    crate::name::is_valid(name).then(|| (b[0] as char, (b[1] - b'0') * 10 + (b[2] - b'0'), name))
}

/// The runlevels whose directory holds an `S` entry for `name`.
pub fn start_levels(dirs: &Dirs, name: &ServiceName) -> Vec<char> {
    LEVELS
        .iter()
        .copied()
        .filter(|l| {
            level_dirs(dirs, *l).into_iter().any(|dir| {
                std::fs::read_dir(dir)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok()).any(|e| {
                            e.file_name()
                                .to_str()
                                .and_then(parse_entry)
                                .is_some_and(|(k, _, n)| k == 'S' && n == name.as_str())
                        })
                    })
                    .unwrap_or(false)
            })
        })
        .collect()
}

/// For every service with `S` entries: the runlevels that start it (one pass over rcN.d).
pub fn start_levels_all(dirs: &Dirs) -> std::collections::HashMap<String, Vec<char>> {
    let mut out: std::collections::HashMap<String, Vec<char>> = std::collections::HashMap::new();
    for (l, dir) in LEVELS
        .iter()
        .flat_map(|l| level_dirs(dirs, *l).into_iter().map(move |d| (*l, d)))
    {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some(('S', _, name)) = fname.to_str().and_then(parse_entry) else {
                continue;
            };
            let levels = out.entry(name.to_string()).or_default();
            if !levels.contains(&l) {
                levels.push(l);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_sorts_numerically_then_bytewise_and_reports_bad_entries() {
        let d = tempfile::tempdir().unwrap();
        let init = d.path().join("init.d");
        let rc = d.path().join("rc2.d");
        std::fs::create_dir_all(&init).unwrap();
        std::fs::create_dir_all(&rc).unwrap();
        for n in ["a", "b", "B", "c", "d"] {
            std::fs::write(init.join(format!("{n}.yaml")), "exec: /bin/true\n").unwrap();
        }
        for e in [
            "S10b", "S10B", "S02c", "S1a", "S100d", "K20a", "README", "s20lower", "S30gone",
        ] {
            std::fs::write(rc.join(e), "").unwrap();
        }
        std::fs::create_dir(rc.join("S30d")).unwrap();
        let exists = |n: &ServiceName| init.join(format!("{n}.yaml")).is_file();
        let (entries, problems) = scan_dir(&rc, &exists, &|n| format!("no definition for {n}"));
        let order: Vec<String> = entries
            .iter()
            .map(|e| format!("{:?}{}{}", e.kind, e.number, e.name))
            .collect();
        assert_eq!(order, ["Start2c", "Start10B", "Start10b", "Kill20a"]);
        let bad: Vec<String> = problems
            .iter()
            .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(bad, ["S100d", "S1a", "S30d", "S30gone"]);
    }

    #[test]
    fn entries() {
        assert_eq!(parse_entry("S20httpd"), Some(('S', 20, "httpd")));
        assert_eq!(parse_entry("K01a"), Some(('K', 1, "a")));
        for bad in [
            "S5foo", "K7foo", "s20lower", "README", "S20", "S2x0a", "S20 x", "S20../x",
        ] {
            assert_eq!(parse_entry(bad), None, "{bad}");
        }
    }
}
