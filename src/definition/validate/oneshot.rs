//! The keys of a one-shot task (svc.yaml(5), docs/services.md "One-shot tasks"): `oneshot` and
//! `stop_exec`, and the keys a task cannot have — it runs to completion, so there is no daemon
//! to respawn, fork, listen, report readiness, write a PID file or be reloaded.

use super::super::yaml::{Entry, Node};
use super::Validator;

/// Keys a oneshot cannot have, with why (`forking` only when true).
const EXCLUDED: &[(&str, &str)] = &[
    ("script", "an LSB script starts and stops its daemon itself"),
    ("respawn", "a task runs to completion; nothing is restarted"),
    ("forking", "`start` waits for the task itself to exit"),
    (
        "socket",
        "`svc inetd` launches on-demand services per connection",
    ),
    ("ready", "the task is done when it exits 0"),
    ("pidfile", "a task leaves no process behind to name"),
    (
        "reload_signal",
        "a task leaves no process to signal; `svc restart` runs it again",
    ),
];

impl Validator<'_> {
    /// `oneshot` and `stop_exec`, and the keys a oneshot excludes; returns whether the file
    /// asks for a oneshot, and its `stop_exec`.
    pub(super) fn oneshot(&mut self, map: &[Entry]) -> (bool, Option<Vec<String>>) {
        let get = |k: &str| map.iter().find(|e| e.key == k).map(|e| &e.value);
        let oneshot = get("oneshot")
            .and_then(|n| self.boolean(&["oneshot"], n))
            .unwrap_or(false);
        let stop_exec = get("stop_exec").and_then(|n| self.argv("stop_exec", n));
        if get("stop_exec").is_some() && !oneshot {
            self.problem(
                &["stop_exec"],
                "`stop_exec` needs `oneshot: true`: a daemon is stopped by its stop_signal",
            );
        }
        if oneshot {
            for (key, why) in EXCLUDED {
                let set = match get(key) {
                    Some(Node::Bool(false)) if *key == "forking" => false,
                    Some(_) => true,
                    None => false,
                };
                if set {
                    self.problem(
                        &[key],
                        format!("`{key}` cannot be used with `oneshot: true`: {why}"),
                    );
                }
            }
        }
        (oneshot, stop_exec)
    }

    /// An argument vector: a non-empty list of strings whose first is the program, an absolute
    /// path or a bare name looked up in PATH (as `exec`).
    fn argv(&mut self, key: &str, n: &Node) -> Option<Vec<String>> {
        let what = "a list: the program (an absolute path or a name in PATH), then its arguments";
        let Node::Seq(items) = n else {
            self.expected(&[key], what, n);
            return None;
        };
        if items.is_empty() {
            self.problem(
                &[key],
                format!("`{key}`: expected {what}, found an empty list"),
            );
            return None;
        }
        let argv = self.strings(&[key], n);
        if argv.len() != items.len() {
            return None;
        }
        let program = &argv[0];
        if program.is_empty() || (!program.starts_with('/') && program.contains('/')) {
            self.problem(
                &[key],
                format!("`{key}`: the program {program:?} is neither an absolute path nor a bare program name looked up in PATH"),
            );
            return None;
        }
        Some(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::model::Kind;
    use super::super::validate;
    use crate::definition::error::Problem;
    use crate::definition::model::Definition;
    use crate::name::ServiceName;
    use std::path::Path;

    fn check(text: &str) -> Result<Definition, Vec<Problem>> {
        let name = ServiceName::new("task").unwrap();
        validate(Path::new("init.d/task.yaml"), &name, text).into_result()
    }

    fn lines_and_messages(text: &str) -> Vec<(Option<usize>, String)> {
        check(text)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    #[test]
    fn oneshot_makes_the_kind_and_stop_exec_is_kept() {
        let d = check("exec: /bin/true\noneshot: true\nstop_exec: [/bin/echo, bye, 3]\n").unwrap();
        assert_eq!(d.kind, Kind::Oneshot);
        assert_eq!(
            d.stop_exec,
            Some(vec!["/bin/echo".into(), "bye".into(), "3".into()])
        );
        let d = check("exec: sh\noneshot: true\nforking: false\n").unwrap();
        assert_eq!((d.kind, d.stop_exec), (Kind::Oneshot, None));
        assert_eq!(
            check("exec: /bin/true\noneshot: false\n").unwrap().kind,
            Kind::Exec
        );
    }

    #[test]
    fn a_oneshot_excludes_daemon_keys_each_at_its_line() {
        let text = "exec: /bin/true\noneshot: true\nrespawn: {}\nforking: true\nsocket: {port: 7000}\nready: {file: /tmp/r}\npidfile: /run/t.pid\nreload_signal: HUP\n";
        let found = lines_and_messages(text);
        for (line, key) in [
            (3, "respawn"),
            (4, "forking"),
            (5, "socket"),
            (6, "ready"),
            (7, "pidfile"),
            (8, "reload_signal"),
        ] {
            let want = format!("`{key}` cannot be used with `oneshot: true`");
            assert!(
                found
                    .iter()
                    .any(|(l, m)| *l == Some(line) && m.starts_with(&want)),
                "{key}: {found:?}"
            );
        }
        let found = lines_and_messages("script: /etc/init.d/x\noneshot: true\n");
        assert!(
            found.iter().any(|(l, m)| *l == Some(1)
                && m.starts_with("`script` cannot be used with `oneshot: true`")),
            "{found:?}"
        );
    }

    #[test]
    fn stop_exec_is_a_program_and_arguments_of_a_oneshot() {
        for (text, line, words) in [
            (
                "exec: /bin/true\nstop_exec: [/bin/true]\n",
                2,
                "`stop_exec` needs `oneshot: true`",
            ),
            (
                "exec: /bin/true\noneshot: true\nstop_exec: []\n",
                3,
                "found an empty list",
            ),
            (
                "exec: /bin/true\noneshot: true\nstop_exec: /bin/true\n",
                3,
                "expected a list",
            ),
            (
                "exec: /bin/true\noneshot: true\nstop_exec: [bin/x]\n",
                3,
                "neither an absolute path",
            ),
            (
                "exec: /bin/true\noneshot: true\nstop_exec: [\"\"]\n",
                3,
                "neither an absolute path",
            ),
            (
                "exec: /bin/true\noneshot: true\nstop_exec: [/bin/x, {a: 1}]\n",
                3,
                "a list of strings",
            ),
            (
                "exec: /bin/true\noneshot: yes\n",
                2,
                "`oneshot`: expected true or false",
            ),
        ] {
            let found = lines_and_messages(text);
            assert!(
                found
                    .iter()
                    .any(|(l, m)| *l == Some(line) && m.contains(words)),
                "{text:?}: {found:?}"
            );
        }
    }
}
