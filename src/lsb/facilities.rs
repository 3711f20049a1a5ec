//! insserv's facility map (insserv(8), `/etc/insserv.conf` and `/etc/insserv.conf.d/*`): which
//! services provide a system facility such as `$syslog`. Pure: the text of one file in, the
//! facilities and every problem (with its line) out; [`Facilities::expand`] resolves a facility
//! to service names.
//!
//! The format, one facility a line: `$facility  name +optional $other ...` — `#` starts a
//! comment; a `+` marks a member as optional (the facility is satisfied without it); a member
//! that is a facility brings its own members (optional when either says so). Lines that start
//! with `<` (`<interactive> ...`, insserv's own script lists) are not facilities and are ignored.
//! A facility written twice (in insserv.conf and a file of insserv.conf.d) has the members of
//! both. Anything else (a line not starting with `$` or `<`, a facility without members) is a
//! problem naming the line, and the line is left out.

use std::collections::BTreeMap;

/// A member of a facility: a service (or `Provides`) name or another facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub optional: bool,
}

/// A line that is not what the format allows: its 1-based line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: usize,
    pub message: String,
}

/// Facilities and their members, from any number of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facilities {
    map: BTreeMap<String, Vec<Member>>,
}

impl Facilities {
    /// Adds the facilities of one file's text; the problems of its lines.
    pub fn add_text(&mut self, text: &str) -> Vec<LineProblem> {
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('<') {
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            if !super::header::is_facility(first) {
                problems.push(LineProblem {
                    line: i + 1,
                    message: format!(
                        "expected `$facility member ...` (or a `<name>` list, ignored), found {first:?}"
                    ),
                });
                continue;
            }
            let members: Vec<Member> = words
                .map(|w| match w.strip_prefix('+') {
                    Some(n) => Member {
                        name: n.to_string(),
                        optional: true,
                    },
                    None => Member {
                        name: w.to_string(),
                        optional: false,
                    },
                })
                .filter(|m| !m.name.is_empty())
                .collect();
            if members.is_empty() {
                problems.push(LineProblem {
                    line: i + 1,
                    message: format!("`{first}` names no service: expected `{first} name ...`"),
                });
                continue;
            }
            self.map
                .entry(first.to_string())
                .or_default()
                .extend(members);
        }
        problems
    }

    /// Whether `facility` is defined.
    pub fn defines(&self, facility: &str) -> bool {
        self.map.contains_key(facility)
    }

    /// The names (not facilities) that `facility` stands for, each once, with whether it is
    /// optional: members of member facilities included (optional when any step on the way is);
    /// a facility that names itself, directly or not, is followed once. Unknown: none.
    pub fn expand(&self, facility: &str) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        self.walk(facility, false, &mut seen, &mut out);
        out
    }

    fn walk(&self, facility: &str, optional: bool, seen: &mut Vec<String>, out: &mut Vec<Member>) {
        if seen.iter().any(|s| s == facility) {
            return;
        }
        seen.push(facility.to_string());
        for m in self.map.get(facility).into_iter().flatten() {
            let optional = optional || m.optional;
            if super::header::is_facility(&m.name) {
                self.walk(&m.name, optional, seen, out);
            } else if let Some(o) = out.iter_mut().find(|o| o.name == m.name) {
                o.optional &= optional;
            } else {
                out.push(Member {
                    name: m.name.clone(),
                    optional,
                });
            }
        }
        seen.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Member]) -> Vec<String> {
        v.iter()
            .map(|m| format!("{}{}", if m.optional { "+" } else { "" }, m.name))
            .collect()
    }

    #[test]
    fn debian_insserv_conf() {
        let mut f = Facilities::default();
        let problems = f.add_text(
            "# insserv.conf\n\
             $local_fs\t+mountall +mountall-bootclean +umountfs\n\
             $network\t+networking +ifupdown\n\
             $named\t\t+named +bind9 $network\n\
             $remote_fs\t$local_fs +mountnfs # nfs too\n\
             $syslog\t\t+rsyslog +syslog-ng\n\
             $time\t\thwclock\n\
             <interactive>\tglibc udev console-screen\n\
             \n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            names(&f.expand("$remote_fs")),
            ["+mountall", "+mountall-bootclean", "+umountfs", "+mountnfs"]
        );
        assert_eq!(
            names(&f.expand("$named")),
            ["+named", "+bind9", "+networking", "+ifupdown"]
        );
        assert_eq!(names(&f.expand("$time")), ["hwclock"]);
        assert!(f.expand("$portmap").is_empty());
        assert!(f.defines("$syslog") && !f.defines("$portmap"));
    }

    #[test]
    fn files_add_up_and_loops_end() {
        let mut f = Facilities::default();
        assert!(f.add_text("$a b $c\n$c $a d\n").is_empty());
        assert!(f.add_text("$a +e\n").is_empty());
        assert_eq!(names(&f.expand("$a")), ["b", "d", "+e"]);
        assert_eq!(names(&f.expand("$c")), ["b", "+e", "d"]);
    }

    #[test]
    fn bad_lines_are_problems_with_their_line() {
        let mut f = Facilities::default();
        let p = f.add_text("$ok x\nsyslog +rsyslog\n$empty\n$empty2 +\n");
        let lines: Vec<usize> = p.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 4], "{p:?}");
        assert!(
            p[0].message.contains("expected `$facility"),
            "{}",
            p[0].message
        );
        assert_eq!(names(&f.expand("$ok")), ["x"]);
    }
}
