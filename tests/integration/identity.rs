use crate::util::*;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Process identity (fault group A): svc never signals a process that is not the
// service, whatever the PID file or the record says.

const T: Duration = Duration::from_secs(5);
/// Environment that selects svc's non-pidfd fallback.
const NO_PIDFD: &[(&str, &str)] = &[("SVC_NO_PIDFD", "1")];
/// Commands that must not hang on hostile PID files get this long.
const HANG: Duration = Duration::from_secs(10);

/// A copy of the sleep program inside the sandbox, so that processes running it are found by the
/// sandbox guard and their executable is unique to the test.
fn sleep_copy(sb: &Sandbox, file: &str) -> PathBuf {
    let p = sb.work.join(file);
    std::fs::copy("/bin/sleep", &p).expect("copy /bin/sleep");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Defines `name` as `work/sleep 1000` and returns the executable.
fn sleep_service(sb: &Sandbox, name: &str) -> PathBuf {
    let exe = sb.work.join("sleep");
    if !exe.exists() {
        sleep_copy(sb, "sleep");
    }
    sb.service(
        name,
        &format!(
            "exec: {}\nargs: [\"1000\"]\nstop_timeout: 3\n",
            exe.display()
        ),
    );
    exe
}

/// An unrelated process svc must never signal. Its own process group, started in the sandbox
/// work directory; killed when dropped.
struct Canary {
    child: Child,
    pid: i32,
    starttime: u64,
}

impl Canary {
    fn spawn(sb: &Sandbox, exe: &Path, args: &[&str]) -> Canary {
        // A script the test just wrote can be "busy" (ETXTBSY) for a moment: another test
        // thread's fork may still hold the writing descriptor until its exec.
        let spawn = || {
            Command::new(exe)
                .args(args)
                .current_dir(&sb.work)
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let mut result = spawn();
        wait_until(
            Duration::from_secs(5),
            "the canary to spawn",
            || match &result {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    result = spawn();
                    false
                }
                _ => true,
            },
        );
        let child = result.expect("spawn canary");
        let pid = child.id() as i32;
        let starttime = proc_stat(pid).expect("canary stat").start_ticks;
        Canary {
            child,
            pid,
            starttime,
        }
    }

    #[track_caller]
    fn assert_intact(&self, after: &str) {
        match proc_stat(self.pid) {
            Some(s) if s.state != 'Z' && s.state != 'X' && s.start_ticks == self.starttime => {}
            other => panic!("canary {} was hit after {after}: now {other:?}", self.pid),
        }
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the PID file of `name` as a root-owned 0644 file, creating the state directory.
fn write_pidfile(sb: &Sandbox, name: &str, content: &[u8]) {
    mkdir_755(&sb.state);
    let p = sb.pidfile(name);
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Edits svc's identity record `<state>/NAME.state` (a JSON object, docs/security.md).
fn patch_record(
    sb: &Sandbox,
    name: &str,
    f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) {
    let p = sb.state.join(format!("{name}.state"));
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read record {}: {e}", p.display()));
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("record {} is not JSON ({e}): {text}", p.display()));
    let obj = v.as_object_mut().expect("record is a JSON object");
    f(obj);
    let tmp = sb.state.join(format!(".{name}.state.test"));
    std::fs::write(&tmp, serde_json::to_string(&v).unwrap()).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
}

/// Kills a daemon and its group behind svc's back and waits until it is gone.
fn kill_behind_svcs_back(pid: i32) {
    // SAFETY: kill(2) of a daemon the test started through svc, checked alive just before.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until(T, "killed daemon to die", || !alive(pid));
}

// ---------------------------------------------------------------------------------------------
// Control: a PID file svc holds no record for counts when its process runs the exec (§3.5).
// The refusals below are meaningful because the same PID in a proper file would be accepted.

#[test]
fn unrecorded_pid_file_naming_a_process_of_the_exec_counts_as_running() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    sb.svc(["status", "x"])
        .ok()
        .stdout_has(&format!("x is running (pid {}", c.pid));
    // A process of another executable with the same PID file is not the service.
    let other = Canary::spawn(&sb, &sleep_copy(&sb, "other-sleep"), &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", other.pid).as_bytes());
    sb.svc(["status", "x"]).code(1);
    sb.svc(["stop", "x"]).ok();
    other.assert_intact("stop x");
    c.assert_intact("stop x");
}

// ---------------------------------------------------------------------------------------------
// A1: stale PID reused by an unrelated process.

fn a1_case(envs: &[(&str, &str)]) {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    svc_env(&sb, envs, &["start", "x"]).ok();
    let d = sb.pid("x");
    let d_start = proc_stat(d).expect("daemon stat").start_ticks;
    kill_behind_svcs_back(d);

    // The canary runs the same executable; the record now names it, as after PID reuse. A
    // reuse in the same clock tick is A2's case: here the start times differ.
    let c = later_canary(&sb, &exe, d_start);
    patch_record(&sb, "x", |r| {
        assert!(r.contains_key("pid"), "record has no pid: {r:?}");
        r.insert("pid".into(), c.pid.into());
        if r.contains_key("pgid") {
            r.insert("pgid".into(), c.pid.into());
        }
    });
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());

    svc_env(&sb, envs, &["status", "x"])
        .code(1)
        .stdout_has("x is dead but pid file exists");
    c.assert_intact("status");
    svc_env(&sb, envs, &["stop", "x"]).ok();
    c.assert_intact("stop");
    assert!(!pidfile_exists(&sb, "x"), "stop left the stale PID file");

    svc_env(&sb, envs, &["start", "x"]).ok();
    let new = sb.pid("x");
    assert_ne!(new, c.pid, "start adopted the canary");
    assert!(alive(new));
    svc_env(&sb, envs, &["stop", "x"]).ok();
    assert!(!alive(new), "stop left the new daemon");
    c.assert_intact("start and stop");
}

/// A canary of `exe` whose start time (in clock ticks) differs from `not_at`.
fn later_canary(sb: &Sandbox, exe: &Path, not_at: u64) -> Canary {
    let mut c = Canary::spawn(sb, exe, &["1000"]);
    wait_until(T, "a canary started in a later clock tick", || {
        if c.starttime != not_at {
            return true;
        }
        c = Canary::spawn(sb, exe, &["1000"]);
        false
    });
    c
}

#[test]
fn a1_stale_pid_reused_by_canary() {
    a1_case(&[]);
}

#[test]
fn a1_stale_pid_reused_by_canary_without_pidfd() {
    a1_case(NO_PIDFD);
}

#[test]
fn a1_pid_file_names_another_pid_than_the_record() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    sb.svc(["start", "x"]).ok();
    let d = sb.pid("x");
    kill_behind_svcs_back(d);
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    sb.svc(["status", "x"]).code(1);
    sb.svc(["stop", "x"]).ok();
    c.assert_intact("stop");
}

// ---------------------------------------------------------------------------------------------
// A1/A2 with real PID reuse inside a private PID namespace (root only).

fn pid_ns_available(test: &str) -> bool {
    if skip_unless_root(test) {
        return false;
    }
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let r = run_timeout(c, vec!["unshare probe".into()], T);
    if r.code != 0 {
        skip(
            test,
            &format!("unshare --pid not permitted: {}", r.stderr.trim()),
        );
        return false;
    }
    true
}

/// Runs `script` as PID 1 of a new PID namespace (its own process group), with T_SVC, T_CONF,
/// T_STATE, T_LOG, T_WORK and `envs` in its environment.
fn in_pid_ns(sb: &Sandbox, envs: &[(&str, &str)], script: &str) -> Run {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", sb.path())
        .env("T_SVC", SVC)
        .env("T_CONF", &sb.config)
        .env("T_STATE", &sb.state)
        .env("T_LOG", &sb.log)
        .env("T_WORK", &sb.work)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    run_timeout(c, vec!["unshare --pid ...".into()], SVC_LIMIT)
}

const NS_PRELUDE: &str = r#"
s() { "$T_SVC" --config-dir "$T_CONF" --state-dir "$T_STATE" --log-dir "$T_LOG" "$@"; }
field() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"; }
in_group() {
  for f in /proc/[0-9]*; do
    [ "$(field "${f#/proc/}" 3)" = "$1" ] && return 0
  done
  return 1
}
"#;

/// Starts x, kills it, makes a canary take over its PID (ns_last_pid), optionally makes the
/// record's start time equal the canary's (a same-tick reuse), then runs status and stop.
const NS_REUSE: &str = r#"
s start x > "$T_WORK/start.out" 2>&1 || { echo "start=$?"; exit 0; }
P=$(cat "$T_STATE/x.pid")
# The whole group: a PID stays allocated while it names a live process group or session.
kill -9 "-$P"
n=0
while { [ -e "/proc/$P" ] || in_group "$P"; } && [ "$n" -lt 2000 ]; do /bin/true; n=$((n + 1)); done
{ [ -e "/proc/$P" ] || in_group "$P"; } && { echo unreaped; exit 0; }
echo $((P - 1)) > /proc/sys/kernel/ns_last_pid || { echo no-ns_last_pid; exit 0; }
if [ "$T_CANARY" = sh ]; then /bin/sh "$T_WORK/canary.sh" & else "$T_WORK/sleep" 1000 & fi
C=$!
[ "$C" = "$P" ] || { echo "noreuse $C $P"; exit 0; }
ST=$(field "$C" 20)
if [ "$T_PATCH" = 1 ]; then
  sed -i "s/\"start_ticks\"[[:space:]]*:[[:space:]]*[0-9][0-9]*/\"start_ticks\": $ST/" "$T_STATE/x.state"
  grep -Eq "\"start_ticks\": $ST([^0-9]|\$)" "$T_STATE/x.state" || { echo nopatch; cat "$T_STATE/x.state"; exit 0; }
fi
s status x > "$T_WORK/status.out" 2>&1; echo "status=$?"
s stop x > "$T_WORK/stop.out" 2>&1; echo "stop=$?"
echo "canary=$(field "$C" 1) start=$ST/$(field "$C" 20)"
"#;

fn ns_reuse(test: &str, same_tick: bool, envs: &[(&str, &str)], canary: &str) {
    if !pid_ns_available(test) {
        return;
    }
    let sb = Sandbox::new();
    sb.service("x", &format!("{}stop_timeout: 3\n", sb.sleeper("x")));
    sb.script(
        "canary.sh",
        "#!/bin/sh\nwhile :; do sleep 1 & wait $!; done\n",
    );
    sleep_copy(&sb, "sleep");
    let mut all: Vec<(&str, &str)> = envs.to_vec();
    all.push(("T_PATCH", if same_tick { "1" } else { "0" }));
    all.push(("T_CANARY", canary));
    let r = in_pid_ns(&sb, &all, &format!("{NS_PRELUDE}{NS_REUSE}"));
    let out = r.stdout.clone();
    if out.contains("no-ns_last_pid") {
        skip(
            test,
            &format!("/proc/sys/kernel/ns_last_pid is not writable: {}", r.stderr),
        );
        return;
    }
    assert!(
        !out.contains("noreuse") && !out.contains("unreaped"),
        "could not make the canary take over the daemon's PID: {out}"
    );
    let read = |f: &str| std::fs::read_to_string(sb.work.join(f)).unwrap_or_default();
    let ctx = format!(
        "script output:\n{out}\nstderr:\n{}\nstart: {}\nstatus: {}\nstop: {}",
        r.stderr,
        read("start.out"),
        read("status.out"),
        read("stop.out")
    );
    assert!(
        !out.lines().any(|l| l.starts_with("start=")),
        "svc start failed in the namespace\n{ctx}"
    );
    assert!(
        !out.contains("nopatch"),
        "record has no \"start_ticks\" number to patch\n{ctx}"
    );
    assert_eq!(r.code, 0, "namespace script died\n{ctx}");
    assert!(
        out.contains("status=1\n"),
        "status of a reused PID must be 1 (dead)\n{ctx}"
    );
    assert!(
        out.contains("stop=0\n"),
        "stop of a reused PID must exit 0\n{ctx}"
    );
    let canary = out
        .lines()
        .find_map(|l| l.strip_prefix("canary="))
        .unwrap_or_else(|| panic!("no canary line\n{ctx}"));
    let (state, times) = canary.split_once(" start=").unwrap();
    assert!(
        state == "S" || state == "R",
        "the canary that took over the PID was signalled (state {state:?})\n{ctx}"
    );
    let (a, b) = times.split_once('/').unwrap();
    assert_eq!(a, b, "the canary was replaced\n{ctx}");
}

#[test]
fn a1_reused_pid_in_pid_namespace() {
    ns_reuse("a1_reused_pid_in_pid_namespace", false, &[], "sh");
}

#[test]
fn a2_same_tick_reuse_same_executable() {
    // PID, boot id, start time and executable all match: only the pidfd inode tells them apart.
    ns_reuse("a2_same_tick_reuse_same_executable", true, &[], "sh");
}

#[test]
fn a2_same_tick_reuse_without_pidfd() {
    // Fallback: PID, boot id and start time match; the executable differs.
    ns_reuse("a2_same_tick_reuse_without_pidfd", true, NO_PIDFD, "sleep");
}

// ---------------------------------------------------------------------------------------------
// A3: garbage PID files.

#[test]
fn a3_garbage_pid_files_signal_nothing() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    // Both canaries run the service's executable: a lax parser that extracts their PID would
    // take them for the service.
    let a = Canary::spawn(&sb, &exe, &["1000"]);
    let b = Canary::spawn(&sb, &exe, &["1000"]);
    let me = std::process::id();
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (pa, pb) = (a.pid, b.pid);
    let mut big = format!("{pa}\n").into_bytes();
    big.resize(1 << 20, b' ');
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("abc".into(), b"abc\n".to_vec()),
        ("pid 1".into(), b"1\n".to_vec()),
        ("the test process".into(), format!("{me}\n").into_bytes()),
        (
            "the test's parent".into(),
            format!("{parent}\n").into_bytes(),
        ),
        ("12abc-style".into(), format!("{pa}abc\n").into_bytes()),
        ("leading space".into(), format!(" {pa}\n").into_bytes()),
        ("trailing space".into(), format!("{pa} \n").into_bytes()),
        ("plus sign".into(), format!("+{pa}\n").into_bytes()),
        ("minus sign".into(), format!("-{pa}\n").into_bytes()),
        ("leading zero".into(), format!("0{pa}\n").into_bytes()),
        ("two lines".into(), format!("{pa}\n{pb}\n").into_bytes()),
        ("two newlines".into(), format!("{pa}\n\n").into_bytes()),
        ("CRLF".into(), format!("{pa}\r\n").into_bytes()),
        ("trailing NUL".into(), format!("{pa}\0").into_bytes()),
        ("leading NUL".into(), format!("\0{pa}\n").into_bytes()),
        ("decimal point".into(), format!("{pa}.0\n").into_bytes()),
        ("hex".into(), format!("0x{pa:x}\n").into_bytes()),
        ("99999999999".into(), b"99999999999\n".to_vec()),
        ("2147483648".into(), b"2147483648\n".to_vec()),
        (
            "pid_max + 1".into(),
            format!("{}\n", pid_max + 1).into_bytes(),
        ),
        (
            "pid + 2^32".into(),
            format!("{}\n", pa as u64 + (1u64 << 32)).into_bytes(),
        ),
        (
            "pid + 2^64".into(),
            format!("{}\n", pa as u128 + (1u128 << 64)).into_bytes(),
        ),
        ("1 MiB".into(), big),
        ("1 MiB of digits".into(), vec![b'1'; 1 << 20]),
    ];

    let mut failures = Vec::new();
    for (label, content) in &cases {
        write_pidfile(&sb, "x", content);
        let st = svc_timeout(&sb, &[], &["status", "x"], HANG);
        if !(st.code == 1 || st.code == 4) || st.stderr.contains("panicked") {
            failures.push(format!(
                "{label}: status exit {} (want 1 or 4): {}{}",
                st.code, st.stdout, st.stderr
            ));
        }
        let sp = svc_timeout(&sb, &[], &["stop", "x"], HANG);
        if sp.code != 0 || sp.stderr.contains("panicked") {
            failures.push(format!(
                "{label}: stop exit {} (want 0): {}{}",
                sp.code, sp.stdout, sp.stderr
            ));
        }
        if pidfile_exists(&sb, "x") {
            failures.push(format!("{label}: stop left the stale PID file"));
        }
        a.assert_intact(label);
        b.assert_intact(label);
        assert!(alive(parent), "{label}: the test's parent was killed");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `0` and `-1` would signal a whole process group or every process: tried only inside a PID
/// namespace, whose canary sits in svc's own process group.
#[test]
fn a3_zero_and_minus_one_signal_nothing() {
    let test = "a3_zero_and_minus_one_signal_nothing";
    if !pid_ns_available(test) {
        return;
    }
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    let script = format!(
        "{NS_PRELUDE}\n\"$T_WORK/sleep\" 1000 & C=$!\nST=$(field \"$C\" 20)\n\
         s status x; echo \"status=$?\"\ns stop x; echo \"stop=$?\"\n\
         echo \"canary=$(field \"$C\" 1) start=$ST/$(field \"$C\" 20)\"\n"
    );
    for content in ["0\n", "-1\n", "0", "-1", "-0\n", "00\n"] {
        write_pidfile(&sb, "x", content.as_bytes());
        let r = in_pid_ns(&sb, &[], &script);
        let ctx = format!("PID file {content:?}:\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "namespace script died (signalled?)\n{ctx}");
        assert!(
            r.stdout.contains("status=1\n") || r.stdout.contains("status=4\n"),
            "status must be 1 or 4\n{ctx}"
        );
        assert!(r.stdout.contains("stop=0\n"), "stop must exit 0\n{ctx}");
        let canary = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("canary="))
            .unwrap_or_else(|| panic!("no canary line\n{ctx}"));
        let (state, times) = canary.split_once(" start=").unwrap();
        assert!(
            state == "S" || state == "R",
            "canary signalled ({state:?})\n{ctx}"
        );
        let (x, y) = times.split_once('/').unwrap();
        assert_eq!(x, y, "canary replaced\n{ctx}");
        assert!(
            !pidfile_exists(&sb, "x"),
            "stop left the stale PID file {content:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A4: the PID file is a symlink or not a regular file.

#[test]
fn a4_pidfile_symlink_to_a_file_is_not_followed_or_written_through() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    let target = sb.work.join("target");
    let content = format!("{}\n", c.pid);
    std::fs::write(&target, &content).unwrap();
    mkdir_755(&sb.state);
    std::os::unix::fs::symlink(&target, sb.pidfile("x")).unwrap();

    svc_timeout(&sb, &[], &["status", "x"], HANG)
        .code(1)
        .stdout_has("x is dead but pid file exists");
    let r = svc_timeout(&sb, &[], &["stop", "x"], HANG);
    assert_ne!(
        r.code, 0,
        "stop through a symlinked PID file succeeded: {}",
        r.stdout
    );
    c.assert_intact("stop");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        content,
        "target changed"
    );

    svc_timeout(&sb, &[], &["start", "x"], HANG).ok();
    let m = std::fs::symlink_metadata(sb.pidfile("x")).unwrap();
    assert!(m.file_type().is_file(), "start left a symlink as PID file");
    let new = sb.pid("x");
    assert_ne!(new, c.pid);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        content,
        "start wrote through the link"
    );
    sb.svc(["stop", "x"]).ok();
    assert!(!alive(new));
    c.assert_intact("start and stop");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), content);
}

#[test]
fn a4_pidfile_symlink_to_dev_zero_does_not_hang() {
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    mkdir_755(&sb.state);
    std::os::unix::fs::symlink("/dev/zero", sb.pidfile("x")).unwrap();
    svc_timeout(&sb, &[], &["status", "x"], HANG)
        .code(1)
        .no_panic();
    let r = svc_timeout(&sb, &[], &["stop", "x"], HANG);
    r.no_panic();
    assert_ne!(r.code, 0, "stop through /dev/zero succeeded");
    svc_timeout(&sb, &[], &["start", "x"], HANG).ok();
    assert!(std::fs::symlink_metadata(sb.pidfile("x"))
        .unwrap()
        .is_file());
    assert!(std::fs::metadata("/dev/zero")
        .unwrap()
        .file_type()
        .is_char_device());
    sb.svc(["stop", "x"]).ok();
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", p.display());
}

#[test]
fn a4_pidfile_symlink_to_fifo_does_not_hang() {
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    let fifo = sb.work.join("fifo");
    mkfifo(&fifo);
    mkdir_755(&sb.state);
    std::os::unix::fs::symlink(&fifo, sb.pidfile("x")).unwrap();
    svc_timeout(&sb, &[], &["status", "x"], HANG)
        .code(1)
        .no_panic();
    let r = svc_timeout(&sb, &[], &["stop", "x"], HANG);
    r.no_panic();
    assert_ne!(r.code, 0, "stop through a FIFO succeeded");
    svc_timeout(&sb, &[], &["start", "x"], HANG).ok();
    assert!(std::fs::symlink_metadata(sb.pidfile("x"))
        .unwrap()
        .is_file());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    sb.svc(["stop", "x"]).ok();
}

#[test]
fn a4_pidfile_that_is_a_fifo_does_not_hang() {
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    mkdir_755(&sb.state);
    mkfifo(&sb.pidfile("x"));
    svc_timeout(&sb, &[], &["status", "x"], HANG)
        .code(1)
        .no_panic();
    let r = svc_timeout(&sb, &[], &["stop", "x"], HANG);
    assert_ne!(r.code, 0, "stop with a FIFO as PID file succeeded");
    svc_timeout(&sb, &[], &["start", "x"], HANG).ok();
    assert!(std::fs::symlink_metadata(sb.pidfile("x"))
        .unwrap()
        .is_file());
    sb.svc(["stop", "x"]).ok();
}

// ---------------------------------------------------------------------------------------------
// A5: PID files (and state directories) others can write.

fn a5_refused(sb: &Sandbox, c: &Canary, what: &str) {
    let st = svc_timeout(sb, &[], &["status", "x"], HANG);
    assert_ne!(st.code, 0, "{what}: status trusted it:\n{}", st.stdout);
    let sp = svc_timeout(sb, &[], &["stop", "x"], HANG);
    assert_ne!(
        sp.code, 0,
        "{what}: stop exited 0:\n{}{}",
        sp.stdout, sp.stderr
    );
    assert!(!sp.stderr.is_empty(), "{what}: stop gave no error");
    c.assert_intact(what);
}

#[test]
fn a5_world_writable_pid_file_is_refused() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    std::fs::set_permissions(sb.pidfile("x"), std::fs::Permissions::from_mode(0o666)).unwrap();
    sb.svc(["status", "x"])
        .code(1)
        .stdout_has("dead but pid file exists");
    a5_refused(&sb, &c, "mode 0666");
}

#[test]
fn a5_pid_file_owned_by_nobody_is_refused() {
    if skip_unless_root("a5_pid_file_owned_by_nobody_is_refused") {
        return;
    }
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    std::os::unix::fs::chown(sb.pidfile("x"), Some(65534), Some(65534)).unwrap();
    sb.svc(["status", "x"]).code(1);
    a5_refused(&sb, &c, "owner nobody");

    // Group-writable by a non-root group.
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    std::os::unix::fs::chown(sb.pidfile("x"), Some(0), Some(65534)).unwrap();
    std::fs::set_permissions(sb.pidfile("x"), std::fs::Permissions::from_mode(0o664)).unwrap();
    a5_refused(&sb, &c, "group-writable by nogroup");
}

#[test]
fn a5_state_directory_writable_by_others_is_refused() {
    if skip_unless_root("a5_state_directory_writable_by_others_is_refused") {
        return;
    }
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    write_pidfile(&sb, "x", format!("{}\n", c.pid).as_bytes());
    std::fs::set_permissions(&sb.state, std::fs::Permissions::from_mode(0o777)).unwrap();
    a5_refused(&sb, &c, "state directory mode 0777");
}

// ---------------------------------------------------------------------------------------------
// A6: the PID file is a hard link to another file.

#[test]
fn a6_hard_linked_pid_file_is_not_followed_or_written_through() {
    let sb = Sandbox::new();
    let exe = sleep_service(&sb, "x");
    let c = Canary::spawn(&sb, &exe, &["1000"]);
    let secret = sb.work.join("secret");
    let content = format!("{}\n", c.pid);
    std::fs::write(&secret, &content).unwrap();
    mkdir_755(&sb.state);
    std::fs::hard_link(&secret, sb.pidfile("x")).unwrap();

    sb.svc(["status", "x"]).code(1);
    let r = sb.svc(["stop", "x"]);
    assert_ne!(r.code, 0, "stop followed a hard-linked PID file");
    c.assert_intact("stop");

    sb.svc(["start", "x"]).ok();
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        content,
        "start wrote through the link"
    );
    assert_eq!(
        std::fs::metadata(&secret).unwrap().nlink(),
        1,
        "PID file still linked"
    );
    let new = sb.pid("x");
    assert_ne!(new, c.pid);
    assert!(alive(new));
    sb.svc(["stop", "x"]).ok();
    c.assert_intact("start and stop");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), content);
}

// ---------------------------------------------------------------------------------------------
// A8: a record from a previous boot.

#[test]
fn a8_record_from_previous_boot_is_stale() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    let pid = start_sleeper(&sb, "x");
    // After a reboot no cgroup of svc's holds the process a stale record names.
    leave_service_cgroup(pid);
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let other = if boot.starts_with('0') {
        "11111111-1111-4111-8111-111111111111"
    } else {
        "00000000-0000-4000-8000-000000000000"
    };
    patch_record(&sb, "x", |r| {
        assert!(r.contains_key("boot_id"), "record has no boot_id: {r:?}");
        r.insert("boot_id".into(), other.into());
    });
    let st = sb.svc(["status", "x"]);
    assert!(
        st.code == 1 || st.code == 3,
        "status of a previous boot's record: exit {} (want 1 or 3)\n{}",
        st.code,
        st.stdout
    );
    assert!(!st.stdout.contains("is running"), "{}", st.stdout);
    sb.svc(["stop", "x"]).ok();
    assert!(
        alive(pid),
        "stop signalled a process named by a previous boot's record"
    );
    assert!(!sb.work.join("x.term").exists(), "the process got TERM");
}

// ---------------------------------------------------------------------------------------------
// A9: the PID names a zombie.

#[test]
fn a9_pid_file_naming_a_zombie_stop_returns_promptly() {
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    // stop_timeout is long: a stop that waits on the zombie would take 30 s.
    sb.service(
        "x",
        &format!(
            "exec: {}\nargs: [\"1000\"]\nstop_timeout: 30\n",
            sb.work.join("sleep").display()
        ),
    );
    // The test process is the parent that does not reap: the child stays a zombie until the
    // guard waits for it.
    let zombie = Canary::spawn(&sb, Path::new("/bin/true"), &[]);
    let z = zombie.pid;
    wait_until(
        T,
        "the child to become a zombie",
        || matches!(proc_stat(z), Some(s) if s.state == 'Z'),
    );
    write_pidfile(&sb, "x", format!("{z}\n").as_bytes());

    let st = svc_timeout(&sb, &[], &["status", "x"], HANG);
    assert!(
        st.code == 1 || st.code == 3,
        "status of a zombie: exit {}\n{}",
        st.code,
        st.stdout
    );
    let t0 = Instant::now();
    svc_timeout(&sb, &[], &["stop", "x"], Duration::from_secs(40)).ok();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop of a zombie took {:?}",
        t0.elapsed()
    );
    assert!(
        matches!(proc_stat(z), Some(s) if s.state == 'Z'),
        "the zombie was reaped or replaced"
    );
    drop(zombie);
}

/// A PID namespace whose init (a sleep) never reaps: a service process that ends there stays a
/// zombie, with svc's record still matching it. svc runs inside it through nsenter.
struct NonReapingNs {
    unshare: Child,
    init: i32,
}

impl NonReapingNs {
    fn new(sb: &Sandbox) -> NonReapingNs {
        let exe = sb.work.join("sleep");
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(&exe)
            .arg("1000")
            .current_dir(&sb.work)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let parent = unshare.id() as i32;
        let mut init = 0;
        wait_until(T, "the namespace init to run sleep", || {
            init = all_pids()
                .into_iter()
                .find(|p| proc_stat(*p).is_some_and(|s| s.ppid == parent))
                .unwrap_or(0);
            init > 0 && std::fs::read_link(format!("/proc/{init}/exe")).is_ok_and(|l| l == exe)
        });
        NonReapingNs { unshare, init }
    }

    /// Runs a command inside the namespace (its PID and mount namespaces).
    fn run(&self, envs: &[(&str, &str)], argv: &[&str]) -> Run {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.init.to_string())
            .args(["-p", "-m", "--"])
            .args(argv)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            c.env(k, v);
        }
        run_timeout(
            c,
            argv.iter().map(|s| s.to_string()).collect(),
            Duration::from_secs(40),
        )
    }

    fn svc(&self, sb: &Sandbox, envs: &[(&str, &str)], args: &[&str]) -> Run {
        let dirs = [
            SVC,
            "--config-dir",
            sb.config.to_str().unwrap(),
            "--state-dir",
            sb.state.to_str().unwrap(),
            "--log-dir",
            sb.log.to_str().unwrap(),
        ];
        let mut argv: Vec<&str> = dirs.to_vec();
        argv.extend_from_slice(args);
        let mut r = self.run(envs, &argv);
        r.args = args.iter().map(|s| s.to_string()).collect();
        r
    }

    /// The host PID of the namespace's PID `ns_pid`.
    fn host_pid(&self, ns_pid: i32) -> Option<i32> {
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", self.init)).ok()?;
        all_pids().into_iter().find(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns)
                && std::fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|st| {
                    st.lines()
                        .find_map(|l| l.strip_prefix("NSpid:"))
                        .and_then(|v| v.split_whitespace().last())
                        == Some(ns_pid.to_string().as_str())
                })
        })
    }
}

impl Drop for NonReapingNs {
    fn drop(&mut self) {
        // SAFETY: SIGKILL to the namespace init we started ends every process inside it.
        unsafe {
            libc::kill(self.init, libc::SIGKILL);
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn a9_service_zombie_case(envs: &[(&str, &str)]) {
    let sb = Sandbox::new();
    sleep_copy(&sb, "sleep");
    sb.service("x", &format!("{}stop_timeout: 30\n", sb.sleeper("x")));
    let ns = NonReapingNs::new(&sb);

    // 1. The service process dies behind svc's back and stays a zombie.
    ns.svc(&sb, envs, &["start", "x"]).ok();
    let p = sb.pid("x");
    let host = ns.host_pid(p).expect("host PID of the daemon");
    ns.run(&[], &["/bin/kill", "-KILL", &p.to_string()]).ok();
    wait_until(
        T,
        "the daemon to be a zombie",
        || matches!(proc_stat(host), Some(s) if s.state == 'Z'),
    );
    ns.svc(&sb, envs, &["status", "x"])
        .code(1)
        .stdout_has("x is dead but pid file exists");
    let t0 = Instant::now();
    ns.svc(&sb, envs, &["stop", "x"]).ok();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop of a zombie took {:?}",
        t0.elapsed()
    );
    ns.svc(&sb, envs, &["status", "x"]).code(3);

    // 2. A normal stop: the daemon exits on TERM and stays a zombie; stop sees it as gone.
    std::fs::remove_file(sb.work.join("x.started")).unwrap();
    ns.svc(&sb, envs, &["start", "x"]).ok();
    let p = sb.pid("x");
    let host = ns.host_pid(p).expect("host PID of the daemon");
    wait_for_file(&sb.work.join("x.started"), T);
    let t0 = Instant::now();
    ns.svc(&sb, envs, &["stop", "x"]).ok();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop of a daemon that became a zombie took {:?}",
        t0.elapsed()
    );
    assert!(
        sb.work.join("x.term").exists(),
        "the daemon did not get TERM"
    );
    assert!(
        matches!(proc_stat(host), Some(s) if s.state == 'Z'),
        "setup: the daemon should remain a zombie in the namespace"
    );
    ns.svc(&sb, envs, &["status", "x"]).code(3);
}

#[test]
fn a9_service_process_left_as_zombie() {
    if pid_ns_available("a9_service_process_left_as_zombie") {
        a9_service_zombie_case(&[]);
    }
}

#[test]
fn a9_service_process_left_as_zombie_without_pidfd() {
    if pid_ns_available("a9_service_process_left_as_zombie_without_pidfd") {
        a9_service_zombie_case(NO_PIDFD);
    }
}

// ---------------------------------------------------------------------------------------------
// A10: foreign processes.

#[test]
fn a10_pid_2_kernel_thread_is_not_the_service() {
    let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
    if comm.trim() != "kthreadd" {
        skip(
            "a10_pid_2_kernel_thread_is_not_the_service",
            &format!("PID 2 is {comm:?}"),
        );
        return;
    }
    let sb = Sandbox::new();
    sleep_service(&sb, "x");
    write_pidfile(&sb, "x", b"2\n");
    sb.svc(["status", "x"])
        .code(1)
        .stdout_has("dead but pid file exists");
    sb.svc(["stop", "x"]).ok();
    assert!(Path::new("/proc/2").exists());
}

#[test]
fn a10_another_services_process_is_not_the_service() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("b", &sb.sleeper("b"));
    let a = start_sleeper(&sb, "a");
    write_pidfile(&sb, "b", format!("{a}\n").as_bytes());
    sb.svc(["status", "b"]).code(1);
    sb.svc(["stop", "b"]).ok();
    assert!(alive(a), "stop b killed a");
    assert!(!sb.work.join("a.term").exists(), "stop b sent TERM to a");
    sb.svc(["status", "a"]).ok();
    sb.svc(["stop", "a"]).ok();
}

// ---------------------------------------------------------------------------------------------
// A11: the executable is replaced while the service runs.

fn a11_case(envs: &[(&str, &str)]) {
    let sb = Sandbox::new();
    let exe = sleep_copy(&sb, "mysleep");
    sb.service(
        "x",
        &format!(
            "exec: {}\nargs: [\"1000\"]\nstop_timeout: 3\n",
            exe.display()
        ),
    );
    svc_env(&sb, envs, &["start", "x"]).ok();
    let pid = sb.pid("x");
    // Replace the file (a package upgrade): rename a new file over it.
    let new = sb.work.join("mysleep.new");
    std::fs::copy("/bin/true", &new).unwrap();
    std::fs::rename(&new, &exe).unwrap();
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        link.to_string_lossy().ends_with("(deleted)"),
        "{}",
        link.display()
    );

    svc_env(&sb, envs, &["status", "x"])
        .ok()
        .stdout_has(&format!("x is running (pid {pid}"));
    svc_env(&sb, envs, &["stop", "x"]).ok();
    assert!(
        !alive(pid),
        "stop left the process whose binary was replaced"
    );
    svc_env(&sb, envs, &["status", "x"]).code(3);
}

#[test]
fn a11_binary_replaced_while_running() {
    a11_case(&[]);
}

#[test]
fn a11_binary_replaced_while_running_without_pidfd() {
    a11_case(NO_PIDFD);
}

// ---------------------------------------------------------------------------------------------
// A12: hostile command names in /proc/PID/stat.

#[test]
fn a12_hostile_comm_is_parsed_from_the_last_paren() {
    for envs in [&[][..], NO_PIDFD] {
        // The second name makes a parser that stops at the first ')' read state "Z".
        for file in ["a) b (c", "x) Z 1 1 (y"] {
            let sb = Sandbox::new();
            let exe = sleep_copy(&sb, file);
            sb.service(
                "x",
                &format!(
                    "exec: \"{}\"\nargs: [\"1000\"]\nstop_timeout: 3\n",
                    exe.display()
                ),
            );
            svc_env(&sb, envs, &["start", "x"]).ok();
            let pid = sb.pid("x");
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
            assert_eq!(comm.trim_end(), file, "comm of the daemon");
            svc_env(&sb, envs, &["status", "x"])
                .ok()
                .stdout_has(&format!("x is running (pid {pid}"));
            svc_env(&sb, envs, &["stop", "x"]).ok();
            assert!(!alive(pid), "{file:?} {envs:?}: stop left the daemon");
            svc_env(&sb, envs, &["status", "x"]).code(3);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The non-pidfd fallback (SVC_NO_PIDFD=1) does the whole lifecycle correctly.

#[test]
fn fallback_without_pidfd_start_status_stop() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    // Takes a moment to exit after TERM: stop must wait for the exit itself.
    let script = sb.script(
        "slow.sh",
        &format!(
            "#!/bin/sh\ntrap 'sleep 0.5; echo done > {w}/slow.done; exit 0' TERM\necho $$ > {w}/slow.started\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service(
        "slow",
        &format!("exec: {}\nstop_timeout: 5\n", script.display()),
    );
    svc_env(&sb, NO_PIDFD, &["start", "slow"])
        .ok()
        .stdout_has("[ OK ]");
    let pid = sb.pid("slow");
    wait_for_file(&sb.work.join("slow.started"), T);
    let st = proc_stat(pid).expect("daemon stat");
    assert_eq!(st.session, pid, "daemon does not lead its session");
    svc_env(&sb, NO_PIDFD, &["status", "slow"])
        .ok()
        .stdout_has(&format!("slow is running (pid {pid}"));
    svc_env(&sb, NO_PIDFD, &["start", "slow"])
        .ok()
        .stdout_has("already running");
    assert_eq!(sb.pid("slow"), pid);

    svc_env(&sb, NO_PIDFD, &["stop", "slow"]).ok();
    assert!(
        sb.work.join("slow.done").exists(),
        "stop returned before the daemon finished"
    );
    assert!(!alive(pid), "daemon alive after stop");
    assert!(
        group_members(pid).is_empty(),
        "process group not empty after stop"
    );
    svc_env(&sb, NO_PIDFD, &["status", "slow"]).code(3);
    svc_env(&sb, NO_PIDFD, &["stop", "slow"]).ok();
}

/// A7: the state directory is a symlink to a directory every user can write (the
/// CVE-2018-21269 class). As root svc refuses it: start fails, nothing is created there, and
/// no daemon runs.
#[test]
fn a7_state_dir_symlinked_to_a_writable_directory_is_refused() {
    if skip_unless_root("a7_state_dir_symlinked_to_a_writable_directory_is_refused") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let evil = sb.work.join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(&evil, &sb.state).unwrap();
    sb.service("x", &sb.sleeper("x"));
    let r = sb.svc(["start", "x"]);
    assert_ne!(r.code, 0, "start through a symlinked state dir succeeded");
    r.stderr_has("refusing").no_panic();
    assert_eq!(
        std::fs::read_dir(&evil).unwrap().count(),
        0,
        "svc created files in the other users' directory"
    );
    assert!(
        !sb.work.join("x.started").exists(),
        "the daemon ran although its state could not be kept"
    );
}
