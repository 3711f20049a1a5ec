//! Runtime directories (`runtime_dir`, `runtime_dir_mode`; SPEC §8.3): made under /run (as root)
//! owned by the service's user with its mode, exported as RUNTIME_DIRECTORY, taken over only
//! when a real directory is there, a planted symlink refused without being followed, removed
//! after stop without following the symlinks inside; under $XDG_RUNTIME_DIR, else the state
//! directory, for an ordinary user; a forking daemon's PID file inside one; a real sshd whose
//! privilege separation directory /run/sshd is its runtime_dir.
//!
//! Names under the real /run are unique per test (they hold the sandbox's random name) and are
//! removed by a guard whatever the outcome; /run/sshd, which cannot be renamed, is taken in
//! turns by the machine-wide lock.

use crate::util::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(10);
const SSHD: &str = "/usr/sbin/sshd";

/// Removes what a test made under the real /run, whatever is there (a symlink itself, never
/// its target), when dropped.
struct RunPaths(Vec<PathBuf>);

impl Drop for RunPaths {
    fn drop(&mut self) {
        for p in &self.0 {
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => drop(std::fs::remove_dir_all(p)),
                Ok(_) => drop(std::fs::remove_file(p)),
                Err(_) => {}
            }
        }
    }
}

/// A name no other test or program uses: the sandbox's own random name.
fn unique(sb: &Sandbox, suffix: &str) -> String {
    format!(
        "{}-{suffix}",
        sb.path().file_name().unwrap().to_string_lossy()
    )
}

/// A directory `out/` in the sandbox that `user` may write (the daemons report there).
fn out_dir(sb: &Sandbox, user: &User) -> PathBuf {
    sb.open_to_others();
    let out = sb.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    user.chown(&out);
    out
}

/// A daemon that writes its RUNTIME_DIRECTORY and uid to OUT/NAME.env (atomically), then waits.
fn reporter(sb: &Sandbox, out: &Path, name: &str) -> PathBuf {
    sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\nprintf '%s\\n%s\\n' \"$RUNTIME_DIRECTORY\" \"$(id -u)\" > {o}/{name}.tmp && mv {o}/{name}.tmp {o}/{name}.env\nwhile :; do sleep 1 & wait $!; done\n",
            o = out.display()
        ),
    )
}

/// What the reporter wrote: (RUNTIME_DIRECTORY, uid).
fn reported(out: &Path, name: &str) -> (String, u32) {
    let f = out.join(format!("{name}.env"));
    wait_for_file(&f, QUICK);
    let text = std::fs::read_to_string(&f).unwrap();
    let mut lines = text.lines();
    let dirs = lines.next().unwrap_or_default().to_string();
    let uid = lines.next().unwrap_or_default().parse().unwrap();
    (dirs, uid)
}

fn mode_owner(p: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(m.is_dir(), "{} is not a directory", p.display());
    (m.permissions().mode() & 0o7777, m.uid(), m.gid())
}

/// As root with `user:`: every directory (and the first part of `a/b`) made with the mode and
/// owned by the user and group, RUNTIME_DIRECTORY naming them all; after stop they are gone
/// with their contents, and a symlink inside pointing at a sandbox file is unlinked, the file
/// untouched.
#[test]
fn made_with_owner_and_mode_exported_and_removed_after_stop() {
    let test = "made_with_owner_and_mode_exported_and_removed_after_stop";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    let (a, b) = (unique(&sb, "a"), unique(&sb, "b"));
    let run = Path::new("/run");
    let _guard = RunPaths(vec![run.join(&a), run.join(&b)]);
    let out = out_dir(&sb, &user);
    let exec = reporter(&sb, &out, "d");
    sb.service(
        "d",
        &format!(
            "exec: {}\nuser: {}\nruntime_dir: [{a}, {b}/sub]\nruntime_dir_mode: \"0750\"\n",
            exec.display(),
            user.name
        ),
    );
    sb.svc(["start", "d"]).ok();
    let (dirs, uid) = reported(&out, "d");
    assert_eq!(uid, user.uid);
    assert_eq!(dirs, format!("/run/{a}:/run/{b}/sub"));
    for d in [run.join(&a), run.join(&b), run.join(&b).join("sub")] {
        assert_eq!(
            mode_owner(&d),
            (0o750, user.uid, user.gid),
            "{}",
            d.display()
        );
    }
    // What the service leaves inside: files, a directory, and symlinks out to the sandbox.
    let precious = sb.work.join("precious");
    std::fs::write(&precious, "keep me").unwrap();
    std::fs::create_dir(run.join(&a).join("nested")).unwrap();
    std::fs::write(run.join(&a).join("nested/file"), "x").unwrap();
    std::os::unix::fs::symlink(&precious, run.join(&a).join("link")).unwrap();
    std::os::unix::fs::symlink(&sb.work, run.join(&b).join("sub/dirlink")).unwrap();
    sb.svc(["stop", "d"]).ok();
    for d in [&a, &b] {
        assert!(
            std::fs::symlink_metadata(run.join(d)).is_err(),
            "/run/{d} is still there"
        );
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(
        sb.work.join("d.sh").exists(),
        "the symlinked directory lost its contents"
    );
    // Stopped again: nothing to remove, still a success.
    sb.svc(["stop", "d"]).ok();
}

/// A real directory already there is taken over: owner and mode set, its contents kept while
/// the service runs.
#[test]
fn an_existing_directory_is_taken_over() {
    let test = "an_existing_directory_is_taken_over";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    let a = unique(&sb, "a");
    let dir = Path::new("/run").join(&a);
    let _guard = RunPaths(vec![dir.clone()]);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(dir.join("old"), "x").unwrap();
    let out = out_dir(&sb, &user);
    let exec = reporter(&sb, &out, "d");
    sb.service(
        "d",
        &format!(
            "exec: {}\nuser: {}\nruntime_dir: {a}\n",
            exec.display(),
            user.name
        ),
    );
    sb.svc(["start", "d"]).ok();
    assert_eq!(reported(&out, "d").0, dir.display().to_string());
    assert_eq!(mode_owner(&dir), (0o755, user.uid, user.gid));
    assert!(dir.join("old").exists());
    sb.svc(["stop", "d"]).ok();
    assert!(!dir.exists());
}

/// A symlink where the directory belongs fails the start (exit 1, naming it) without being
/// followed: its target keeps owner and mode, nothing is made in it, the link stays, nothing is
/// launched. A regular file there is refused the same way and left as it was.
#[test]
fn a_symlink_or_a_file_in_place_is_refused_without_following_it() {
    let test = "a_symlink_or_a_file_in_place_is_refused_without_following_it";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    let (l, f, first) = (unique(&sb, "l"), unique(&sb, "f"), unique(&sb, "first"));
    let run = Path::new("/run");
    let _guard = RunPaths(vec![run.join(&l), run.join(&f), run.join(&first)]);
    let target = sb.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&target, run.join(&l)).unwrap();
    std::fs::write(run.join(&f), "a file").unwrap();
    let out = out_dir(&sb, &user);
    let exec = reporter(&sb, &out, "d");
    for (dirs, planted, words) in [
        (format!("[{first}, {l}]"), &l, "is a symbolic link"),
        (format!("[{first}, {l}/x]"), &l, "is a symbolic link"),
        (format!("[{first}, {f}]"), &f, "is a regular file"),
    ] {
        sb.service(
            "d",
            &format!(
                "exec: {}\nuser: {}\nruntime_dir: {dirs}\n",
                exec.display(),
                user.name
            ),
        );
        sb.svc(["start", "d"])
            .code(1)
            .stderr_has(&format!("/run/{planted}"))
            .stderr_has(words);
        sb.svc(["status", "d"]).code(3);
        assert!(!out.join("d.env").exists(), "the program was launched");
        assert!(
            !run.join(&first).exists(),
            "the directory made before the refused one is left"
        );
    }
    assert!(std::fs::symlink_metadata(run.join(&l))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(mode_owner(&target), (0o700, 0, 0));
    assert!(!target.join("x").exists());
    assert_eq!(std::fs::read_to_string(run.join(&f)).unwrap(), "a file");
}

/// A forking daemon run as its user writes its PID file into its runtime directory: start
/// follows it, status and stop use it, and the directory goes after stop.
#[test]
fn a_forking_daemons_pidfile_lives_in_its_runtime_directory() {
    let test = "a_forking_daemons_pidfile_lives_in_its_runtime_directory";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    sb.open_to_others();
    let a = unique(&sb, "fork");
    let dir = Path::new("/run").join(&a);
    let _guard = RunPaths(vec![dir.clone()]);
    // The launcher starts the daemon in the background, waits for its PID file, and exits 0.
    let exec = sb.script(
        "forker.sh",
        "#!/bin/sh\nsh -c 'trap \"exit 0\" TERM; echo $$ > \"$RUNTIME_DIRECTORY/d.pid.tmp\"; mv \"$RUNTIME_DIRECTORY/d.pid.tmp\" \"$RUNTIME_DIRECTORY/d.pid\"; while :; do sleep 1 & wait $!; done' </dev/null >/dev/null 2>&1 &\nwhile [ ! -s \"$RUNTIME_DIRECTORY/d.pid\" ]; do sleep 0.05; done\n",
    );
    sb.service(
        "d",
        &format!(
            "exec: {}\nuser: {}\nforking: true\npidfile: {}/d.pid\nruntime_dir: {a}\nready_timeout: 10\nstop_timeout: 5\n",
            exec.display(),
            user.name,
            dir.display()
        ),
    );
    sb.svc(["start", "d"]).ok();
    let pid = read_pid(&dir.join("d.pid"));
    assert!(alive(pid));
    sb.svc(["status", "d"])
        .ok()
        .stdout_has(&format!("d is running (pid {pid}"));
    sb.svc(["stop", "d"]).ok();
    assert!(!alive(pid));
    assert!(!dir.exists());
}

/// As an ordinary user the root is $XDG_RUNTIME_DIR, else svc's state directory; the same
/// rules hold (made with the mode, exported, removed after stop).
#[test]
fn an_ordinary_user_gets_them_under_xdg_runtime_dir_else_the_state_directory() {
    let test = "an_ordinary_user_gets_them_under_xdg_runtime_dir_else_the_state_directory";
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    let out = out_dir(&sb, &user);
    let xdg = sb.path().join("xdg");
    for d in [&xdg, &sb.state, &sb.log] {
        std::fs::create_dir_all(d).unwrap();
        user.chown(d);
    }
    let exec = reporter(&sb, &out, "d");
    sb.service(
        "d",
        &format!(
            "exec: {}\nruntime_dir: [app, app/sub]\nruntime_dir_mode: \"0700\"\n",
            exec.display()
        ),
    );
    let state = std::path::absolute(&sb.state).unwrap();
    for (root, xdg_env) in [(xdg.clone(), Some(&xdg)), (state, None)] {
        let as_user = |args: &[&str]| -> Run {
            let mut c = sb.cmd_as(&user);
            if let Some(x) = xdg_env {
                c.env("XDG_RUNTIME_DIR", x);
            }
            c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
            run_timeout(c, args.iter().map(|a| a.to_string()).collect(), QUICK)
        };
        let _ = std::fs::remove_file(out.join("d.env"));
        as_user(&["start", "d"]).ok();
        let (dirs, uid) = reported(&out, "d");
        assert_eq!(uid, user.uid);
        assert_eq!(
            dirs,
            format!(
                "{}:{}",
                root.join("app").display(),
                root.join("app/sub").display()
            )
        );
        assert_eq!(
            mode_owner(&root.join("app/sub")),
            (0o700, user.uid, user.gid)
        );
        as_user(&["stop", "d"]).ok();
        assert!(!root.join("app").exists(), "{}", root.display());
    }
}

/// A real sshd in the foreground, as Debian ships it, with `runtime_dir: sshd` giving it the
/// privilege separation directory it refuses to start without — no wrapper. ssh-keyscan gets
/// its host key; after stop /run/sshd is gone.
#[test]
fn sshd_runs_with_its_privilege_separation_directory_as_runtime_dir() {
    let test = "sshd_runs_with_its_privilege_separation_directory_as_runtime_dir";
    if !Path::new(SSHD).exists() {
        skip(test, &format!("{SSHD} is not installed (openssh-server)"));
        return;
    }
    if skip_unless_root(test) {
        return;
    }
    // /run/sshd is one for the whole machine: one test run at a time uses it, and a system
    // sshd's own directory is not ours to take.
    let _turn = machine_wide_turn("run-sshd", Duration::from_secs(120));
    // A leftover /run/sshd (from the package, or a killed run) is taken over; one in use by a
    // system sshd is not ours.
    let system_sshd = all_pids()
        .into_iter()
        .any(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == Path::new(SSHD)));
    if system_sshd && Path::new("/run/sshd").exists() {
        skip(
            test,
            "a system sshd runs and uses /run/sshd; not taking it over",
        );
        return;
    }
    let _guard = RunPaths(vec![PathBuf::from("/run/sshd")]);
    let sb = Sandbox::new();
    let key = sb.work.join("host_key");
    let keygen = bounded_status(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdin(Stdio::null()),
    );
    assert!(keygen.success(), "ssh-keygen failed");
    let port = free_port();
    let config = sb.work.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\nPidFile none\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nHostKey {}\n",
            key.display()
        ),
    )
    .unwrap();
    sb.service(
        "sshd",
        &format!(
            "exec: {SSHD}\nargs: [\"-D\", \"-e\", \"-f\", \"{c}\", \"-p\", \"{port}\", \"-h\", \"{k}\"]\nruntime_dir: sshd\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 20\nstop_timeout: 5\n",
            c = config.display(),
            k = key.display()
        ),
    );
    sb.svc(["start", "sshd"]).ok();
    assert_eq!(mode_owner(Path::new("/run/sshd")), (0o755, 0, 0));
    let scan = bounded_output(
        Command::new("ssh-keyscan")
            .args([
                "-T",
                "5",
                "-t",
                "ed25519",
                "-p",
                &port.to_string(),
                "127.0.0.1",
            ])
            .stdin(Stdio::null()),
    );
    let pubkey = std::fs::read_to_string(sb.work.join("host_key.pub")).unwrap();
    let key_text = pubkey.split_whitespace().nth(1).unwrap();
    let answer = String::from_utf8_lossy(&scan.stdout);
    assert!(
        answer.contains(key_text),
        "ssh-keyscan did not get the host key: {answer}\n{}\nlog: {}",
        String::from_utf8_lossy(&scan.stderr),
        std::fs::read_to_string(sb.logfile("sshd")).unwrap_or_default()
    );
    sb.svc(["stop", "sshd"]).ok();
    assert!(!Path::new("/run/sshd").exists());
}

/// The supervised kind gets them too: made before the first launch, kept across a restart
/// after a crash, removed after stop.
#[test]
fn a_supervised_service_keeps_them_across_restarts_until_stop() {
    let test = "a_supervised_service_keeps_them_across_restarts_until_stop";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    let a = unique(&sb, "sup");
    let dir = Path::new("/run").join(&a);
    let _guard = RunPaths(vec![dir.clone()]);
    let out = out_dir(&sb, &user);
    let exec = reporter(&sb, &out, "d");
    sb.service(
        "d",
        &format!(
            "exec: {}\nuser: {}\nruntime_dir: {a}\nrespawn: {{ max: 5, window: 60, backoff: 0 }}\n",
            exec.display(),
            user.name
        ),
    );
    sb.svc(["start", "d"]).ok();
    assert_eq!(reported(&out, "d").0, dir.display().to_string());
    assert_eq!(mode_owner(&dir), (0o755, user.uid, user.gid));
    let first = sb.pid("d");
    std::fs::remove_file(out.join("d.env")).unwrap();
    send_signal(first, libc::SIGKILL);
    // The next instance reports the same directory, which is still there.
    assert_eq!(reported(&out, "d").0, dir.display().to_string());
    assert!(dir.is_dir());
    sb.svc(["stop", "d"]).ok();
    assert!(!dir.exists());
}

/// A start that fails once the launch was prepared (the program dies before it is ready)
/// leaves no runtime directory behind, for the exec and the supervised kind.
#[test]
fn a_failed_start_removes_them() {
    let test = "a_failed_start_removes_them";
    if skip_unless_root(test) {
        return;
    }
    let sb = Sandbox::new();
    let a = unique(&sb, "fail");
    let dir = Path::new("/run").join(&a);
    let _guard = RunPaths(vec![dir.clone()]);
    let exec = sb.script(
        "dies.sh",
        "#!/bin/sh\necho \"dir $RUNTIME_DIRECTORY\"\nexit 3\n",
    );
    let never = sb.work.join("never");
    for extra in ["", "respawn: { max: 0 }\n"] {
        sb.service(
            "d",
            &format!(
                "exec: {}\nruntime_dir: {a}\nready: {{ file: {} }}\nready_timeout: 10\n{extra}",
                exec.display(),
                never.display()
            ),
        );
        sb.svc(["start", "d"]).code(1);
        assert!(!dir.exists(), "{extra}: /run/{a} was left");
        let log = std::fs::read_to_string(sb.logfile("d")).unwrap_or_default();
        assert!(log.contains(&format!("dir /run/{a}")), "{log}");
    }
}

/// `svc check` reports every problem of the new keys at once, each with file and line; a
/// start of such a definition exits 6.
#[test]
fn check_reports_every_runtime_dir_problem_with_its_line() {
    let sb = Sandbox::new();
    sb.service(
        "d",
        "exec: /bin/true\nruntime_dir: [ok, ../etc, a/b/c]\nruntime_dir_mode: 0755\n",
    );
    sb.service("s", "script: /etc/init.d/x\nruntime_dir: s\n");
    let r = sb.svc(["check"]);
    r.code(6);
    for (file_line, words) in [
        ("d.yaml:2", "\"../etc\" is not a directory name"),
        ("d.yaml:2", "\"a/b/c\" is not a directory name"),
        ("d.yaml:3", "`runtime_dir_mode`: write it quoted"),
        ("s.yaml:2", "`runtime_dir` cannot be used with `script`"),
    ] {
        assert!(
            r.stderr
                .lines()
                .chain(r.stdout.lines())
                .any(|l| l.contains(file_line) && l.contains(words)),
            "{file_line} {words}:\n{}{}",
            r.stdout,
            r.stderr
        );
    }
    sb.svc(["start", "d"]).code(6);
}
