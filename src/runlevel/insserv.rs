//! `svc enable` for a SysV script (SPEC §9; docs/lsb.md, "enable and disable"): the levels and
//! numbers of its `DIR/rcN.d` links, as update-rc.d and insserv(8) give them.
//!
//! Levels: `--levels`, else the header's `Default-Start` (the K links then go exactly into its
//! `Default-Stop` levels, none when that is empty, as update-rc.d does); with `--levels` the K
//! levels follow svc's own rule ([`super::links::kill_levels`]).
//!
//! Numbers, from the dependencies the headers give once resolved ([`Order`]): a start number
//! is one more than the highest start number among what it starts after (`requires`, `wants`,
//! facilities and `X-Start-Before` included), 01 when it starts after nothing; with `$all`, one
//! more than every other S entry. A stop number is one more than the highest stop number among
//! the services that must stop before it (those whose `Required-Stop`/`Should-Stop` name it),
//! 01 when none. The number of another service is its existing entry's (the highest), else
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
}

impl Numbering<'_> {
    fn existing_start(&self, n: &ServiceName) -> Option<u8> {
        self.existing.get(n.as_str())?.start.values().max().copied()
    }

    fn existing_stop(&self, n: &ServiceName) -> Option<u8> {
        self.existing.get(n.as_str())?.stop.values().max().copied()
    }

    /// The start number `name` gets (see the module docs).
    pub fn start(&self, name: &ServiceName) -> Result<u8, LinkError> {
        self.compute_start(name, &mut Path::default())
    }

    fn compute_start(&self, name: &ServiceName, visiting: &mut Path) -> Result<u8, LinkError> {
        let deps = self.order.deps(name).unwrap_or_default();
        let before: Vec<ServiceName> = deps
            .requires
            .iter()
            .chain(&deps.wants)
            .filter(|b| self.order.deps(b).is_some())
            .cloned()
            .collect();
        visiting.push(name);
        let highest = self.highest(&before, visiting, Self::existing_start, Self::compute_start);
        visiting.pop();
        let mut highest = highest?;
        if deps.all_start {
            for (other, st) in self.existing {
                if other != name.as_str() {
                    highest = highest.max(st.start.values().max().copied().unwrap_or(0));
                }
            }
        }
        next(name, highest, "--start")
    }

    /// The stop number `name` gets (see the module docs).
    pub fn stop(&self, name: &ServiceName) -> Result<u8, LinkError> {
        self.compute_stop(name, &mut Path::default())
    }

    fn compute_stop(&self, name: &ServiceName, visiting: &mut Path) -> Result<u8, LinkError> {
        let first: Vec<ServiceName> = self
            .order
            .names()
            .filter(|d| {
                *d != name
                    && self
                        .order
                        .deps(d)
                        .is_some_and(|deps| deps.stop_order().contains(name))
            })
            .cloned()
            .collect();
        visiting.push(name);
        let highest = self.highest(&first, visiting, Self::existing_stop, Self::compute_stop);
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

/// The plan of `svc enable` for the SysV script `def` (see the module docs); `--levels`,
/// `--start` and `--stop` win.
pub fn plan(
    def: &Definition,
    numbering: &Numbering<'_>,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Result<Plan, LinkError> {
    let header = def.lsb.as_ref().map(|h| &h.info);
    let (start_levels, kill) = match levels {
        Some(s) => (links::parse_levels(s)?, None),
        None => match header {
            Some(h) if !h.default_start.is_empty() || !h.default_stop.is_empty() => (
                links::in_order(h.default_start.clone()),
                Some(links::in_order(
                    h.default_stop
                        .iter()
                        .copied()
                        .filter(|l| *l != 'S' && !h.default_start.contains(l))
                        .collect(),
                )),
            ),
            _ => (links::DEFAULT_LEVELS.to_vec(), None),
        },
    };
    let start = match start {
        Some(n) => links::check_number("--start", n)?,
        None => numbering.start(&def.name)?,
    };
    let stop = match stop {
        Some(n) => links::check_number("--stop", n)?,
        None => numbering.stop(&def.name)?,
    };
    Ok(Plan {
        start_levels,
        start,
        stop,
        kill,
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
        let num = |existing: &BTreeMap<String, LevelState>, s: &str| {
            let nb = Numbering {
                order: &order,
                existing,
            };
            (nb.start(&n(s)).unwrap(), nb.stop(&n(s)).unwrap())
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
        };
        assert!(nb.start(&n("top")).unwrap_err().message.contains("--start"));
    }
}
