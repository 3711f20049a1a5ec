//! The runtime directory keys (SPEC §8.3, svc.yaml(5)): `runtime_dir`, one name or a list of
//! names under the runtime root, and `runtime_dir_mode`, their mode as a quoted octal string.

use super::super::yaml::Node;
use super::Validator;

/// Default `runtime_dir_mode`.
pub(crate) const DEFAULT_RUNTIME_DIR_MODE: u32 = 0o755;

/// Whether `s` is one word `^[A-Za-z0-9][A-Za-z0-9_.-]*$`.
fn word(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Whether `s` is a runtime directory name: a word, or two words joined by one `/`.
pub(crate) fn runtime_dir_name(s: &str) -> bool {
    match s.split_once('/') {
        None => word(s),
        Some((a, b)) => word(a) && word(b),
    }
}

impl Validator<'_> {
    /// `runtime_dir`: one name or a list of names, without repeats.
    pub(super) fn runtime_dir(&mut self, n: &Node) -> Vec<String> {
        let items: Vec<&Node> = match n {
            Node::Seq(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out: Vec<String> = Vec::new();
        for item in items {
            let Node::Str(s) = item else {
                self.expected(&["runtime_dir"], "a directory name or a list of them", item);
                continue;
            };
            if !runtime_dir_name(s) {
                self.problem(
                    &["runtime_dir"],
                    format!("`runtime_dir`: {s:?} is not a directory name; expected a name such as \"sshd\" (letters, digits, `_`, `.`, `-`, starting with a letter or digit), or two such names joined by one `/`, relative to the runtime root (/run as root)"),
                );
            } else if out.contains(s) {
                self.problem(
                    &["runtime_dir"],
                    format!("`runtime_dir`: {s:?} is given twice"),
                );
            } else {
                out.push(s.clone());
            }
        }
        out
    }

    /// `runtime_dir_mode`: a quoted octal string of at most four digits, as `umask` is written.
    pub(super) fn runtime_dir_mode(&mut self, n: &Node) -> Option<u32> {
        const EXPECTED: &str = "expected a quoted octal string such as \"0755\"";
        if matches!(n, Node::Str(_)) && !self.quoted("runtime_dir_mode") {
            self.problem(
                &["runtime_dir_mode"],
                format!("`runtime_dir_mode`: write it quoted; {EXPECTED} (YAML reads an unquoted 0755 differently across versions)"),
            );
            return None;
        }
        match n {
            Node::Str(s)
                if (1..=4).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) =>
            {
                u32::from_str_radix(s, 8).ok()
            }
            Node::Str(s) => {
                self.problem(
                    &["runtime_dir_mode"],
                    format!("`runtime_dir_mode`: {s:?} is not an octal mode; {EXPECTED}"),
                );
                None
            }
            other => {
                self.problem(
                    &["runtime_dir_mode"],
                    format!("`runtime_dir_mode`: {EXPECTED}, found {} (YAML reads an unquoted 0755 differently across versions)", other.kind()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::runtime_dir_name;
    use crate::definition::tests::checked;

    #[test]
    fn one_name_or_a_list_and_the_mode_default() {
        let d = checked("exec: /bin/true\nruntime_dir: sshd\n").unwrap();
        assert_eq!(d.runtime_dir, vec!["sshd"]);
        assert_eq!(d.runtime_dir_mode, 0o755);
        let d = checked(
            "exec: /bin/true\nruntime_dir: [a, postgresql/16]\nruntime_dir_mode: \"0750\"\n",
        )
        .unwrap();
        assert_eq!(d.runtime_dir, vec!["a", "postgresql/16"]);
        assert_eq!(d.runtime_dir_mode, 0o750);
        assert!(checked("exec: /bin/true\n").unwrap().runtime_dir.is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text =
            "exec: /bin/true\nruntime_dir: [ok, ../etc, a/b/c, ok, [x]]\nruntime_dir_mode: 0755\n";
        let p = checked(text).unwrap_err();
        let said: Vec<(Option<usize>, &str)> =
            p.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(p.len(), 5, "{said:?}");
        assert!(
            said[0].1.contains("\"../etc\" is not a directory name"),
            "{said:?}"
        );
        assert!(said[1].1.contains("\"a/b/c\""), "{said:?}");
        assert!(said[2].1.contains("given twice"), "{said:?}");
        assert!(said[3].1.contains("found a list"), "{said:?}");
        assert!(said[..4].iter().all(|(l, _)| *l == Some(2)), "{said:?}");
        assert_eq!(said[4].0, Some(3));
        assert!(said[4].1.contains("write it quoted"), "{said:?}");
        for (mode, words) in [
            ("\"0999\"", "not an octal mode"),
            ("\"17777\"", "not an octal mode"),
            ("\"\"", "not an octal mode"),
            ("true", "found a boolean"),
        ] {
            let p = checked(&format!(
                "exec: /bin/true\nruntime_dir: a\nruntime_dir_mode: {mode}\n"
            ))
            .unwrap_err();
            assert!(p[0].message.contains(words), "{mode}: {p:?}");
        }
    }

    #[test]
    fn not_with_script_or_socket_and_the_mode_needs_a_directory() {
        for (text, words) in [
            (
                "script: /etc/init.d/x\nruntime_dir: a\n",
                "cannot be used with `script`",
            ),
            (
                "exec: /bin/true\nsocket: { port: 7000 }\nruntime_dir: a\n",
                "cannot be used with `socket`",
            ),
            (
                "exec: /bin/true\nruntime_dir_mode: \"0700\"\n",
                "needs `runtime_dir`",
            ),
        ] {
            let p = checked(text).unwrap_err();
            assert!(p.iter().any(|p| p.message.contains(words)), "{text}: {p:?}");
        }
    }

    #[test]
    fn names_are_one_word_or_two_joined_by_one_slash() {
        for ok in ["sshd", "a.b-c_d", "0x", "postgresql/16", "A/b"] {
            assert!(runtime_dir_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", ".hidden", "-x", "_x", "a/", "/a", "a//b", "a/b/c", "a/..", "../a",
            "a b", "a\0", "é",
        ] {
            assert!(!runtime_dir_name(bad), "{bad:?}");
        }
    }
}
