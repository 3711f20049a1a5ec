//! Checks of the commands svc runs around a service (SPEC §8.2): `pre_start` and `post_stop`
//! (lists of argument vectors) and `config_test` (one argument vector). Each vector's program
//! follows the rule of `exec` (an absolute path or a bare name looked up in PATH); problems are
//! reported at the line and column of the value. Kept apart from the other keys' checks so that
//! the keys of §8 added next to them stay separate.

use super::super::model::Hooks;
use super::super::yaml::{Entry, Node};
use super::Validator;
use crate::definition::error::Problem;

impl Validator<'_> {
    /// The hooks the file gives (empty where it gives none), every problem reported.
    pub(super) fn hooks(&mut self, map: &[Entry]) -> Hooks {
        let mut hooks = Hooks::default();
        for e in map {
            match e.key.as_str() {
                "pre_start" => hooks.pre_start = self.command_list(e),
                "post_stop" => hooks.post_stop = self.command_list(e),
                "config_test" => hooks.config_test = self.command(e, &e.value),
                _ => {}
            }
        }
        hooks
    }

    /// `script:` and `socket:` services cannot have hooks: the script does its own, and an
    /// on-demand service is never started or stopped as a whole.
    pub(super) fn hooks_allowed(&mut self, map: &[Entry], script: bool, socket: bool) {
        let why = match (script, socket) {
            (true, _) => "with `script`: the LSB script runs its own checks and clean-ups",
            (false, true) => {
                "with `socket`: `svc inetd` launches the program per connection, never as a whole service"
            }
            _ => return,
        };
        for e in map {
            if matches!(e.key.as_str(), "pre_start" | "post_stop" | "config_test") {
                let key = e.key.clone();
                self.problem(&[key.as_str()], format!("`{key}` cannot be used {why}"));
            }
        }
    }

    /// A list of argument vectors (`pre_start`, `post_stop`).
    fn command_list(&mut self, e: &Entry) -> Vec<Vec<String>> {
        match &e.value {
            Node::Seq(items) => items
                .iter()
                .filter_map(|item| self.command(e, item))
                .collect(),
            other => {
                self.hook_problem(
                    e,
                    format!(
                        "`{}`: expected a list of commands, each a list such as [/bin/rm, -f, /run/app.sock], found {}",
                        e.key,
                        other.kind()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// One argument vector: a non-empty list of strings whose first is a program like `exec`.
    fn command(&mut self, e: &Entry, n: &Node) -> Option<Vec<String>> {
        let key = e.key.as_str();
        let Node::Seq(items) = n else {
            self.hook_problem(
                e,
                format!(
                    "`{key}`: expected a command as a list of strings such as [/usr/sbin/nginx, -t], found {}",
                    n.kind()
                ),
            );
            return None;
        };
        let mut argv = Vec::new();
        for item in items {
            match item {
                Node::Str(s) if !s.contains('\0') => argv.push(s.clone()),
                Node::Int(i) => argv.push(i.to_string()),
                Node::Float(f) => argv.push(f.to_string()),
                other => {
                    self.hook_problem(
                        e,
                        format!(
                            "`{key}`: expected a list of strings (program and arguments), found {} in it",
                            other.kind()
                        ),
                    );
                    return None;
                }
            }
        }
        match argv.first().map(String::as_str) {
            None | Some("") => {
                self.hook_problem(e, format!("`{key}`: a command needs at least its program"));
                None
            }
            Some(p) if !p.starts_with('/') && p.contains('/') => {
                self.hook_problem(
                    e,
                    format!("`{key}`: {p:?} is a relative path; expected an absolute path or a bare program name looked up in PATH"),
                );
                None
            }
            Some(_) => Some(argv),
        }
    }

    /// A problem at the line and column of the value of `e`.
    fn hook_problem(&mut self, e: &Entry, message: String) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line: Some(e.value_at.line),
            column: Some(e.value_at.column),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::definition::{parse, Definition, Problem};
    use crate::name::ServiceName;

    fn check(text: &str) -> Result<Definition, Vec<Problem>> {
        parse(
            Path::new("init.d/demo.yaml"),
            &ServiceName::new("demo").unwrap(),
            text,
        )
    }

    #[test]
    fn hooks_are_argument_vectors_in_order() {
        let d = check(
            "exec: /bin/sleep\npre_start:\n  - [/bin/true, a]\n  - [mkdir, -p, 7]\npost_stop: [[rm, -f, x]]\nconfig_test: [nginx, -t]\n",
        )
        .unwrap();
        assert_eq!(
            d.hooks.pre_start,
            vec![vec!["/bin/true", "a"], vec!["mkdir", "-p", "7"]]
        );
        assert_eq!(d.hooks.post_stop, vec![vec!["rm", "-f", "x"]]);
        assert_eq!(d.hooks.config_test, Some(vec!["nginx".into(), "-t".into()]));
        let none = check("exec: /bin/sleep\n").unwrap();
        assert!(none.hooks.pre_start.is_empty() && none.hooks.config_test.is_none());
    }

    #[test]
    fn bad_hooks_are_reported_at_line_and_column_all_at_once() {
        let p = check(
            "exec: /bin/sleep\npre_start: /bin/true\npost_stop:\n  - []\nconfig_test: [bin/nginx, -t]\n",
        )
        .unwrap_err();
        let at: Vec<(Option<usize>, Option<usize>)> =
            p.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(
            at,
            vec![(Some(2), Some(12)), (Some(4), Some(3)), (Some(5), Some(14))],
            "{p:?}"
        );
        assert!(
            p[0].message
                .contains("`pre_start`: expected a list of commands"),
            "{p:?}"
        );
        assert!(p[1].message.contains("at least its program"), "{p:?}");
        assert!(p[2].message.contains("relative path"), "{p:?}");
        let nested = check("exec: /bin/sleep\npre_start: [[/bin/true, [x]]]\n").unwrap_err();
        assert!(
            nested[0].message.contains("found a list in it"),
            "{nested:?}"
        );
    }

    #[test]
    fn script_and_socket_services_cannot_have_hooks() {
        let p =
            check("script: /etc/init.d/x\npre_start: [[/bin/true]]\nconfig_test: [/bin/true]\n")
                .unwrap_err();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0]
            .message
            .contains("`pre_start` cannot be used with `script`"));
        assert_eq!(p[1].line, Some(3));
        let p = check("exec: /bin/cat\nsocket: {port: 7}\npost_stop: [[/bin/true]]\n").unwrap_err();
        assert!(
            p[0].message
                .contains("`post_stop` cannot be used with `socket`"),
            "{p:?}"
        );
    }
}
