//! hosts_access(5) access control (docs/inetd.md, "Access control"): `hosts.allow` and `hosts.deny`
//! in the configuration directory, parsed once into [`Rules`], then matched many times by
//! [`Rules::check`], which does no I/O of its own (host names come from a [`Resolver`], asked only
//! when a rule needs one).
//!
//! Evaluation is tcp_wrappers': hosts.allow first, then hosts.deny, else granted; the first
//! matching line decides; `a EXCEPT b EXCEPT c` is `a EXCEPT (b EXCEPT c)`. Where tcp_wrappers
//! fails open svc fails closed: a malformed line never matches in hosts.allow and denies every
//! client of the daemons it names in hosts.deny; a file that exists but cannot be read denies
//! everything. "Cannot be read" includes a FIFO or anything else that is not a regular file (opened
//! without blocking, so svc never waits on one) and, as root, a file another user can write
//! (docs/security.md, "Files svc trusts"). Deliberate differences from tcpdmatch are listed in the
//! README.
//!
//! Each file is compiled when it is loaded: its lines are indexed by client address
//! (`index.rs`), and a check evaluates, in line order, only the lines the index
//! cannot rule out for the client, each with the same evaluator as the plain walk
//! ([`Rules::check_walk`], kept as the reference the tests compare the index with). So the first
//! matching line decides exactly as in tcp_wrappers, and a check costs the same for 20,000 address
//! rules as for 2.

mod expand;
mod index;
mod parse;
mod pattern;
mod resolve;

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

pub use expand::sanitise;
pub use parse::MAX_LINE;
pub use resolve::{Resolver, StaticResolver, SystemResolver};

use index::Index;
use parse::{Entry, Options};
use pattern::Client;

/// Which file: it decides what a matching line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Allow,
    Deny,
}

/// A problem in a rule file: an error (the line fails closed) or a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The first physical line of the logical line; 0 for the whole file.
    pub line: usize,
    pub message: String,
    pub is_warning: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warning = if self.is_warning { "warning: " } else { "" };
        if self.line == 0 {
            write!(f, "{}: {warning}{}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {warning}{}", self.file, self.line, self.message)
        }
    }
}

/// One parsed rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    kind: Kind,
    /// `hosts.allow` or `hosts.deny`: the name in [`Verdict::rule`].
    name: &'static str,
    entries: Vec<Entry>,
    /// `entries` indexed by client address.
    index: Index,
    /// It exists but could not be read: every check is denied.
    unreadable: bool,
    problems: Vec<Problem>,
}

impl RuleFile {
    fn name_of(kind: Kind) -> &'static str {
        match kind {
            Kind::Allow => "hosts.allow",
            Kind::Deny => "hosts.deny",
        }
    }

    /// Parses a file's text; `label` names the file in problems.
    pub fn parse(kind: Kind, label: &str, text: &str) -> RuleFile {
        let (entries, problems) = parse::parse(kind, label, text);
        RuleFile {
            kind,
            name: Self::name_of(kind),
            index: Index::build(&entries),
            entries,
            unreadable: false,
            problems,
        }
    }

    /// A file that does not exist: no rules.
    pub fn missing(kind: Kind) -> RuleFile {
        Self::parse(kind, Self::name_of(kind), "")
    }

    /// A file that exists but cannot be read: denies everything.
    pub fn unreadable(kind: Kind, label: &str, why: &str) -> RuleFile {
        RuleFile {
            kind,
            name: Self::name_of(kind),
            entries: Vec::new(),
            index: Index::default(),
            unreadable: true,
            problems: vec![Problem {
                file: label.to_string(),
                line: 0,
                message: format!("cannot read: {why}; every connection to every service is denied"),
                is_warning: false,
            }],
        }
    }

    /// Reads `dir/hosts.allow` or `dir/hosts.deny`. Missing = empty; anything else that stops
    /// the read (a directory, a FIFO or anything but a regular file, no permission, an I/O
    /// error, a dangling symlink, and as root a file others can write) = unreadable.
    pub fn load(kind: Kind, dir: &Path) -> RuleFile {
        let path = dir.join(Self::name_of(kind));
        let label = path.display().to_string();
        match read_rule_file(&path) {
            Ok(bytes) => Self::parse(kind, &label, &String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if path.symlink_metadata().is_ok() {
                    Self::unreadable(kind, &label, "dangling symbolic link")
                } else {
                    Self::missing(kind)
                }
            }
            Err(e) => Self::unreadable(kind, &label, &e.to_string()),
        }
    }

    fn rule(&self, line: usize) -> String {
        format!("{}:{line}", self.name)
    }

    /// The verdict of the first line matching, if any: the lines the index cannot rule out for
    /// the client, in line order.
    fn first_match(
        &self,
        daemon: &str,
        client: &Client<'_>,
        server: Option<SocketAddr>,
    ) -> Option<Verdict> {
        self.index
            .candidates(client.ip)
            .find_map(|i| self.decide(&self.entries[i], daemon, client, server))
    }

    /// As [`RuleFile::first_match`], walking every line: the reference the index must agree with.
    fn first_match_walk(
        &self,
        daemon: &str,
        client: &Client<'_>,
        server: Option<SocketAddr>,
    ) -> Option<Verdict> {
        self.entries
            .iter()
            .find_map(|e| self.decide(e, daemon, client, server))
    }

    /// The verdict of one line if it matches: the one evaluator of both ways of checking.
    fn decide(
        &self,
        e: &Entry,
        daemon: &str,
        client: &Client<'_>,
        server: Option<SocketAddr>,
    ) -> Option<Verdict> {
        match e {
            Entry::Rule {
                line,
                daemons,
                clients,
                options,
            } => {
                if !daemons.matches(|d| d.matches(daemon))
                    || !clients.matches(|h| client.matches(h))
                {
                    return None;
                }
                Some(match options {
                    Options::Bad => Verdict::deny(self.rule(*line)),
                    Options::Ok { spawn, verdict } => Verdict {
                        allowed: verdict.unwrap_or(self.kind == Kind::Allow),
                        rule: self.rule(*line),
                        spawn: (!spawn.is_empty()).then(|| {
                            spawn
                                .iter()
                                .map(|s| expand::expand(s, client, daemon, server))
                                .collect::<Vec<_>>()
                                .join("\n")
                        }),
                    },
                })
            }
            Entry::Malformed { line, daemons } => (self.kind == Kind::Deny
                && daemons
                    .as_ref()
                    .is_none_or(|d| d.matches(|x| x.matches(daemon))))
            .then(|| Verdict::deny(self.rule(*line))),
        }
    }
}

/// A rule file's bytes, read without ever blocking (a FIFO is refused, not waited on) and, as root,
/// only when no other user can write it or its directory (docs/security.md, "Files svc trusts"). A
/// symlink is followed, as for definitions: the trust check looks at where it leads.
fn read_rule_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = crate::regular::open_read(path, crate::regular::Links::Follow)?;
    let meta = f.metadata()?;
    crate::trust::check_config_file(path, &meta).map_err(std::io::Error::other)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses a file's text, telling hosts.deny from hosts.allow by `file_label`'s file name.
pub fn parse(file_label: &str, text: &str) -> RuleFile {
    let kind = if file_label.ends_with("hosts.deny") {
        Kind::Deny
    } else {
        Kind::Allow
    };
    RuleFile::parse(kind, file_label, text)
}

/// The decision for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// `hosts.allow:LINE`, `hosts.deny:LINE`, `default`, or `hosts.allow:unreadable` /
    /// `hosts.deny:unreadable` — the secure log's `rule=` (docs/inetd.md, the secure log).
    pub rule: String,
    /// The expanded `spawn` command(s), one a line, for `/bin/sh -c`, not waited for. Every
    /// expansion is sanitised (see [`sanitise`]); the literal text is the administrator's.
    pub spawn: Option<String>,
}

impl Verdict {
    fn deny(rule: String) -> Verdict {
        Verdict {
            allowed: false,
            rule,
            spawn: None,
        }
    }
}

/// Both rule files.
#[derive(Debug, Clone)]
pub struct Rules {
    allow: RuleFile,
    deny: RuleFile,
    problems: Vec<Problem>,
}

impl Rules {
    /// Reads `hosts.allow` and `hosts.deny` from the configuration directory. Never fails.
    pub fn load(config_dir: &Path) -> Rules {
        Rules::new(
            RuleFile::load(Kind::Allow, config_dir),
            RuleFile::load(Kind::Deny, config_dir),
        )
    }

    pub fn new(allow: RuleFile, deny: RuleFile) -> Rules {
        let problems = allow
            .problems
            .iter()
            .chain(&deny.problems)
            .cloned()
            .collect();
        Rules {
            allow,
            deny,
            problems,
        }
    }

    /// Rules from the two files' texts (labels `hosts.allow` and `hosts.deny`).
    pub fn from_text(allow: &str, deny: &str) -> Rules {
        Rules::new(
            RuleFile::parse(Kind::Allow, "hosts.allow", allow),
            RuleFile::parse(Kind::Deny, "hosts.deny", deny),
        )
    }

    /// Every problem of both files, hosts.allow first, in line order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether any problem is an error (not only warnings).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.is_warning)
    }

    /// The verdict for `client` connecting to service `daemon` (docs/inetd.md, "Access control").
    pub fn check(&self, daemon: &str, client: SocketAddr, resolver: &dyn Resolver) -> Verdict {
        self.check_with_server(daemon, client, None, resolver)
    }

    /// As [`Rules::check`], with the server end of the connection for `%A`, `%s`, `%R`.
    pub fn check_with_server(
        &self,
        daemon: &str,
        client: SocketAddr,
        server: Option<SocketAddr>,
        resolver: &dyn Resolver,
    ) -> Verdict {
        self.decide(client, resolver, |f, c| f.first_match(daemon, c, server))
    }

    /// As [`Rules::check_with_server`], walking every line of both files instead of the lines
    /// their index leaves: the plain tcp_wrappers evaluation, the reference the compiled matcher
    /// is tested against (and the benchmark's "before").
    pub fn check_walk(
        &self,
        daemon: &str,
        client: SocketAddr,
        server: Option<SocketAddr>,
        resolver: &dyn Resolver,
    ) -> Verdict {
        self.decide(client, resolver, |f, c| {
            f.first_match_walk(daemon, c, server)
        })
    }

    /// hosts.allow's first match, else hosts.deny's, else granted; denied if a file is unreadable.
    fn decide(
        &self,
        client: SocketAddr,
        resolver: &dyn Resolver,
        first_match: impl Fn(&RuleFile, &Client<'_>) -> Option<Verdict>,
    ) -> Verdict {
        for f in [&self.allow, &self.deny] {
            if f.unreadable {
                return Verdict::deny(format!("{}:unreadable", f.name));
            }
        }
        let c = Client::new(client.ip(), client.port(), resolver);
        first_match(&self.allow, &c)
            .or_else(|| first_match(&self.deny, &c))
            .unwrap_or(Verdict {
                allowed: true,
                rule: "default".to_string(),
                spawn: None,
            })
    }
}

/// Expands one `spawn` command for `client` connecting to `daemon`, exactly as a matching rule does
/// (every `%` value sanitised, see [`sanitise`]). The narrow entry point of the `spawn_expand` fuzz
/// target, which checks the character rule of docs/inetd.md ("Access control") on it; svc itself
/// expands through [`Rules::check_with_server`].
pub fn expand_spawn(
    template: &str,
    daemon: &str,
    client: SocketAddr,
    server: Option<SocketAddr>,
    resolver: &dyn Resolver,
) -> String {
    let c = Client::new(client.ip(), client.port(), resolver);
    expand::expand(template, &c, daemon, server)
}
