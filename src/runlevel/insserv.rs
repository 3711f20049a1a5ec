//! `svc enable` for a SysV script (SPEC §9; docs/lsb.md, "enable and disable"): the levels and
//! numbers of its `DIR/rcN.d` links, as update-rc.d and insserv(8) give them.
//!
//! Levels: `--levels`, else the header's `Default-Start` (the K links then go exactly into its
//! `Default-Stop` levels, none when that is empty, as update-rc.d does); with `--levels` the K
//! levels follow svc's own rule ([`super::links::kill_levels`]).
//!
//! Numbers, from the dependencies the headers give once resolved ([`Order`]): a start number
//! is one more than the highest start number among what it starts after (`requires`, `wants`,
//! facilities and `X-Start-Before` included) and that starts in one of its levels, 01 when it
//! starts after nothing such; with `$all`, one more than every other S entry of its levels. As
//! insserv: a script of 2 3 4 5 that requires a boot script of S (`$local_fs`) is not numbered
//! after it — rcS.d has run before any other level starts. A stop number is one more than the
//! highest stop number among the services that must stop before it (those whose
//! `Required-Stop`/`Should-Stop` name it) and that stop in one of its levels, 01 when none (a
//! script with an empty `Default-Stop` does not push others' numbers). A service's levels are
//! those of its S (K) entries, else its [`default_levels`]. The number of another service is its existing entry's (the highest), else
//! computed the same way. Above 99 is an error asking for `--start`/`--stop`.

use std::collections::BTreeMap;

use super::graph::Path;
use super::links::{self, LevelState, LinkError, Plan};
use super::order::Order;
use crate::definition::Definition;
use crate::exit::Code;
use crate::name::ServiceName;

/// What the numbering looks at: the resolved dependencies and the existing entries.
pub struct Numbering<'a> {
    pub order: &'a Order,
    /// Every service's existing S/K numbers ([`links::states`]).
    pub existing: &'a BTreeMap<String, LevelState>,
    /// Every service's levels when it has no S (K) entries ([`default_levels`]; a service
    /// missing here: 2 3 4 5 and svc's usual K levels).
    pub defaults: &'a BTreeMap<ServiceName, Levels>,
}

impl Numbering<'_> {
    fn existing_start(&self, n: &ServiceName) -> Option<u8> {
        self.existing.get(n.as_str())?.start.values().max().copied()
    }

    fn existing_stop(&self, n: &ServiceName) -> Option<u8> {
        self.existing.get(n.as_str())?.stop.values().max().copied()
    }

    /// The levels `n` starts in: those of its S entries, else its default ones.
    fn start_levels(&self, n: &ServiceName) -> Vec<char> {
        match self.existing.get(n.as_str()) {
            Some(st) if !st.start.is_empty() => st.start.keys().copied().collect(),
            _ => match self.defaults.get(n) {
                Some(l) => l.start.clone(),
                None => links::DEFAULT_LEVELS.to_vec(),
            },
        }
    }

    /// The levels `n` stops in: those of its K entries, else its default ones.
    fn stop_levels(&self, n: &ServiceName) -> Vec<char> {
        match self.existing.get(n.as_str()) {
            Some(st) if !st.stop.is_empty() => st.stop.keys().copied().collect(),
            _ => match self.defaults.get(n) {
                Some(l) => l.kill_levels(),
                None => links::kill_levels(&links::DEFAULT_LEVELS),
            },
        }
    }

    /// The start number `name` gets when it starts in `levels` (see the module docs).
    pub fn start(&self, name: &ServiceName, levels: &[char]) -> Result<u8, LinkError> {
        self.compute_start(name, levels, &mut Path::default())
    }

    fn start_of(&self, name: &ServiceName, visiting: &mut Path) -> Result<u8, LinkError> {
        self.compute_start(name, &self.start_levels(name), visiting)
    }

    fn compute_start(
        &self,
        name: &ServiceName,
        levels: &[char],
        visiting: &mut Path,
    ) -> Result<u8, LinkError> {
        let deps = self.order.deps(name).unwrap_or_default();
        let before: Vec<ServiceName> = deps
            .requires
            .iter()
            .chain(&deps.wants)
            .filter(|b| self.order.deps(b).is_some())
            .filter(|b| self.start_levels(b).iter().any(|l| levels.contains(l)))
            .cloned()
            .collect();
        visiting.push(name);
        let highest = self.highest(&before, visiting, Self::existing_start, Self::start_of);
        visiting.pop();
        let mut highest = highest?;
        if deps.all_start {
            for (other, st) in self.existing {
                if other != name.as_str() {
                    let mine = st.start.iter().filter(|(l, _)| levels.contains(l));
                    highest = highest.max(mine.map(|(_, n)| *n).max().unwrap_or(0));
                }
            }
        }
        next(name, highest, "--start")
    }

    /// The stop number `name` gets when it stops in `levels` (see the module docs).
    pub fn stop(&self, name: &ServiceName, levels: &[char]) -> Result<u8, LinkError> {
        self.compute_stop(name, levels, &mut Path::default())
    }

    fn stop_of(&self, name: &ServiceName, visiting: &mut Path) -> Result<u8, LinkError> {
        self.compute_stop(name, &self.stop_levels(name), visiting)
    }

    fn compute_stop(
        &self,
        name: &ServiceName,
        levels: &[char],
        visiting: &mut Path,
    ) -> Result<u8, LinkError> {
        let first: Vec<ServiceName> = self
            .order
            .names()
            .filter(|d| {
                *d != name
                    && self
                        .order
                        .deps(d)
                        .is_some_and(|deps| deps.stop_order().contains(name))
                    && self.stop_levels(d).iter().any(|l| levels.contains(l))
            })
            .cloned()
            .collect();
        visiting.push(name);
        let highest = self.highest(&first, visiting, Self::existing_stop, Self::stop_of);
        visiting.pop();
        next(name, highest?, "--stop")
    }

    /// The highest number among `others` (0 for none): each one's `existing` number, else its
    /// `compute`d one; those already on the walk (a cycle, which `svc check` reports) are
    /// skipped.
    fn highest(
        &self,
        others: &[ServiceName],
        visiting: &mut Path,
        existing: fn(&Self, &ServiceName) -> Option<u8>,
        compute: fn(&Self, &ServiceName, &mut Path) -> Result<u8, LinkError>,
    ) -> Result<u8, LinkError> {
        let mut highest = 0u8;
        for o in others {
            if visiting.contains(o) {
                continue;
            }
            let n = match existing(self, o) {
                Some(n) => n,
                None => compute(self, o, visiting)?,
            };
            highest = highest.max(n);
        }
        Ok(highest)
    }
}

fn next(name: &ServiceName, highest: u8, option: &str) -> Result<u8, LinkError> {
    if highest >= 99 {
        return Err(LinkError::new(
            Code::Failure,
            format!("{name}: its dependencies leave no number above {highest}; give {option}"),
        ));
    }
    Ok(highest + 1)
}

/// The levels `def` starts and stops in when its links follow its header: `Default-Start`
/// and exactly `Default-Stop` (less S and the start levels) when the header gives either, else
/// its `runlevels` (2 3 4 5 when none) and svc's usual K levels ([`links::kill_levels`]).
pub fn default_levels(def: &Definition) -> Levels {
    match def.lsb.as_ref().map(|h| &h.info) {
        Some(h) if !h.default_start.is_empty() || !h.default_stop.is_empty() => Levels {
            start: links::in_order(h.default_start.clone()),
            kill: Some(links::in_order(
                h.default_stop
                    .iter()
                    .copied()
                    .filter(|l| *l != 'S' && !h.default_start.contains(l))
                    .collect(),
            )),
        },
        _ => Levels {
            start: if def.runlevels.is_empty() {
                links::DEFAULT_LEVELS.to_vec()
            } else {
                links::in_order(def.runlevels.clone())
            },
            kill: None,
        },
    }
}

/// The levels of a service's S entries and (`None`: svc's usual ones) K entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    pub start: Vec<char>,
    pub kill: Option<Vec<char>>,
}

impl Levels {
    /// The K levels.
    pub fn kill_levels(&self) -> Vec<char> {
        match &self.kill {
            Some(k) => k.clone(),
            None => links::kill_levels(&self.start),
        }
    }
}

/// The plan of `svc enable` for the SysV script `def` (see the module docs); `--levels`,
/// `--start` and `--stop` win.
pub fn plan(
    def: &Definition,
    numbering: &Numbering<'_>,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Result<Plan, LinkError> {
    let lv = match levels {
        Some(s) => Levels {
            start: links::parse_levels(s)?,
            kill: None,
        },
        None => default_levels(def),
    };
    let start = match start {
        Some(n) => links::check_number("--start", n)?,
        None => numbering.start(&def.name, &lv.start)?,
    };
    let stop = match stop {
        Some(n) => links::check_number("--stop", n)?,
        None => numbering.stop(&def.name, &lv.kill_levels())?,
    };
    Ok(Plan {
        start_levels: lv.start,
        start,
        stop,
        kill: lv.kill,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsb::facilities::Facilities;
    use crate::runlevel::order::tests::script;

    fn n(s: &str) -> ServiceName {
        ServiceName::new(s).unwrap()
    }

    #[test]
    fn numbers_follow_the_dependencies_and_existing_entries() {
        let defs = [
            script("base", &[]),
            script("mid", &["Required-Start: base", "Required-Stop: base"]),
            script(
                "top",
                &[
                    "Required-Start: mid",
                    "Should-Start: logd",
                    "Required-Stop: mid",
                ],
            ),
            script("logd", &[]),
            script("last", &["Required-Start: $all"]),
        ];
        let order = Order::of(defs.iter(), &Facilities::default());
        let mut existing: BTreeMap<String, LevelState> = BTreeMap::new();
        let defaults = BTreeMap::new();
        let kill = links::kill_levels(&links::DEFAULT_LEVELS);
        let num = |existing: &BTreeMap<String, LevelState>, s: &str| {
            let nb = Numbering {
                order: &order,
                existing,
                defaults: &defaults,
            };
            (
                nb.start(&n(s), &links::DEFAULT_LEVELS).unwrap(),
                nb.stop(&n(s), &kill).unwrap(),
            )
        };
        assert_eq!(num(&existing, "base"), (1, 3));
        assert_eq!(num(&existing, "mid"), (2, 2));
        assert_eq!(num(&existing, "top"), (3, 1));
        // An existing entry counts as it is.
        let mut logd = LevelState::default();
        logd.start.insert('2', 30);
        existing.insert("logd".into(), logd);
        assert_eq!(num(&existing, "top"), (31, 1));
        assert_eq!(num(&existing, "last"), (31, 1));
        let mut high = LevelState::default();
        high.start.insert('2', 99);
        existing.insert("logd".into(), high);
        let nb = Numbering {
            order: &order,
            existing: &existing,
            defaults: &defaults,
        };
        let err = nb.start(&n("top"), &links::DEFAULT_LEVELS).unwrap_err();
        assert!(err.message.contains("--start"));
    }

    /// As insserv (issue 14's differential test found the difference): rcS.d has run before
    /// any other level starts, so a script of 2 3 4 5 is not numbered after a boot script it
    /// requires, nor is `$all` after the S entries of rcS.d; a dependency sharing a level is.
    #[test]
    fn dependencies_of_other_levels_do_not_raise_the_number() {
        let defs = [
            script("mountall", &["Default-Start: S"]),
            script("hwclock", &["Required-Start: mountall", "Default-Start: S"]),
            script(
                "syslogd",
                &["Required-Start: hwclock", "Default-Start: 2 3 4 5"],
            ),
            script("three", &["Default-Start: 3"]),
            script("app", &["Required-Start: syslogd three"]),
            script("last", &["Required-Start: $all"]),
        ];
        let order = Order::of(defs.iter(), &Facilities::default());
        let defaults: BTreeMap<ServiceName, Levels> = defs
            .iter()
            .map(|d| (d.name.clone(), default_levels(d)))
            .collect();
        let mut existing: BTreeMap<String, LevelState> = BTreeMap::new();
        let mut three = LevelState::default();
        three.start.insert('3', 7);
        existing.insert("three".into(), three);
        let mut mountall = LevelState::default();
        mountall.start.insert('S', 40);
        existing.insert("mountall".into(), mountall);
        let nb = Numbering {
            order: &order,
            existing: &existing,
            defaults: &defaults,
        };
        assert_eq!(nb.start(&n("hwclock"), &['S']).unwrap(), 41);
        assert_eq!(nb.start(&n("syslogd"), &links::DEFAULT_LEVELS).unwrap(), 1);
        // `three` shares level 3 with app in 2 3 4 5, not with app in 2.
        assert_eq!(nb.start(&n("app"), &links::DEFAULT_LEVELS).unwrap(), 8);
        assert_eq!(nb.start(&n("app"), &['2']).unwrap(), 2);
        assert_eq!(nb.start(&n("last"), &['2']).unwrap(), 1);
        assert_eq!(nb.start(&n("last"), &links::DEFAULT_LEVELS).unwrap(), 8);
    }

    /// As insserv: a script that never stops (empty `Default-Stop`, so no K entries) does not
    /// raise the stop number of what it must stop before.
    #[test]
    fn a_script_that_never_stops_does_not_raise_stop_numbers() {
        let defs = [
            script("db", &["Default-Start: 2 3 4 5", "Default-Stop: 0 1 6"]),
            script(
                "keep",
                &[
                    "Required-Stop: db",
                    "Default-Start: 2 3 4 5",
                    "Default-Stop:",
                ],
            ),
            script(
                "web",
                &[
                    "Required-Stop: db",
                    "Default-Start: 2 3 4 5",
                    "Default-Stop: 0 1 6",
                ],
            ),
        ];
        let order = Order::of(defs.iter(), &Facilities::default());
        let defaults: BTreeMap<ServiceName, Levels> = defs
            .iter()
            .map(|d| (d.name.clone(), default_levels(d)))
            .collect();
        assert_eq!(defaults[&n("keep")].kill_levels(), Vec::<char>::new());
        let mut existing: BTreeMap<String, LevelState> = BTreeMap::new();
        let mut keep = LevelState::default();
        keep.start.insert('2', 1);
        existing.insert("keep".into(), keep);
        let nb = Numbering {
            order: &order,
            existing: &existing,
            defaults: &defaults,
        };
        assert_eq!(nb.stop(&n("db"), &['0', '1', '6']).unwrap(), 2);
        let mut web = LevelState::default();
        web.stop.insert('0', 5);
        existing.insert("web".into(), web);
        let nb = Numbering {
            order: &order,
            existing: &existing,
            defaults: &defaults,
        };
        assert_eq!(nb.stop(&n("db"), &['0', '1', '6']).unwrap(), 6);
        assert_eq!(nb.stop(&n("db"), &['1']).unwrap(), 1);
    }
}
