//! The S/K links of `svc enable`, `disable` and `list` (docs/commands.md, "Runlevels").
//!
//! `enable` puts `S<NN>NAME` into the runlevels that start the service and `K<NN>NAME` into the
//! other levels 0–6 (never into rcS.d) — for a service started in rcS.d only into 0 and 6, as
//! sysv-rc and insserv do (see [`kill_levels`]) — as relative symlinks `../../init.d/NAME.yaml`,
//! each created under a temporary name and renamed into place. Numbers come from the command line,
//! else from the definition (`start_priority`, `stop_priority`), else they are computed as insserv
//! does for LSB headers: one more than the highest start number of the service's `requires` and
//! `wants` (their existing S entries, else their `start_priority`, else what `enable` would compute
//! for them), 20 for a service without dependencies; the stop number is `100 - start`, so
//! dependencies start before and stop after the service. Only entries whose name part is exactly
//! NAME are ever touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{graph, level_dir, parse_entry, Kind, LEVELS};
use crate::definition::{self, Definition, DefinitionError};
use crate::exit::Code;
use crate::name::ServiceName;
use crate::paths::Dirs;

/// Start levels when neither `--levels` nor the definition's `runlevels` say otherwise.
pub const DEFAULT_LEVELS: [char; 4] = ['2', '3', '4', '5'];

/// The start number of a service without dependencies and without `start_priority`.
pub const DEFAULT_START: u8 = 20;

/// One S or K entry of a service (a file or symlink, never a directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub level: char,
    pub kind: Kind,
    pub number: u8,
    pub path: PathBuf,
}

impl Link {
    /// `S20httpd`
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Why enable, disable or list failed, with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub code: Code,
    pub message: String,
}

impl LinkError {
    pub fn new(code: Code, message: impl Into<String>) -> LinkError {
        LinkError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where a service starts and with which numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The levels with an `S` entry, in [`LEVELS`] order.
    pub start_levels: Vec<char>,
    pub start: u8,
    pub stop: u8,
    /// The levels with a `K` entry when given (a SysV script's `Default-Stop`); `None`: see
    /// [`kill_levels`].
    pub kill: Option<Vec<char>>,
}

impl Plan {
    /// The levels 0–6 that get a `K` entry: [`Plan::kill`], else see [`kill_levels`].
    pub fn kill_levels(&self) -> Vec<char> {
        match &self.kill {
            Some(k) => k.clone(),
            None => kill_levels(&self.start_levels),
        }
    }

    /// Every entry the plan wants: (level, file name).
    fn wanted(&self, name: &ServiceName) -> Vec<(char, String)> {
        let mut out: Vec<(char, String)> = self
            .start_levels
            .iter()
            .map(|l| (*l, format!("S{:02}{name}", self.start)))
            .collect();
        out.extend(
            self.kill_levels()
                .into_iter()
                .map(|l| (l, format!("K{:02}{name}", self.stop))),
        );
        out
    }
}

/// The levels 0–6 that stop a service started in `start`: the LSB `Default-Stop` rule, one
/// copy for `enable` and the INIT INFO header of `svc lsb-script`.
pub use crate::lsb::header::kill_levels;

/// The link target of every entry of `name`: `../../init.d/NAME.yaml`.
pub fn target(name: &ServiceName) -> PathBuf {
    PathBuf::from(format!("../../init.d/{name}.yaml"))
}

/// Parses `--levels`: characters from `0123456S` (`s` taken as `S`), at least one; exit 2
/// otherwise. The result is deduplicated, in [`LEVELS`] order.
pub fn parse_levels(s: &str) -> Result<Vec<char>, LinkError> {
    if s.is_empty() {
        return Err(LinkError::new(
            Code::InvalidArgs,
            "--levels: expected runlevels such as 2345 (characters 0-6 and S), got an empty string",
        ));
    }
    let mut out = Vec::new();
    for c in s.chars() {
        let Some(l) = super::parse_level(c.encode_utf8(&mut [0; 4])) else {
            return Err(LinkError::new(
                Code::InvalidArgs,
                format!("--levels {s:?}: {c:?} is not a runlevel (expected characters 0-6 and S)"),
            ));
        };
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(in_order(out))
}

/// Checks `--start`/`--stop`: 0–99, exit 2 otherwise.
pub fn check_number(option: &str, n: u8) -> Result<u8, LinkError> {
    if n <= 99 {
        Ok(n)
    } else {
        Err(LinkError::new(
            Code::InvalidArgs,
            format!("{option} {n}: expected a number from 0 to 99"),
        ))
    }
}

pub fn in_order(levels: Vec<char>) -> Vec<char> {
    LEVELS
        .iter()
        .copied()
        .filter(|l| levels.contains(l))
        .collect()
}

/// The S/K entries of `name` in every runlevel directory (missing directories have none), in
/// [`LEVELS`] order, then kind and number. Directories are never entries.
pub fn links_of(dirs: &Dirs, name: &ServiceName) -> Result<Vec<Link>, LinkError> {
    scan_links(dirs, Some(name)).map(|mut all| all.remove(name.as_str()).unwrap_or_default())
}

/// The S/K entries of every service (or of `only`), by name, each list as in [`links_of`]:
/// every runlevel directory is read once, whatever the number of services.
fn scan_links(
    dirs: &Dirs,
    only: Option<&ServiceName>,
) -> Result<BTreeMap<String, Vec<Link>>, LinkError> {
    let mut out: BTreeMap<String, Vec<Link>> = BTreeMap::new();
    for (level, dir) in LEVELS.iter().flat_map(|l| {
        super::level_dirs(dirs, *l)
            .into_iter()
            .map(move |d| (*l, d))
    }) {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(LinkError::new(
                    Code::Failure,
                    format!("cannot read {}: {e}", dir.display()),
                ))
            }
        };
        let mut here: BTreeMap<String, Vec<Link>> = BTreeMap::new();
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some((k, number, n)) = fname.to_str().and_then(parse_entry) else {
                continue;
            };
            if only.is_some_and(|o| o.as_str() != n) {
                continue;
            }
            // The entry itself, never what a symlink points to.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            here.entry(n.to_string()).or_default().push(Link {
                level,
                kind: if k == 'S' { Kind::Start } else { Kind::Kill },
                number,
                path: e.path(),
            });
        }
        for (n, mut links) in here {
            links.sort_by_key(|l| (l.kind, l.number));
            out.entry(n).or_default().extend(links);
        }
    }
    Ok(out)
}

/// The numbers and levels `enable` uses: the options, else the definition, else computed.
pub fn plan(
    dirs: &Dirs,
    def: &Definition,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Result<Plan, LinkError> {
    let start_levels = match levels {
        Some(s) => parse_levels(s)?,
        None if !def.runlevels.is_empty() => in_order(def.runlevels.clone()),
        None => DEFAULT_LEVELS.to_vec(),
    };
    let start = start.map(|n| check_number("--start", n)).transpose()?;
    let stop = stop.map(|n| check_number("--stop", n)).transpose()?;
    let start = match start.or(def.start_priority) {
        Some(n) => n,
        None => computed_start(dirs, def)?,
    };
    let stop = stop
        .or(def.stop_priority)
        .unwrap_or_else(|| default_stop(start));
    Ok(Plan {
        start_levels,
        start,
        stop,
        kill: None,
    })
}

/// `100 - start`, within 01..=99.
pub fn default_stop(start: u8) -> u8 {
    100u8.saturating_sub(start).clamp(1, 99)
}

/// One more than the highest start number of the service's dependencies, or
/// [`DEFAULT_START`] without any. An error when a dependency already starts at 99.
pub fn computed_start(dirs: &Dirs, def: &Definition) -> Result<u8, LinkError> {
    compute(dirs, def, &mut graph::Path::default())
}

fn compute(dirs: &Dirs, def: &Definition, visiting: &mut graph::Path) -> Result<u8, LinkError> {
    visiting.push(&def.name);
    let mut highest: Option<(u8, &ServiceName)> = None;
    let mut result = Ok(());
    for dep in def.requires.iter().chain(&def.wants) {
        if visiting.contains(dep) {
            continue; // a cycle: `svc check` reports it
        }
        match dep_start(dirs, dep, visiting) {
            Ok(Some(n)) if highest.is_none_or(|(h, _)| n > h) => highest = Some((n, dep)),
            Ok(_) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    visiting.pop();
    result?;
    match highest {
        None => Ok(DEFAULT_START),
        Some((99, dep)) => Err(LinkError::new(
            Code::Failure,
            format!(
                "{}: cannot start after {dep}, which starts at 99; give --start",
                def.name
            ),
        )),
        Some((n, _)) => Ok(n + 1),
    }
}

/// The start number of a dependency: its highest S entry, else its `start_priority`, else its
/// computed number; `None` when it has no definition (a `wants` may be absent).
fn dep_start(
    dirs: &Dirs,
    dep: &ServiceName,
    visiting: &mut graph::Path,
) -> Result<Option<u8>, LinkError> {
    let enabled = links_of(dirs, dep)?
        .iter()
        .filter(|l| l.kind == Kind::Start)
        .map(|l| l.number)
        .max();
    if enabled.is_some() {
        return Ok(enabled);
    }
    match definition::load(dirs, dep) {
        Ok(d) => match d.start_priority {
            Some(n) => Ok(Some(n)),
            None => compute(dirs, &d, visiting).map(Some),
        },
        Err(DefinitionError::NotFound { .. }) => Ok(None),
        Err(e) => Err(LinkError::new(
            Code::NotConfigured,
            format!("cannot compute a start number from dependency {dep} (give --start): {e}"),
        )),
    }
}

/// Where a service's entries go: the runlevel directory of each level, and what they link to.
pub struct Place {
    pub dir: Box<dyn Fn(char) -> PathBuf>,
    pub target: PathBuf,
}

impl Place {
    /// `runlevels/rcN.d`, links to `../../init.d/NAME.yaml`.
    pub fn config(dirs: &Dirs, name: &ServiceName) -> Place {
        let dirs = dirs.clone();
        Place {
            dir: Box::new(move |l| level_dir(&dirs, l)),
            target: target(name),
        }
    }
}

/// Makes the entries of `name` exactly those of `plan` in the configuration's runlevel
/// directories ([`apply_at`] with [`Place::config`]).
pub fn apply(dirs: &Dirs, name: &ServiceName, plan: &Plan) -> Result<bool, LinkError> {
    apply_at(dirs, name, plan, &Place::config(dirs, name))
}

/// Makes the entries of `name` exactly those of `plan` at `place`: creates the missing ones
/// (creating rcN.d directories as needed), replaces wrong ones, removes every other S/K entry of
/// `name` (in every runlevel directory, the SysV directory's included). All or nothing as far
/// as the file system allows: every new link is first made under a temporary name, and only
/// when all of them exist are they renamed into place and the old entries removed; on an error
/// before that, the temporary links are removed and nothing has changed. Returns whether
/// anything changed.
pub fn apply_at(
    dirs: &Dirs,
    name: &ServiceName,
    plan: &Plan,
    place: &Place,
) -> Result<bool, LinkError> {
    let existing = links_of(dirs, name)?;
    let wanted: Vec<PathBuf> = plan
        .wanted(name)
        .into_iter()
        .map(|(level, fname)| (place.dir)(level).join(fname))
        .collect();
    let mut made: Vec<(PathBuf, PathBuf)> = Vec::new();
    for path in &wanted {
        if std::fs::read_link(path).is_ok_and(|t| t == place.target) {
            continue;
        }
        let made_now = path
            .parent()
            .ok_or_else(|| LinkError::new(Code::Failure, "no directory"))
            .and_then(|dir| {
                make_dir(dir)?;
                temp_link(path, &place.target)
            });
        match made_now {
            Ok(tmp) => made.push((tmp, path.clone())),
            Err(e) => {
                for (tmp, _) in &made {
                    let _ = std::fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    let changed_links = !made.is_empty();
    for (tmp, path) in made {
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            LinkError::new(
                Code::Failure,
                format!("cannot create {}: {e}", path.display()),
            )
        })?;
    }
    let mut changed = changed_links;
    for link in existing {
        if wanted.contains(&link.path) {
            continue;
        }
        remove(&link.path)?;
        changed = true;
    }
    Ok(changed)
}

/// Removes every S/K entry of `name`; returns those removed.
pub fn remove_all(dirs: &Dirs, name: &ServiceName) -> Result<Vec<Link>, LinkError> {
    let links = links_of(dirs, name)?;
    for l in &links {
        remove(&l.path)?;
    }
    Ok(links)
}

fn remove(path: &Path) -> Result<(), LinkError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LinkError::new(
            Code::Failure,
            format!("cannot remove {}: {e}", path.display()),
        )),
    }
}

fn make_dir(dir: &Path) -> Result<(), LinkError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| {
            LinkError::new(
                Code::Failure,
                format!("cannot create {}: {e}", dir.display()),
            )
        })
}

/// A symlink to `target` under a hidden temporary name next to `path` (not an entry: it does
/// not start with S or K), for the caller to rename over `path`.
fn temp_link(path: &Path, target: &Path) -> Result<PathBuf, LinkError> {
    let fname = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{fname}.svc-tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| {
        LinkError::new(
            Code::Failure,
            format!("cannot create {}: {e}", tmp.display()),
        )
    })?;
    Ok(tmp)
}

/// What `svc list` shows for one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LevelState {
    /// The levels with an S entry.
    pub on: Vec<char>,
    /// level -> S number (the lowest, should there be several).
    pub start: BTreeMap<char, u8>,
    /// level -> K number (the lowest, should there be several).
    pub stop: BTreeMap<char, u8>,
}

/// The S/K state of `name` in every runlevel.
pub fn state(dirs: &Dirs, name: &ServiceName) -> Result<LevelState, LinkError> {
    Ok(state_of(links_of(dirs, name)?))
}

/// The S/K state of every service that has entries, by name, reading each runlevel directory
/// once (`svc list` of thousands of services). Services without entries are absent.
pub fn states(dirs: &Dirs) -> Result<BTreeMap<String, LevelState>, LinkError> {
    Ok(scan_links(dirs, None)?
        .into_iter()
        .map(|(n, links)| (n, state_of(links)))
        .collect())
}

fn state_of(links: Vec<Link>) -> LevelState {
    let mut st = LevelState::default();
    for l in links {
        let map = match l.kind {
            Kind::Start => {
                if !st.on.contains(&l.level) {
                    st.on.push(l.level);
                }
                &mut st.start
            }
            Kind::Kill => &mut st.stop,
        };
        map.entry(l.level).or_insert(l.number);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::DirFlags;

    fn dirs(root: &Path) -> Dirs {
        Dirs::resolve(&DirFlags {
            config: Some(root.join("config")),
            state: Some(root.join("state")),
            log: Some(root.join("log")),
            sysv: None,
        })
    }

    fn service(d: &Dirs, name: &str, extra: &str) -> Definition {
        std::fs::create_dir_all(d.init_d()).unwrap();
        let n = ServiceName::new(name).unwrap();
        std::fs::write(d.definition(&n), format!("exec: /bin/true\n{extra}")).unwrap();
        definition::load(d, &n).unwrap()
    }

    fn names(d: &Dirs, level: char) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(level_dir(d, level))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn levels_and_numbers_are_checked() {
        assert_eq!(parse_levels("5432").unwrap(), ['2', '3', '4', '5']);
        assert_eq!(parse_levels("s22").unwrap(), ['2', 'S']);
        for bad in ["", "7", "2a", "2 3", "S,2"] {
            assert_eq!(
                parse_levels(bad).unwrap_err().code,
                Code::InvalidArgs,
                "{bad}"
            );
        }
        assert_eq!(check_number("--start", 0), Ok(0));
        assert_eq!(check_number("--start", 99), Ok(99));
        assert_eq!(
            check_number("--stop", 100).unwrap_err().code,
            Code::InvalidArgs
        );
        assert_eq!(default_stop(20), 80);
        assert_eq!(default_stop(0), 99);
        assert_eq!(default_stop(99), 1);
    }

    #[test]
    fn rcs_services_are_stopped_only_at_halt_and_reboot() {
        assert_eq!(kill_levels(&['2', '3', '4', '5']), ['0', '1', '6']);
        assert_eq!(kill_levels(&['S']), ['0', '6']);
        assert_eq!(kill_levels(&['2', 'S']), ['0', '6']);
        assert_eq!(kill_levels(&['0', 'S']), ['6']);
        assert_eq!(
            kill_levels(&['0', '1', '2', '3', '4', '5', '6']),
            Vec::<char>::new()
        );
    }

    #[test]
    fn computed_numbers_follow_dependencies() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(t.path());
        let base = service(&d, "base", "");
        service(&d, "prio", "start_priority: 40\n");
        let mid = service(&d, "mid", "requires: [base]\nwants: [absent]\n");
        let top = service(&d, "top", "requires: [mid]\nwants: [prio]\n");
        assert_eq!(computed_start(&d, &base), Ok(20));
        assert_eq!(computed_start(&d, &mid), Ok(21));
        assert_eq!(computed_start(&d, &top), Ok(41));
        // An enabled dependency counts with its real S number.
        let p = plan(&d, &base, None, Some(60), None).unwrap();
        assert_eq!((p.start, p.stop), (60, 40));
        apply(&d, &base.name, &p).unwrap();
        assert_eq!(computed_start(&d, &mid), Ok(61));
        assert_eq!(computed_start(&d, &top), Ok(62));
        let p = plan(&d, &base, None, Some(99), None).unwrap();
        apply(&d, &base.name, &p).unwrap();
        let e = computed_start(&d, &mid).unwrap_err();
        assert!(e.message.contains("base"), "{e}");
        // A cycle does not loop.
        let a = service(&d, "a", "wants: [b]\n");
        service(&d, "b", "wants: [a]\n");
        assert_eq!(computed_start(&d, &a), Ok(21));
    }

    #[test]
    fn apply_creates_moves_and_removes_only_its_own_entries() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(t.path());
        let x = service(&d, "x", "runlevels: [3, S]\n");
        service(&d, "xy", "");
        std::fs::create_dir_all(level_dir(&d, '3')).unwrap();
        std::fs::write(level_dir(&d, '3').join("S10xy"), "").unwrap();
        let p = plan(&d, &x, None, None, None).unwrap();
        assert_eq!(p.start_levels, ['3', 'S']);
        // Started in rcS.d: stopped only at halt and reboot.
        assert_eq!(p.kill_levels(), ['0', '6']);
        assert!(apply(&d, &x.name, &p).unwrap());
        assert!(
            !apply(&d, &x.name, &p).unwrap(),
            "a second apply changes nothing"
        );
        assert_eq!(names(&d, '3'), ["S10xy", "S20x"]);
        assert_eq!(names(&d, 'S'), ["S20x"]);
        assert_eq!(names(&d, '0'), ["K80x"]);
        assert_eq!(
            std::fs::read_link(level_dir(&d, '3').join("S20x")).unwrap(),
            Path::new("../../init.d/x.yaml")
        );
        let p2 = plan(&d, &x, Some("2"), Some(5), Some(7)).unwrap();
        assert!(apply(&d, &x.name, &p2).unwrap());
        assert_eq!(names(&d, '3'), ["K07x", "S10xy"]);
        assert_eq!(names(&d, '2'), ["S05x"]);
        assert!(names(&d, 'S').is_empty());
        let st = state(&d, &x.name).unwrap();
        assert_eq!(st.on, ['2']);
        assert_eq!(st.start.get(&'2'), Some(&5));
        assert_eq!(st.stop.len(), 6);
        assert_eq!(remove_all(&d, &x.name).unwrap().len(), 7);
        assert_eq!(names(&d, '3'), ["S10xy"]);
        assert!(remove_all(&d, &x.name).unwrap().is_empty());
    }
}
