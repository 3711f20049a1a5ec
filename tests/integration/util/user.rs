//! The ordinary user that tests of unprivileged svc runs drop to when the suite runs as root.
//!
//! Decision: the user is `svc-test`, a system account without a home or a login shell that
//! `.ci/run` creates (`useradd --system --user-group --no-create-home --home-dir /nonexistent
//! --shell /usr/sbin/nologin svc-test`). A test does not create it: adding an account changes
//! the machine's user database for every later run, which a test suite has no business
//! doing behind the back of whoever runs it. When root runs the suite without that user, the
//! test skips and names the command that creates it — and under `SVC_TEST_STRICT=1` (CI) that
//! skip fails the run. Not `nobody`: tests hand this user directories and files, and
//! `nobody` must own nothing; its processes may also be any system daemon's. When the suite
//! does not run as root, the "ordinary user" is simply the one running it.
//!
//! The user must not need to read the checkout: a clone under /root (mode 0700) is not theirs
//! to read. Everything it runs or reads lives in the test's sandbox ([`Sandbox::user_svc`]
//! gives it its own link or copy of the svc binary), and the sandbox's parents must let it
//! through ([`Sandbox::open_to_others`] checks).

use super::{is_root, skip, Sandbox, SVC};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The account `.ci/run` creates for the tests to drop to.
pub const TEST_USER: &str = "svc-test";

/// An ordinary (not root) user to run svc as.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// True when this is the user running the tests (no switch needed).
    pub me: bool,
}

/// The ordinary user for `test`: ourselves when not root; as root, [`TEST_USER`]. `None` after
/// a skip (a failure in strict mode) when root and that user does not exist.
#[track_caller]
pub fn ordinary_user(test: &str) -> Option<User> {
    if !is_root() {
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default();
        return Some(User {
            name: me,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            me: true,
        });
    }
    match nix::unistd::User::from_name(TEST_USER) {
        Ok(Some(u)) => Some(User {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            me: false,
        }),
        _ => {
            skip(
                test,
                &format!(
                    "no user {TEST_USER} to drop to (bash .ci/run creates it; or run `useradd \
                     --system --user-group --no-create-home --home-dir /nonexistent --shell \
                     /usr/sbin/nologin {TEST_USER}`)"
                ),
            );
            None
        }
    }
}

impl User {
    /// `setpriv` arguments that run the rest of a command line as this user, without
    /// supplementary groups.
    pub fn setpriv_args(&self) -> Vec<String> {
        vec![
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--clear-groups".into(),
            "--".into(),
        ]
    }

    /// Hands `path` to this user (a no-op when the user is us).
    pub fn chown(&self, path: &Path) {
        if !self.me {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// Makes `cmd` run as this user (std drops the supplementary groups when root switches
    /// uid); a no-op when the user is us.
    pub fn apply(&self, cmd: &mut Command) {
        use std::os::unix::process::CommandExt;
        if !self.me {
            cmd.uid(self.uid).gid(self.gid);
        }
    }
}

impl Sandbox {
    /// The sandbox's own svc binary, `bin/svc`, for runs as an ordinary user, who may not be
    /// able to read the checkout's `target/`: a hard link to the built binary (same file
    /// system), else a copy. Also opens the sandbox to others ([`Sandbox::open_to_others`]).
    pub fn user_svc(&self) -> PathBuf {
        self.open_to_others();
        let bin = self.path().join("bin");
        let svc = bin.join("svc");
        if !svc.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
            if std::fs::hard_link(SVC, &svc).is_err() {
                std::fs::copy(SVC, &svc).unwrap_or_else(|e| panic!("copy {SVC}: {e}"));
            }
            std::fs::set_permissions(&svc, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        svc
    }

    /// Lets other users through the sandbox directory (mode 0711: they can reach what the test
    /// opens to them, not list it), and checks that every parent lets them through too: a
    /// TMPDIR inside a private directory would make an ordinary-user test fail for a reason
    /// that is not svc's, so that fails at once with the reason.
    #[track_caller]
    pub fn open_to_others(&self) {
        let meta = std::fs::metadata(self.path()).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o011 != 0o011 {
            std::fs::set_permissions(self.path(), std::fs::Permissions::from_mode(mode | 0o711))
                .unwrap();
        }
        for dir in self.path().ancestors().skip(1) {
            let mode = std::fs::metadata(dir)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            assert!(
                mode & 0o001 != 0,
                "{} (mode {:o}) does not let other users through to the sandbox {}: set TMPDIR \
                 to a directory they can reach (such as /tmp)",
                dir.display(),
                mode & 0o7777,
                self.path().display()
            );
        }
    }

    /// A `svc` command run as `user`: the sandbox's own binary, a cleared environment but for
    /// PATH, stdin from /dev/null, its own process group; the caller adds the directories (or
    /// leaves them to svc's defaults) and svc's arguments.
    pub fn user_command(&self, user: &User) -> Command {
        let svc = self.user_svc();
        let mut c = if user.me {
            Command::new(&svc)
        } else {
            let mut c = Command::new("setpriv");
            c.args(user.setpriv_args()).arg(&svc);
            c
        };
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        c
    }

    /// [`Sandbox::user_command`] with the sandbox's configuration, state and log directories.
    pub fn cmd_as(&self, user: &User) -> Command {
        let mut c = self.user_command(user);
        c.arg("--config-dir")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--log-dir")
            .arg(&self.log);
        c
    }
}

impl Sandbox {
    /// Hands the sandbox's state and log directories to `user` (made first), so that svc run
    /// as that user ([`Sandbox::svc_as`]) can start and stop the sandbox's services.
    pub fn give_dirs_to(&self, user: &User) {
        for d in [&self.state, &self.log] {
            std::fs::create_dir_all(d).unwrap();
            user.chown(d);
        }
    }

    /// `svc ARGS` as `user` with the sandbox's directories ([`Sandbox::cmd_as`]), with a
    /// deadline.
    #[track_caller]
    pub fn svc_as(&self, user: &User, args: &[&str]) -> super::Run {
        let mut c = self.cmd_as(user);
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        super::run_timeout(c, super::display_args(args), super::SVC_LIMIT)
    }
}
