//! Validation (svc.yaml(5) and docs/services.md): a definition's text, parsed by [`super::yaml`],
//! checked key by key into a [`Definition`]. Pure: no file, user database or script is read here
//! (that is [`super::resolve`]'s step, after this one).
//!
//! Every problem of a file is gathered before reporting, each with the line of the key it is
//! about (from the parser's positions), so `svc check` shows them all in one run. The checks
//! of single values are in [`values`], those of the nested settings (`limits`, `ready`,
//! `respawn`, `socket`) in [`sections`].

mod env_file;
mod health;
mod hooks;
mod oneshot;
mod runtime;
mod sections;
mod serve;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::error::Problem;
use super::model::{
    Definition, Keys, Kind, LogTarget, Program, Settings, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_SIZE,
    MAX_LOG_KEEP,
};
use super::yaml::{self, Entry, Node};
use crate::name::ServiceName;
use crate::users::IdSpec;

pub use sections::parse_host_port;
pub use serve::password_hash;

/// What validation made of a file.
#[derive(Debug)]
pub struct Validated {
    /// The definition, when the file is valid (it may still have `accounts` to resolve).
    pub definition: Option<Definition>,
    /// Every problem found, sorted by line.
    pub problems: Vec<Problem>,
    /// The `user` and `group` to look up, there even when other problems keep the definition
    /// from being made, so that a bad one is reported in the same run.
    pub accounts: Accounts,
}

/// The `user` and `group` a file gives, still to be looked up in the user database.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub file: PathBuf,
    pub user: Option<IdSpec>,
    pub group: Option<IdSpec>,
    /// The line a failed lookup is reported at: that of `user`, else of `group`.
    pub line: Option<usize>,
}

impl Validated {
    /// The definition, or every problem; `accounts` left unresolved.
    pub fn into_result(self) -> Result<Definition, Vec<Problem>> {
        match self.definition {
            Some(d) if self.problems.is_empty() => Ok(d),
            _ => Err(self.problems),
        }
    }
}

/// Parses and validates the text of a definition; all problems are returned together.
pub fn validate(file: &Path, name: &ServiceName, text: &str) -> Validated {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut accounts = Accounts {
        file: file.to_owned(),
        ..Accounts::default()
    };
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            return Validated {
                definition: None,
                problems: vec![Problem {
                    file: file.to_owned(),
                    line: e.line,
                    column: e.column,
                    message: format!("invalid YAML: {}", e.message),
                }],
                accounts,
            }
        }
    };
    let mut v = Validator {
        file,
        root: &root,
        problems: Vec::new(),
    };
    let definition = v.definition(name, &mut accounts);
    v.problems.sort_by_key(|p| p.line.unwrap_or(0));
    Validated {
        definition,
        problems: v.problems,
        accounts,
    }
}

/// Validates the text of `svc.yaml` (docs/commands.md, "Files").
pub fn settings(file: &Path, text: &str) -> Result<Settings, Vec<Problem>> {
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            return Err(vec![Problem {
                file: file.to_owned(),
                line: e.line,
                column: e.column,
                message: format!("invalid YAML: {}", e.message),
            }])
        }
    };
    let mut v = Validator {
        file,
        root: &root,
        problems: Vec::new(),
    };
    let mut settings = Settings::default();
    match &root {
        Node::Null => {}
        Node::Map(m) => {
            for e in m {
                match e.key.as_str() {
                    "default_runlevel" => {
                        let lv = v.runlevels(&Node::Seq(vec![e.value.clone()]));
                        settings.default_runlevel = lv.first().copied();
                    }
                    "sysv_dir" => settings.sysv_dir = v.abs_path(&["sysv_dir"], &e.value),
                    "serve" => settings.serve = v.serve(&e.value),
                    other => v.problem(
                        &[other],
                        format!(
                            "unknown key `{other}`; expected default_runlevel, sysv_dir or serve"
                        ),
                    ),
                }
            }
        }
        other => v.problem(
            &[],
            format!("expected a mapping of settings, found {}", other.kind()),
        ),
    }
    if v.problems.is_empty() {
        Ok(settings)
    } else {
        Err(v.problems)
    }
}

/// Checks a parsed file, gathering problems.
struct Validator<'a> {
    file: &'a Path,
    root: &'a Node,
    problems: Vec<Problem>,
}

const KEYS: &[&str] = &[
    "description",
    "exec",
    "script",
    "args",
    "workdir",
    "env",
    "user",
    "group",
    "umask",
    "limits",
    "nice",
    "forking",
    "pidfile",
    "stop_signal",
    "stop_timeout",
    "reload_signal",
    "ready",
    "ready_timeout",
    "requires",
    "wants",
    "runlevels",
    "start_priority",
    "stop_priority",
    "respawn",
    "log",
    "log_max_size",
    "log_keep",
    "log_timestamps",
    "socket",
    "env_file",
    "runtime_dir",
    "runtime_dir_mode",
    "pre_start",
    "post_stop",
    "config_test",
    "oneshot",
    "stop_exec",
    "health",
];

impl Validator<'_> {
    /// The line of the key at `path` (a top-level key, then keys nested under it), as the
    /// parser saw it; a nested key the file does not give falls back to its parent's line.
    fn line_of(&self, path: &[&str]) -> Option<usize> {
        let mut node = self.root;
        let mut line = None;
        for key in path {
            let Some(e) = node.entry(key) else { break };
            line = Some(e.key_at.line);
            node = &e.value;
        }
        line
    }

    fn problem(&mut self, path: &[&str], message: impl Into<String>) {
        let line = if path.is_empty() {
            None
        } else {
            self.line_of(path)
        };
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            column: None,
            message: message.into(),
        });
    }

    fn expected(&mut self, path: &[&str], what: &str, found: &Node) {
        let key = path.join(".");
        self.problem(
            path,
            format!("`{key}`: expected {what}, found {}", found.kind()),
        );
    }

    /// The entries of `n`, the mapping at top-level `key`; anything else is reported as not
    /// `what`.
    fn mapping<'n>(&mut self, key: &str, what: &str, n: &'n Node) -> Option<&'n [Entry]> {
        match n {
            Node::Map(m) => Some(m),
            other => {
                self.expected(&[key], what, other);
                None
            }
        }
    }

    fn definition(&mut self, name: &ServiceName, accounts: &mut Accounts) -> Option<Definition> {
        let map = match self.root {
            Node::Map(m) => m,
            Node::Null => {
                self.problem(
                    &[],
                    "the file is empty: expected a mapping with at least `exec`",
                );
                return None;
            }
            other => {
                self.problem(
                    &[],
                    format!(
                        "expected a mapping of settings (key: value), found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        for Entry { key: k, .. } in map {
            if !KEYS.contains(&k.as_str()) {
                let hint = sections::suggest(k)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.problem(
                    &[k.as_str()],
                    format!(
                        "unknown key `{k}`{hint}; expected one of: {}",
                        KEYS.join(", ")
                    ),
                );
            }
        }
        let get = |k: &str| map.iter().find(|e| e.key == k).map(|e| &e.value);

        let description = get("description").and_then(|n| self.string(&["description"], n));
        let exec = get("exec").and_then(|n| self.exec(n));
        let script = get("script").and_then(|n| self.abs_path(&["script"], n));
        let program = match (exec, script, get("exec").is_some(), get("script").is_some()) {
            (Some(e), None, _, false) => Some(Program::Exec(e)),
            (None, Some(s), false, _) => Some(Program::Script(s)),
            (_, _, true, true) => {
                self.problem(
                    &["script"],
                    "`exec` and `script` are exclusive: give one of them",
                );
                None
            }
            (_, _, false, false) => {
                self.problem(&[], "missing `exec`: expected the program to run (an absolute path or a name in PATH), or `script`");
                None
            }
            _ => None,
        };
        let args = get("args")
            .map(|n| self.strings(&["args"], n))
            .unwrap_or_default();
        if matches!(program, Some(Program::Script(_))) && get("args").is_some() {
            self.problem(&["args"], "`args` cannot be used with `script`");
        }
        let workdir = get("workdir")
            .and_then(|n| self.abs_path(&["workdir"], n))
            .unwrap_or_else(|| PathBuf::from("/"));
        let env = get("env").map(|n| self.env(n)).unwrap_or_default();
        let user = get("user").and_then(|n| self.id(&["user"], n, "user"));
        let group = get("group").and_then(|n| self.id(&["group"], n, "group"));
        // Looked up by the resolve step, after validation.
        *accounts = Accounts {
            file: self.file.to_owned(),
            user: user.clone(),
            group: group.clone(),
            line: self.line_of(&[if user.is_some() { "user" } else { "group" }]),
        };
        let umask = get("umask").and_then(|n| self.umask(n)).unwrap_or(0o022);
        let (limits, cgroup_limits) = get("limits").map(|n| self.limits(n)).unwrap_or_default();
        let nice = get("nice")
            .and_then(|n| self.int_in(&["nice"], n, -20, 19))
            .map(|v| v as i32);
        let forking = get("forking")
            .and_then(|n| self.boolean(&["forking"], n))
            .unwrap_or(false);
        let pidfile = get("pidfile").and_then(|n| self.abs_path(&["pidfile"], n));
        if forking && pidfile.is_none() && get("pidfile").is_none() {
            self.problem(
                &["forking"],
                "`forking: true` needs `pidfile`: the path where the program writes its PID",
            );
        }
        let stop_signal = get("stop_signal")
            .and_then(|n| self.signal(&["stop_signal"], n))
            .unwrap_or(Signal::SIGTERM);
        let stop_timeout = get("stop_timeout")
            .and_then(|n| self.duration(&["stop_timeout"], n))
            .unwrap_or(Duration::from_secs(10));
        let reload_signal = get("reload_signal").and_then(|n| self.signal(&["reload_signal"], n));
        let ready = get("ready").and_then(|n| self.ready(n));
        let ready_timeout = get("ready_timeout")
            .and_then(|n| self.duration(&["ready_timeout"], n))
            .unwrap_or(Duration::from_secs(30));
        let requires = get("requires")
            .map(|n| self.names(&["requires"], n, name))
            .unwrap_or_default();
        let wants = get("wants")
            .map(|n| self.names(&["wants"], n, name))
            .unwrap_or_default();
        let runlevels = get("runlevels")
            .map(|n| self.runlevels(n))
            .unwrap_or_default();
        let start_priority = get("start_priority")
            .and_then(|n| self.int_in(&["start_priority"], n, 0, 99))
            .map(|v| v as u8);
        let stop_priority = get("stop_priority")
            .and_then(|n| self.int_in(&["stop_priority"], n, 0, 99))
            .map(|v| v as u8);
        let respawn = get("respawn").and_then(|n| self.respawn(n));
        let log = get("log")
            .map(|n| self.log(n))
            .unwrap_or(LogTarget::Default);
        let log_max_size = get("log_max_size")
            .and_then(|n| self.size(&["log_max_size"], n))
            .and_then(|v| self.log_max_size_in_range(v))
            .unwrap_or(DEFAULT_LOG_MAX_SIZE);
        let log_keep = get("log_keep")
            .and_then(|n| self.int_in(&["log_keep"], n, 0, MAX_LOG_KEEP.into()))
            .map(|v| v as u32)
            .unwrap_or(DEFAULT_LOG_KEEP);
        let log_timestamps = get("log_timestamps")
            .and_then(|n| self.boolean(&["log_timestamps"], n))
            .unwrap_or(false);
        let socket = get("socket").and_then(|n| self.socket(n));
        if log_timestamps && respawn.is_none() {
            self.problem(
                &["log_timestamps"],
                "`log_timestamps` needs `respawn`: the supervisor adds the times (an unsupervised program writes its log itself)",
            );
        }
        if respawn.is_some() {
            if forking {
                self.problem(
                    &["respawn"],
                    "`respawn` needs a program that stays in the foreground: the supervisor must be its parent (drop `forking: true`)",
                );
            }
            if socket.is_some() {
                self.problem(
                    &["respawn"],
                    "`respawn` and `socket` exclude each other: `svc inetd` starts on-demand services per connection",
                );
            }
        }
        if matches!(program, Some(Program::Script(_))) {
            for (key, set) in [
                ("forking", forking),
                ("respawn", respawn.is_some()),
                ("socket", socket.is_some()),
            ] {
                if set {
                    self.problem(&[key], format!("`{key}` cannot be used with `script`: the LSB script starts and stops its daemon itself"));
                }
            }
        }

        let env_files = self.env_files_key(get("env_file"), &program);
        let (runtime_dir, runtime_dir_mode) = self.runtime_dirs(&get, &program, socket.is_some());
        let hooks = self.hooks(map);
        self.hooks_allowed(
            map,
            matches!(program, Some(Program::Script(_))),
            socket.is_some(),
        );
        let (oneshot, stop_exec) = self.oneshot(map);
        let health = get("health").and_then(|n| self.health(n));
        if get("health").is_some() && respawn.is_none() {
            self.problem(
                &["health"],
                "`health` needs `respawn`: the supervisor runs the check and restarts the service when it fails",
            );
        }

        let program = program?;
        let kind = match (&program, &socket, &respawn) {
            (Program::Script(_), _, _) => Kind::Script,
            _ if oneshot => Kind::Oneshot,
            (_, Some(_), _) => Kind::OnDemand,
            (_, _, Some(_)) => Kind::Supervised,
            _ => Kind::Exec,
        };
        Some(Definition {
            name: name.clone(),
            kind,
            file: self.file.to_owned(),
            keys: Keys(map.iter().map(|e| (e.key.clone(), e.key_at.line)).collect()),
            description,
            program,
            args,
            workdir,
            env,
            user,
            group,
            umask,
            limits,
            cgroup_limits,
            nice,
            forking,
            pidfile,
            stop_signal,
            stop_timeout,
            reload_signal,
            ready,
            ready_timeout,
            requires,
            wants,
            runlevels,
            start_priority,
            stop_priority,
            respawn,
            log,
            log_max_size,
            log_keep,
            log_timestamps,
            socket,
            env_files,
            runtime_dir,
            runtime_dir_mode,
            hooks,
            stop_exec,
            health,
            lsb: None,
        })
    }

    /// `runtime_dir` and `runtime_dir_mode` (SPEC §8.3), and the kinds they cannot go with: an
    /// LSB script makes its own directories; `svc inetd` launches per connection, with no stop
    /// after which they could go.
    fn runtime_dirs<'n>(
        &mut self,
        get: &impl Fn(&str) -> Option<&'n Node>,
        program: &Option<Program>,
        socket: bool,
    ) -> (Vec<String>, u32) {
        let dirs = get("runtime_dir")
            .map(|n| self.runtime_dir(n))
            .unwrap_or_default();
        let mode = get("runtime_dir_mode")
            .and_then(|n| self.runtime_dir_mode(n))
            .unwrap_or(runtime::DEFAULT_RUNTIME_DIR_MODE);
        for key in ["runtime_dir", "runtime_dir_mode"] {
            if get(key).is_none() {
                continue;
            }
            if matches!(program, Some(Program::Script(_))) {
                self.problem(&[key], format!("`{key}` cannot be used with `script`: the LSB script makes its own directories"));
            } else if socket {
                self.problem(&[key], format!("`{key}` cannot be used with `socket`: `svc inetd` launches the program per connection, and there is no stop after which the directory would be removed"));
            }
        }
        if get("runtime_dir_mode").is_some() && get("runtime_dir").is_none() {
            self.problem(
                &["runtime_dir_mode"],
                "`runtime_dir_mode` needs `runtime_dir`: the directories it is the mode of",
            );
        }
        (dirs, mode)
    }
}
