//! Daemons whose process name (comm) is not UTF-8: a process may set any bytes with
//! prctl(PR_SET_NAME), and the kernel writes them raw into /proc/PID/stat.

use crate::util::*;
use std::time::Duration;

/// Regression: svc read /proc/PID/stat as UTF-8, so a daemon that renamed itself with a
/// non-UTF-8 name looked gone: `status` said dead while it ran, and `stop` signalled nothing
/// and left it running; `status --json` gave no `rss_kib`.
#[test]
fn a_daemon_with_a_non_utf8_name_is_seen_and_stopped() {
    let sb = Sandbox::new();
    let named = sb.path().join("work/named");
    let script = sb.script(
        "rename.py",
        &format!(
            "#!/usr/bin/python3\nimport ctypes, signal\n\
             ctypes.CDLL(None).prctl(15, b'd\\xe6mon', 0, 0, 0)\n\
             open({:?}, 'w').write('x')\nwhile True:\n    signal.pause()\n",
            named.display().to_string()
        ),
    );
    sb.service("weird", &format!("exec: {}\n", script.display()));
    sb.svc(["start", "weird"]).ok();
    wait_for_file(&named, Duration::from_secs(10));
    let pid = sb.pid("weird");
    let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm, b"d\xe6mon\n", "the daemon renamed itself");
    sb.svc(["status", "weird"]).ok().stdout_has("running");
    let json: serde_json::Value =
        serde_json::from_str(&sb.svc(["status", "--json", "weird"]).ok().stdout).unwrap();
    let row = &json.as_array().expect("a list")[0];
    assert!(row["rss_kib"].as_u64().is_some_and(|k| k > 0), "{row}");
    sb.svc(["stop", "weird"]).ok();
    wait_until(Duration::from_secs(10), "the daemon to be gone", || {
        !alive(pid)
    });
}
