//! Reading definition files: listing `init.d/`, and reading one file without ever blocking on it,
//! refusing what may not be trusted (docs/security.md, "Files svc trusts") or is too big to be a
//! hand-written definition. Parsing and validation are [`super::validate`]'s.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::name::ServiceName;
use crate::paths::Dirs;

/// The largest definition file svc reads; anything bigger is not a hand-written definition.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// Why a file could not be read.
pub enum ReadError {
    Missing,
    Other(String),
}

/// Reads a configuration file without ever blocking on it (a FIFO is refused, see
/// [`crate::regular`]), then checks it may be trusted.
pub fn read_trusted(path: &Path) -> Result<String, ReadError> {
    use crate::regular::{open_read_meta, Links};
    // The metadata the open checked the file with: no second fstat. As root, where trust must
    // know whether the path is a symbolic link, it is opened without following one first: a
    // plain file (the usual case) is then known to be one without an lstat.
    let root = crate::trust::running_as_root();
    let first = open_read_meta(path, if root { Links::Detect } else { Links::Follow });
    let (opened, linked) = match first {
        Err(e) if root && e.raw_os_error() == Some(libc::ELOOP) => {
            (open_read_meta(path, Links::Follow), true)
        }
        other => (other, false),
    };
    let (mut f, meta) = match opened {
        Ok(fm) => fm,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Other(e.to_string())),
    };
    if !meta.is_file() {
        return Err(ReadError::Other("not a regular file".into()));
    }
    crate::trust::check_config_file_linked(path, &meta, linked).map_err(ReadError::Other)?;
    if meta.size() > MAX_FILE_SIZE {
        return Err(ReadError::Other(format!(
            "file is {} bytes; a definition may be at most {MAX_FILE_SIZE} bytes",
            meta.size()
        )));
    }
    // Sized from the file's length: one read, not a series that starts at 32 bytes.
    let mut bytes = Vec::new();
    crate::regular::read_sized(&mut f, meta.size(), MAX_FILE_SIZE + 1, &mut bytes)
        .map_err(|e| ReadError::Other(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Other(format!(
            "not valid UTF-8 (byte offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Every definition file in `init.d/`, sorted by name: (file name stem, path). Files that do not
/// end in `.yaml` are ignored; a `.yaml` file whose stem is not a valid name is returned with
/// `Err` so callers can report it.
pub fn list_yaml(dirs: &Dirs) -> std::io::Result<Vec<(Result<ServiceName, String>, PathBuf)>> {
    let dir = dirs.init_d();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        let fname = entry.file_name();
        let Some(fname) = fname.to_str() else {
            out.push((Err(format!("{:?}", entry.file_name())), entry.path()));
            continue;
        };
        let Some(stem) = fname.strip_suffix(".yaml") else {
            continue;
        };
        out.push((
            ServiceName::new(stem).map_err(|e| e.to_string()),
            entry.path(),
        ));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}
