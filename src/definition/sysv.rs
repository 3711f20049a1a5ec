//! The scripts of a SysV system's own `init.d/` as services (SPEC §9; docs/lsb.md, "Running a
//! SysV system's own scripts"): with a SysV directory (`Dirs::sysv`), every executable regular
//! file `DIR/init.d/NAME` that carries an LSB `### BEGIN INIT INFO` block is a service, loaded
//! as if `init.d/NAME.yaml` said `script: DIR/init.d/NAME`. A YAML definition of the same NAME
//! wins (the callers in [`super`] look for it first).
//!
//! Not services: the files of sysv-rc's own machinery and of package managers ([`ignored`]),
//! files without the block, what is not an executable regular file, and names that are not
//! service names (these are listed by [`bad_names`], for `svc check` to mention).

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::{DefinitionError, Problem};
use super::model::Definition;
use super::{resolve, validate};
use crate::lsb::header;
use crate::name::ServiceName;
use crate::paths::Dirs;

/// Names in `init.d/` that are never services: sysv-rc's `README`, `skeleton`, `rc` and `rcS`,
/// hidden files (insserv's `.depend.*`, `.legacy-bootordering`), and backups: `*~` and the
/// leftovers of dpkg (`*.dpkg-old`, `-dist`, `-new`, `-bak`, `-tmp`...), ucf (`*.ucf-*`) and rpm
/// (`*.rpmsave`, `*.rpmnew`, `*.rpmorig`), editors' `*.swp`, `*.bak` and `*.orig`.
pub fn ignored(file_name: &str) -> bool {
    const NAMES: [&str; 4] = ["README", "skeleton", "rc", "rcS"];
    const SUFFIXES: [&str; 7] = [
        "~", ".rpmsave", ".rpmnew", ".rpmorig", ".swp", ".bak", ".orig",
    ];
    NAMES.contains(&file_name)
        || file_name.starts_with('.')
        || SUFFIXES.iter().any(|s| file_name.ends_with(s))
        || file_name.contains(".dpkg-")
        || file_name.contains(".ucf-")
}

/// Whether `path` is an executable regular file (symlinks followed) whose text has an LSB
/// `### BEGIN INIT INFO` line. Never blocks on a FIFO (see [`crate::regular`]).
fn is_lsb_script(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    let Ok(f) = crate::regular::open_read(path, crate::regular::Links::Follow) else {
        return false;
    };
    let mut bytes = Vec::new();
    if f.take(header::MAX_SCAN).read_to_end(&mut bytes).is_err() {
        return false;
    }
    header::has_block(&String::from_utf8_lossy(&bytes))
}

/// The entries of `DIR/init.d/` that are candidates (not [`ignored`], valid UTF-8), sorted:
/// (file name, path). No SysV directory, or no `init.d/` in it: none.
fn candidates(dirs: &Dirs) -> io::Result<Vec<(String, PathBuf)>> {
    let Some(dir) = dirs.sysv_init_d() else {
        return Ok(Vec::new());
    };
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", dir.display()),
            ))
        }
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        let Ok(fname) = entry.file_name().into_string() else {
            continue;
        };
        if !ignored(&fname) {
            out.push((fname, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The scripts of `DIR/init.d/` that are services, by name (sorted): see the module docs.
pub fn scripts(dirs: &Dirs) -> io::Result<Vec<(ServiceName, PathBuf)>> {
    Ok(candidates(dirs)?
        .into_iter()
        .filter_map(|(fname, path)| {
            let name = ServiceName::new(&fname).ok()?;
            is_lsb_script(&path).then_some((name, path))
        })
        .collect())
}

/// LSB scripts of `DIR/init.d/` whose file name is not a service name: not services, for
/// `svc check` to warn about (the files are the system's, svc does not ask to rename them).
pub fn bad_names(dirs: &Dirs) -> Vec<PathBuf> {
    candidates(dirs)
        .unwrap_or_default()
        .into_iter()
        .filter(|(fname, path)| ServiceName::new(fname).is_err() && is_lsb_script(path))
        .map(|(_, path)| path)
        .collect()
}

/// `DIR/init.d/NAME` when it is a service (a SysV directory is set, the name is not
/// [`ignored`], the file is an executable LSB script).
pub fn script(dirs: &Dirs, name: &ServiceName) -> Option<PathBuf> {
    let path = dirs.sysv_init_d()?.join(name.as_str());
    (!ignored(name.as_str()) && is_lsb_script(&path)).then_some(path)
}

/// Whether `path` is a script of the SysV directory (not a YAML definition).
pub fn is_script_path(dirs: &Dirs, path: &Path) -> bool {
    dirs.sysv_init_d()
        .is_some_and(|d| path.parent() == Some(d.as_path()))
}

/// The definition of a SysV script: what `script: PATH` alone would give, its header read by
/// [`resolve`] (a malformed header is a problem naming the script's file and line).
pub fn load_script(path: &Path, name: &ServiceName) -> Result<Definition, DefinitionError> {
    let Some(text) = path.to_str() else {
        return Err(DefinitionError::Invalid(vec![Problem {
            file: path.to_owned(),
            line: None,
            column: None,
            message: "the path of the script is not valid UTF-8".into(),
        }]));
    };
    let yaml = format!(
        "script: {}\n",
        serde_json::to_string(text).unwrap_or_default()
    );
    resolve::resolve(validate::validate(path, name, &yaml)).map_err(DefinitionError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ignore_list() {
        for f in [
            "README",
            "skeleton",
            "rc",
            "rcS",
            ".depend.boot",
            ".legacy-bootordering",
            "ssh~",
            "ssh.dpkg-old",
            "ssh.dpkg-dist",
            "ssh.dpkg-new",
            "ssh.dpkg-bak",
            "ssh.ucf-old",
            "ssh.rpmnew",
            "ssh.swp",
        ] {
            assert!(ignored(f), "{f}");
        }
        for f in ["ssh", "rc.local", "rcx", "cron", "README.md", "dpkg-ish"] {
            assert!(!ignored(f), "{f}");
        }
    }
}
