//! Build script: records the git commit svc is built from, for `svc --version`.
//!
//! Sets `SVC_GIT_COMMIT` for the compile: the short hash of HEAD, or `unknown` outside a git
//! checkout (a source tarball, a crate download) or without git; and `SVC_GIT_DATE`, that
//! commit's date (YYYY-MM-DD, empty when unknown), which dates the man page. A builder may set
//! `SVC_GIT_COMMIT` in the environment to override it (e.g. a distribution building from a
//! tarball of a known commit). The tree's dirty state is deliberately not recorded: it changes
//! with every edit, and tracking it would rebuild the crate after each one.
//!
//! Cargo reruns this script only when HEAD moves: when `.git/HEAD` changes (a checkout) or the
//! ref it points to does (a commit), or `packed-refs` (a `git gc` packing the ref).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SVC_GIT_COMMIT");
    let commit = match std::env::var("SVC_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=SVC_GIT_COMMIT={commit}");
    // The commit's date dates the man page (reproducibly, unlike the build time); empty when
    // the commit is not known from git.
    let date = match commit.as_str() {
        "unknown" => None,
        c => std::env::var_os("CARGO_MANIFEST_DIR").and_then(|dir| {
            git(
                Path::new(&dir),
                &["log", "-1", "--format=%cd", "--date=short", c],
            )
        }),
    };
    println!("cargo:rustc-env=SVC_GIT_DATE={}", date.unwrap_or_default());
}

/// The short hash of HEAD, registering the files whose change means HEAD moved.
fn git_commit() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Only a checkout of this very tree counts, not a repository some parent directory holds
    // (a crate unpacked inside another project's checkout).
    let toplevel = git(&manifest, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&toplevel), &manifest) {
        return None;
    }
    for file in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&manifest, &["rev-parse", "--git-path", file]) {
            rerun_if_changed(&manifest, &p);
        }
    }
    if let Some(r) = git(&manifest, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&manifest, &["rev-parse", "--git-path", &r]) {
            rerun_if_changed(&manifest, &p);
        }
    }
    git(&manifest, &["rev-parse", "--short", "HEAD"])
}

fn rerun_if_changed(base: &Path, git_path: &str) {
    let p = base.join(git_path);
    // A path that does not exist yet (no packed-refs) would make cargo rerun every time.
    if p.exists() {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs git in `dir`; its trimmed stdout when it succeeds with output.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
