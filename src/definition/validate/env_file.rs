//! `env_file:` (svc.yaml(5), docs/services.md "Environment files"): one path or a list, each
//! absolute, a leading `-` making the file optional. Only the paths are checked here; the files
//! are read at every start.

use std::path::PathBuf;

use super::super::model::{EnvFile, Program};
use super::super::yaml::Node;
use super::Validator;

impl Validator<'_> {
    /// The `env_file` entries (none when the key is absent or wrong, the problem recorded).
    pub(super) fn env_files_key(
        &mut self,
        n: Option<&Node>,
        program: &Option<Program>,
    ) -> Vec<EnvFile> {
        let Some(n) = n else { return Vec::new() };
        if matches!(program, Some(Program::Script(_))) {
            self.problem(
                &["env_file"],
                "`env_file` cannot be used with `script`: the LSB script reads its own /etc/default file",
            );
            return Vec::new();
        }
        let items: Vec<&Node> = match n {
            Node::Seq(items) => items.iter().collect(),
            one => vec![one],
        };
        let mut out = Vec::new();
        for item in items {
            let Node::Str(s) = item else {
                self.expected(&["env_file"], "a path or a list of paths", item);
                continue;
            };
            let (optional, path) = match s.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, s.as_str()),
            };
            if !path.starts_with('/') || path.contains('\0') {
                self.problem(
                    &["env_file"],
                    format!(
                        "`env_file`: expected an absolute path (optionally after `-`), found {s:?}"
                    ),
                );
                continue;
            }
            out.push(EnvFile {
                path: PathBuf::from(path),
                optional,
            });
        }
        out
    }
}
