//! `svc lsb-script NAME` and `svc lsb-script --install DIR [NAME...]`: the LSB init-script
//! shims of [`crate::lsb::script`], printed or written into an init.d directory.
//!
//! `--install` writes each script atomically (temporary file in DIR, mode 0755, fsync, rename):
//! a reader of DIR sees the old script or the new one, never half of one. It replaces only
//! scripts that svc wrote (they carry [`lsb::MARKER`]); any other file of that name, say the
//! package's own /etc/init.d/nginx (or the script a `script:` definition runs), is left alone
//! with an error. One service that cannot be written does not stop the others; the exit code
//! is the first failure's.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Context;
use crate::definition::{self, sysv, Definition, DefinitionError, Failed};
use crate::exit::Code;
use crate::lsb;
use crate::name::ServiceName;

pub fn run(ctx: &Context, install: Option<&Path>, names: &[ServiceName]) -> Code {
    let svc = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            ctx.out
                .error(&format!("cannot find the path of the svc binary: {e}"));
            return Code::Failure;
        }
    };
    let Some(dir) = install else {
        let [name] = names else {
            ctx.out
                .error("lsb-script: expected exactly one NAME (or --install DIR with any number)");
            return Code::InvalidArgs;
        };
        let def = match ctx.load(name) {
            Ok(d) => d,
            Err(c) => return c,
        };
        let text = lsb::script(&def.lsb_service(), &svc, &ctx.dirs);
        // The script is the result asked for: printed even with --quiet. A closed stdout is
        // not an error (docs/commands.md, output).
        let mut out = io::stdout().lock();
        let _ = out.write_all(&text).and_then(|()| out.flush());
        return Code::Success;
    };
    install_all(ctx, &svc, dir, names)
}

fn install_all(ctx: &Context, svc: &Path, dir: &Path, names: &[ServiceName]) -> Code {
    if !dir.is_dir() {
        ctx.out
            .error(&format!("--install {}: not a directory", dir.display()));
        return Code::InvalidArgs;
    }
    let mut codes = Vec::new();
    // (name, its definition or why not), in file order or the order given.
    let items: Vec<(ServiceName, Result<Definition, DefinitionError>)> = if names.is_empty() {
        let loaded = match ctx.load_all(Code::NotConfigured) {
            Ok(l) => l,
            Err(c) => return c,
        };
        let mut items: Vec<(PathBuf, ServiceName, Result<Definition, DefinitionError>)> =
            Vec::new();
        for failed in loaded.failed {
            match failed {
                Failed::BadName { path, why } => {
                    ctx.out.error(&format!("{}: {why}", path.display()));
                    codes.push(Code::NotConfigured);
                }
                // A SysV directory's script is an init script already: no shim for it.
                Failed::Invalid { path, .. } if sysv::is_script_path(&ctx.dirs, &path) => {}
                Failed::Invalid { name, path, error } => items.push((path, name, Err(error))),
            }
        }
        items.extend(
            loaded
                .ok
                .into_iter()
                .filter(|d| !sysv::is_script_path(&ctx.dirs, &d.file))
                .map(|d| (d.file.clone(), d.name.clone(), Ok(d))),
        );
        items.sort_by(|a, b| a.0.cmp(&b.0));
        items.into_iter().map(|(_, n, r)| (n, r)).collect()
    } else {
        names
            .iter()
            .map(|n| (n.clone(), definition::load(&ctx.dirs, n)))
            .collect()
    };
    if items.is_empty() && codes.is_empty() {
        ctx.out.line(&format!(
            "no services defined in {}: nothing written",
            ctx.dirs.init_d().display()
        ));
    }
    for (name, def) in items {
        let def = match def {
            Ok(d) => d,
            Err(e) => {
                codes.push(ctx.report(&name, e));
                continue;
            }
        };
        let target = dir.join(name.as_str());
        let text = lsb::script(&def.lsb_service(), svc, &ctx.dirs);
        match write_script(&target, &text) {
            Ok(()) => ctx.out.line(&format!("wrote {}", target.display())),
            Err(why) => {
                ctx.out.error(&format!("{}: {why}", target.display()));
                codes.push(Code::Failure);
            }
        }
    }
    Code::first_failure(codes)
}

/// Whether `target` may be replaced: absent, or a regular file that svc wrote.
fn replaceable(target: &Path) -> Result<(), String> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot inspect: {e}")),
    };
    let foreign = || {
        "exists and was not written by `svc lsb-script`; left alone (remove it first to replace it)"
            .to_string()
    };
    if !meta.file_type().is_file() {
        return Err(foreign());
    }
    let mut head = Vec::new();
    fs::File::open(target)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    let marker = lsb::MARKER.as_bytes();
    if head.windows(marker.len()).any(|w| w == marker) {
        Ok(())
    } else {
        Err(foreign())
    }
}

/// Temporary file beside the target, mode 0755, synced, renamed over it.
fn write_script(target: &Path, text: &[u8]) -> Result<(), String> {
    replaceable(target)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{base}.svc-tmp.{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&tmp)?;
        f.write_all(text)?;
        // Not subject to the umask, unlike the mode given at creation.
        f.set_permissions(fs::Permissions::from_mode(0o755))?;
        f.sync_all()?;
        fs::rename(&tmp, target)?;
        // The rename itself survives a crash once the directory is synced.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write: {e}")
    })
}
