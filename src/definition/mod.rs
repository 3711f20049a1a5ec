//! Service definitions (svc.yaml(5) and docs/services.md): `init.d/NAME.yaml` read, validated and
//! turned into a [`Definition`] that the rest of svc can use without further checks.
//!
//! One way in, in steps, each in its own module:
//! 1. [`read`]: the file, read without blocking and only if it may be trusted;
//! 2. [`yaml`]: its text parsed into a tree that knows where each key and value was written
//!    (the one place a YAML library is called; [`yaml_hint`] puts syntax errors in plain words);
//! 3. [`validate`]: the tree checked into a [`Definition`], pure, every problem gathered with
//!    its line;
//! 4. [`resolve`]: what needs the system — the `user`/`group` looked up, a `script:`'s INIT
//!    INFO header read.
//!
//! [`load`] does it for one service, [`load_all`] for every definition in `init.d/` (the one
//! loader the commands share). The types are in [`model`], the errors in [`error`].

pub mod duration;
pub mod envfile;
pub mod error;
pub mod model;
pub mod read;
pub mod resolve;
pub mod sysv;
pub mod validate;
pub mod yaml;
mod yaml_hint;

use std::path::{Path, PathBuf};

use crate::name::ServiceName;
use crate::paths::Dirs;

pub use error::{DefinitionError, Problem};
pub use model::*;
pub use read::MAX_FILE_SIZE;
pub use validate::{parse_host_port, password_hash};

use read::ReadError;

/// Loads `init.d/NAME.yaml` from the configuration directory; without one, the SysV script
/// `DIR/init.d/NAME` when there is a SysV directory and it is a service ([`sysv`]).
pub fn load(dirs: &Dirs, name: &ServiceName) -> Result<Definition, DefinitionError> {
    match load_file(&dirs.definition(name), name) {
        Err(DefinitionError::NotFound { .. }) if dirs.sysv.is_some() => {
            match sysv::script(dirs, name) {
                Some(script) => sysv::load_script(&script, name),
                None => Err(DefinitionError::NotFound {
                    name: name.clone(),
                    path: dirs.definition(name),
                }),
            }
        }
        other => other,
    }
}

/// Whether `name` has a definition: `init.d/NAME.yaml` or a SysV script (what [`load`] would
/// look for), without reading a YAML file.
pub fn exists(dirs: &Dirs, name: &ServiceName) -> bool {
    dirs.definition(name).is_file() || sysv::script(dirs, name).is_some()
}

/// Every definition in `init.d/` and every SysV script that is a service ([`sysv::scripts`])
/// whose name has no YAML definition (YAML wins), sorted by name: (name, path). A `.yaml` file
/// whose stem is not a valid name is returned with `Err` so callers can report it.
pub fn list_files(dirs: &Dirs) -> std::io::Result<Vec<(Result<ServiceName, String>, PathBuf)>> {
    let mut out = read::list_yaml(dirs)?;
    let scripts = sysv::scripts(dirs)?;
    if scripts.is_empty() {
        return Ok(out);
    }
    let yaml: std::collections::BTreeSet<ServiceName> =
        out.iter().filter_map(|(n, _)| n.clone().ok()).collect();
    out.extend(
        scripts
            .into_iter()
            .filter(|(n, _)| !yaml.contains(n))
            .map(|(n, p)| (Ok(n), p)),
    );
    let key = |(n, p): &(Result<ServiceName, String>, PathBuf)| match n {
        Ok(n) => n.as_str().to_string(),
        Err(_) => p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    out.sort_by_key(|e| key(e));
    Ok(out)
}

/// Reads, validates and resolves one definition file.
pub fn load_file(path: &Path, name: &ServiceName) -> Result<Definition, DefinitionError> {
    let text = read::read_trusted(path).map_err(|e| match e {
        ReadError::Missing => DefinitionError::NotFound {
            name: name.clone(),
            path: path.to_owned(),
        },
        ReadError::Other(why) => DefinitionError::Unreadable {
            path: path.to_owned(),
            why,
        },
    })?;
    resolve::resolve(validate::validate(path, name, &text)).map_err(DefinitionError::Invalid)
}

/// Parses and validates the text of a definition, without looking anything up (the
/// [`resolve`] step is left out); all problems are returned together.
pub fn parse(file: &Path, name: &ServiceName, text: &str) -> Result<Definition, Vec<Problem>> {
    validate::validate(file, name, text).into_result()
}

/// Every definition in `init.d/`, loaded: what [`load_all`] returns.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The definitions that loaded, in file name order.
    pub ok: Vec<Definition>,
    /// The files that did not, in file name order.
    pub failed: Vec<Failed>,
}

/// A file of `init.d/` that did not load.
#[derive(Debug)]
pub enum Failed {
    /// `NAME.yaml` whose NAME is not a service name (why, from [`ServiceName::new`]).
    BadName { path: PathBuf, why: String },
    /// The definition of `name` could not be loaded.
    Invalid {
        name: ServiceName,
        path: PathBuf,
        error: DefinitionError,
    },
}

impl Loaded {
    /// How many `.yaml` files there are.
    pub fn total(&self) -> usize {
        self.ok.len() + self.failed.len()
    }
}

/// Loads every definition file in `init.d/` (see [`list_files`] for which), each with
/// [`load_file`]. Only a directory that cannot be listed is an error.
pub fn load_all(dirs: &Dirs) -> std::io::Result<Loaded> {
    let (ok, failed) = load_all_map(dirs, |def| def)?;
    Ok(Loaded { ok, failed })
}

/// [`load_all`], each definition that loads handed to `then` as soon as it is loaded, on the
/// thread that loaded it: a command that needs an answer per service (`status` of all probes
/// each one) gets it in the same pass over the CPUs, and keeps only the answers. The answers
/// come in file name order, the files that did not load beside them.
pub fn load_all_map<R, F>(dirs: &Dirs, then: F) -> std::io::Result<(Vec<R>, Vec<Failed>)>
where
    R: Send,
    F: Fn(Definition) -> R + Sync,
{
    // Read and checked side by side (`crate::parallel`), in directory order.
    let files = list_files(dirs)?;
    let read = crate::parallel::map(&files, |(name, path)| match name {
        Err(why) => Err(Failed::BadName {
            path: path.clone(),
            why: why.clone(),
        }),
        Ok(name) => load_path(dirs, path, name)
            .map(&then)
            .map_err(|error| Failed::Invalid {
                name: name.clone(),
                path: path.clone(),
                error,
            }),
    });
    // The answers stay where they were made (std collects a vector's `filter_map` into its
    // own allocation): 10,000 definitions are 12 MB, not to be copied.
    let mut failed = Vec::new();
    let ok = read
        .into_iter()
        .filter_map(|r| r.map_err(|f| failed.push(f)).ok())
        .collect();
    Ok((ok, failed))
}

/// A file [`list_files`] gave: a SysV script or a YAML definition.
fn load_path(dirs: &Dirs, path: &Path, name: &ServiceName) -> Result<Definition, DefinitionError> {
    if sysv::is_script_path(dirs, path) {
        sysv::load_script(path, name)
    } else {
        load_file(path, name)
    }
}

/// Reads `svc.yaml` if present.
pub fn load_settings(dirs: &Dirs) -> Result<Settings, Vec<Problem>> {
    let path = dirs.config.join("svc.yaml");
    match read::read_trusted(&path) {
        Ok(text) => validate::settings(&path, &text),
        Err(ReadError::Missing) => Ok(Settings::default()),
        Err(ReadError::Other(why)) => Err(vec![Problem {
            file: path,
            line: None,
            column: None,
            message: why,
        }]),
    }
}

#[cfg(test)]
mod tests;
