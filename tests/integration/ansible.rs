//! The Ansible module `packaging/ansible/library/svc_service.py` (issue 6), run by a real
//! `ansible-playbook` against localhost (`connection: local`) in a sandbox: it starts and
//! enables a real service, is idempotent (a second run reports nothing changed), changes nothing
//! in check mode, stops the service, and reports svc's exit code and error when svc fails.
//!
//! ansible-playbook comes from `SVC_TEST_ANSIBLE_PLAYBOOK`, else from the venv that `.ci/run`
//! creates (`target/ansible-venv`, ansible-core from PyPI); without either the tests say so and
//! skip.

use crate::util::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one `ansible-playbook` run may take (it takes about a second).
const PLAYBOOK_TIMEOUT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ansible-playbook to use, or None (with a message saying why the test skips).
pub(crate) fn ansible_playbook(test: &str) -> Option<PathBuf> {
    let (path, from) = match std::env::var_os("SVC_TEST_ANSIBLE_PLAYBOOK") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), "SVC_TEST_ANSIBLE_PLAYBOOK"),
        _ => (
            repo().join("target/ansible-venv/bin/ansible-playbook"),
            "the default venv",
        ),
    };
    if path.is_file() {
        Some(path)
    } else {
        skip(
            test,
            &format!(
                "no ansible-playbook at {} ({from}); create it with \
                 `python3 -m venv target/ansible-venv && target/ansible-venv/bin/pip install \
                 ansible-core` (.ci/run does), or set SVC_TEST_ANSIBLE_PLAYBOOK",
                path.display()
            ),
        );
        None
    }
}

/// The Python that runs the module: the venv's own (next to ansible-playbook), else the one
/// running ansible-playbook.
pub(crate) fn python_for(playbook_bin: &Path) -> String {
    let venv_python = playbook_bin.with_file_name("python3");
    if venv_python.is_file() {
        venv_python.display().to_string()
    } else {
        "{{ ansible_playbook_python }}".to_string()
    }
}

/// A YAML double-quoted scalar (Rust's escaping is a subset of YAML's for plain paths).
fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// Writes a playbook with one svc_service task for `service` (state from `-e want=...`, enabled
/// in runlevels 3 and 5) driving the sandbox's configuration with the test binary.
fn write_playbook(sb: &Sandbox, python: &str, service: &str) -> PathBuf {
    let text = format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars:\n    \
         ansible_python_interpreter: {python:?}\n  tasks:\n    - name: svc_service {service}\n      \
         svc_service:\n        name: {service}\n        state: \"{{{{ want }}}}\"\n        \
         enabled: true\n        runlevels: \"35\"\n        svc: {svc}\n        config_dir: {c}\n        \
         state_dir: {s}\n        log_dir: {l}\n",
        svc = q(Path::new(SVC)),
        c = q(&sb.config),
        s = q(&sb.state),
        l = q(&sb.log),
    );
    let path = sb.path().join(format!("ansible/{service}.yml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The outcome of one ansible-playbook run.
pub(crate) struct Play {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Play {
    /// `N` of `changed=N` (or `failed=N`, ...) on localhost's PLAY RECAP line.
    #[track_caller]
    pub fn recap(&self, key: &str) -> u32 {
        let recap = self
            .stdout
            .split("PLAY RECAP")
            .nth(1)
            .unwrap_or_else(|| panic!("no PLAY RECAP in the output\n{}", self.dump()));
        let line = recap
            .lines()
            .find(|l| l.trim_start().starts_with("localhost"))
            .unwrap_or_else(|| panic!("no localhost line in PLAY RECAP\n{}", self.dump()));
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key}=N in {line:?}\n{}", self.dump()))
    }

    /// Asserts a successful run with `changed` changed tasks.
    #[track_caller]
    pub fn changed(&self, changed: u32) -> &Play {
        assert_eq!(self.code, 0, "ansible-playbook failed\n{}", self.dump());
        assert_eq!(self.recap("failed"), 0, "{}", self.dump());
        assert_eq!(self.recap("changed"), changed, "{}", self.dump());
        self
    }

    pub fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `ansible-playbook -i localhost, PLAYBOOK ARGS` quickly and in isolation: no facts, no
/// retry files, no colour, temporary files and HOME in the sandbox, the module path
/// packaging/ansible/library, no ansible.cfg of the caller.
fn play(sb: &Sandbox, bin: &Path, playbook: &Path, args: &[&str]) -> Play {
    play_in(sb, &[], bin, playbook, args)
}

/// [`play`] through a wrapper (`nsenter -t PID -m -p --`): `wrapper` then ansible-playbook.
/// Paths are absolute, since a wrapper may change the working directory.
pub(crate) fn play_in(
    sb: &Sandbox,
    wrapper: &[&OsStr],
    bin: &Path,
    playbook: &Path,
    args: &[&str],
) -> Play {
    let home = sb.path().join("ansible/home");
    std::fs::create_dir_all(&home).unwrap();
    let cfg = sb.path().join("ansible/ansible.cfg");
    std::fs::write(&cfg, "[defaults]\n").unwrap();
    let out_path = sb.path().join("ansible/stdout");
    let err_path = sb.path().join("ansible/stderr");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = cmd
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", &home)
        // ansible-core refuses to run without a UTF-8 locale.
        .env("LC_ALL", "C.UTF-8")
        .env("LANG", "C.UTF-8")
        .env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_LIBRARY", repo().join("packaging/ansible/library"))
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", home.join("remote-tmp"))
        .env("ANSIBLE_GATHERING", "explicit")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("ANSIBLE_LOAD_CALLBACK_PLUGINS", "false")
        .current_dir(sb.path().join("ansible"))
        .arg("-i")
        .arg("localhost,")
        .arg(playbook)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run ansible-playbook");
    let mut status = None;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(PLAYBOOK_TIMEOUT, "ansible-playbook to finish", || {
            status = child.try_wait().expect("wait for ansible-playbook");
            status.is_some()
        })
    }));
    if let Err(e) = waited {
        let _ = child.kill();
        let _ = child.wait();
        std::panic::resume_unwind(e);
    }
    Play {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Stops the service through svc however the test ends (the sandbox guard then kills whatever
/// is left).
struct StopService<'a>(&'a Sandbox, &'a str);

impl Drop for StopService<'_> {
    fn drop(&mut self) {
        run_quietly(self.0.cmd(["stop", self.1]), SVC_LIMIT);
    }
}

/// The entries of `runlevels/rcL.d` that belong to `name` (`S20web`, `K80web`).
fn entries(sb: &Sandbox, level: &str, name: &str) -> Vec<String> {
    entries_in(&sb.config.join(format!("runlevels/rc{level}.d")), name)
}

/// The entries of the runlevel directory `dir` that belong to `name`, sorted.
pub(crate) fn entries_in(dir: &Path, name: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 3 + name.len() && n.ends_with(name))
        .collect();
    v.sort();
    v
}

#[test]
fn playbook_starts_enables_is_idempotent_checks_and_stops() {
    let Some(bin) =
        ansible_playbook("ansible::playbook_starts_enables_is_idempotent_checks_and_stops")
    else {
        return;
    };
    let sb = Sandbox::new();
    sb.service("web", &format!("{}stop_timeout: 5\n", sb.sleeper("web")));
    let _stop = StopService(&sb, "web");
    let playbook = write_playbook(&sb, &python_for(&bin), "web");
    sb.svc(["status", "web"]).code(3);

    // First run: enables in 3 and 5 and starts.
    play(&sb, &bin, &playbook, &["-e", "want=started"]).changed(1);
    sb.svc(["status", "web"]).ok().stdout_has("web is running");
    let pid = sb.pid("web");
    assert!(alive(pid), "web (pid {pid}) does not run");
    wait_for_file(&sb.work.join("web.started"), Duration::from_secs(10));
    for l in ["3", "5"] {
        let e = entries(&sb, l, "web");
        assert!(
            e.len() == 1 && e[0].starts_with('S'),
            "rc{l}.d should hold one S entry for web, holds {e:?}"
        );
    }
    for l in ["0", "1", "2", "4", "6"] {
        let e = entries(&sb, l, "web");
        assert!(
            e.len() == 1 && e[0].starts_with('K'),
            "rc{l}.d should hold one K entry for web, holds {e:?}"
        );
    }
    sb.svc(["list", "web"])
        .ok()
        .stdout_has("2:off 3:on 4:off 5:on");

    // Second run: nothing to do, the same process still runs.
    play(&sb, &bin, &playbook, &["-e", "want=started"]).changed(0);
    assert_eq!(sb.pid("web"), pid, "the second run restarted web");
    assert!(alive(pid));

    // Check mode: reports that it would stop web, and does not.
    let check = play(&sb, &bin, &playbook, &["-e", "want=stopped", "--check"]);
    check.changed(1);
    sb.svc(["status", "web"]).ok().stdout_has("web is running");
    assert_eq!(sb.pid("web"), pid, "check mode touched web");
    assert!(
        !sb.work.join("web.term").exists(),
        "check mode sent web TERM\n{}",
        check.dump()
    );

    // For real: stops it; and again: nothing to do.
    play(&sb, &bin, &playbook, &["-e", "want=stopped"]).changed(1);
    sb.svc(["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
    assert!(sb.work.join("web.term").exists(), "web was not sent TERM");
    wait_until(Duration::from_secs(10), "web to be gone", || !alive(pid));
    play(&sb, &bin, &playbook, &["-e", "want=stopped"]).changed(0);
    // The links stay: the playbook keeps enabled: true.
    assert_eq!(entries(&sb, "3", "web").len(), 1);
}

#[test]
fn svc_failure_fails_the_task_with_exit_code_and_error() {
    let Some(bin) =
        ansible_playbook("ansible::svc_failure_fails_the_task_with_exit_code_and_error")
    else {
        return;
    };
    let sb = Sandbox::new();
    let missing = sb.work.join("no-such-program");
    sb.service("broken", &format!("exec: {}\n", missing.display()));
    let _stop = StopService(&sb, "broken");
    let playbook = write_playbook(&sb, &python_for(&bin), "broken");
    let p = play(&sb, &bin, &playbook, &["-e", "want=started"]);
    assert_ne!(p.code, 0, "the play should fail\n{}", p.dump());
    assert_eq!(p.recap("failed"), 1, "{}", p.dump());
    // LSB 5 = not installed; svc's message names the program.
    assert!(
        p.stdout
            .contains("svc start broken failed (svc exit code 5)"),
        "no exit code in the failure\n{}",
        p.dump()
    );
    assert!(
        p.stdout.contains(&missing.display().to_string()),
        "svc's error (naming {}) is not in the failure\n{}",
        missing.display(),
        p.dump()
    );
    sb.svc(["status", "broken"]).code(3);
}
