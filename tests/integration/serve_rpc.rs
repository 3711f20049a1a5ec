//! `POST /RPC2`, supervisord's XML-RPC interface (SPEC §10), with clients nobody here wrote:
//! Python's `xmlrpc.client` for every method, every fault code svc answers and
//! `system.multicall`; PyPI's `supervisorctl` (`status`, `start`, `stop`, `restart`, `signal`,
//! `tail`, `pid`) over the UNIX socket and over TCP with credentials.

use crate::util::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The test fleet:
/// - `web`: running, says hello in its log, records SIGHUP in work/web.hup and SIGTERM;
/// - `db`: a stopped sleeper; `quiet`: running with `log: none`;
/// - `broken`: not executable, so it cannot be started; `job`: a one-shot that ran;
/// - `sock`: a `socket:` service, never a process.
fn fleet(sb: &Sandbox) {
    let w = sb.work.display();
    let web = sb.script(
        "web.sh",
        &format!(
            "#!/bin/sh\ntrap 'echo hup >> {w}/web.hup' HUP\ntrap 'echo term > {w}/web.term; exit 0' TERM\n\
             echo $$ > {w}/web.started\necho hello from web\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service("web", &format!("exec: {}\n", web.display()));
    sb.service("db", &sb.sleeper("db"));
    sb.service("quiet", &format!("{}log: none\n", sb.sleeper("quiet")));
    // Not executable: its start fails at exec, every time.
    let broken = sb.work.join("broken.sh");
    std::fs::write(&broken, "#!/bin/sh\nexit 3\n").unwrap();
    sb.service("broken", &format!("exec: {}\n", broken.display()));
    sb.service("job", "exec: /bin/true\noneshot: true\n");
    let port = free_port();
    sb.service(
        "sock",
        &format!("exec: /bin/cat\nsocket: {{ port: {port}, bind: 127.0.0.1 }}\n"),
    );
    sb.svc(["start", "web"]).ok();
    sb.svc(["start", "quiet"]).ok();
    sb.svc(["start", "job"]).ok();
    wait_for_file(&sb.work.join("web.started"), T);
    wait_until(T, "web's hello in its log", || {
        std::fs::read_to_string(sb.logfile("web")).is_ok_and(|l| l.contains("hello from web"))
    });
}

/// Python's xmlrpc.client at `url`: every method and fault, each result recorded as
/// `{"ok": value}` or `{"fault": code, "text": faultString}`, printed as one JSON object.
const CLIENT: &str = r#"
import json, sys, xmlrpc.client as x
p = x.ServerProxy(sys.argv[1])
out = {}
def rec(label, f):
    try:
        out[label] = {"ok": f()}
    except x.Fault as e:
        out[label] = {"fault": e.faultCode, "text": e.faultString}
s = p.supervisor
rec("getAPIVersion", lambda: s.getAPIVersion())
rec("getVersion", lambda: s.getVersion())
rec("getSupervisorVersion", lambda: s.getSupervisorVersion())
rec("getIdentification", lambda: s.getIdentification())
rec("getState", lambda: s.getState())
rec("getPID", lambda: s.getPID())
rec("all", lambda: s.getAllProcessInfo())
rec("info web", lambda: s.getProcessInfo("web"))
rec("info web:web", lambda: s.getProcessInfo("web:web"))
rec("info web:*", lambda: s.getProcessInfo("web:*"))
rec("info sock", lambda: s.getProcessInfo("sock"))
rec("info nosuch", lambda: s.getProcessInfo("nosuch"))
rec("info 5", lambda: s.getProcessInfo(5))
rec("info no args", lambda: s.getProcessInfo())
rec("nosuch method", lambda: s.frobnicate())
rec("getPID extra", lambda: s.getPID(1))
rec("start db", lambda: s.startProcess("db"))
rec("start db again", lambda: s.startProcess("db", True))
rec("info db", lambda: s.getProcessInfo("db"))
rec("start broken", lambda: s.startProcess("broken"))
rec("start sock", lambda: s.startProcess("sock"))
rec("stop db", lambda: s.stopProcess("db:db"))
rec("stop db again", lambda: s.stopProcess("db"))
rec("signal web HUP", lambda: s.signalProcess("web", "HUP"))
rec("signal web NOPE", lambda: s.signalProcess("web", "NOPE"))
rec("signal db", lambda: s.signalProcess("db", "HUP"))
rec("signal group", lambda: s.signalProcessGroup("web", "HUP"))
rec("read web", lambda: s.readProcessStdoutLog("web", -1600, 0))
rec("read web bad", lambda: s.readProcessStdoutLog("web", -10, 5))
rec("read quiet", lambda: s.readProcessStdoutLog("quiet", 0, 0))
rec("read stderr", lambda: s.readProcessStderrLog("web", 0, 0))
rec("tail web", lambda: s.tailProcessStdoutLog("web", 0, 5))
rec("readLog", lambda: s.readLog(0, 0))
rec("clear", lambda: s.clearProcessLogs("web"))
rec("listMethods", lambda: p.system.listMethods())
rec("methodHelp", lambda: p.system.methodHelp("supervisor.getPID"))
rec("methodHelp nosuch", lambda: p.system.methodHelp("no.such"))
rec("methodSignature", lambda: p.system.methodSignature("supervisor.getProcessInfo"))
rec("multicall", lambda: p.system.multicall([
    {"methodName": "supervisor.getAPIVersion", "params": []},
    {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
    {"methodName": "system.multicall", "params": [[]]},
    {"params": []},
]))
rec("startAll", lambda: s.startAllProcesses())
rec("stopAll", lambda: s.stopAllProcesses())
print(json.dumps(out))
"#;

/// Runs [`CLIENT`] against `url`: its JSON.
fn python_client(url: &str) -> Value {
    let mut c = Command::new("python3");
    c.arg("-c").arg(CLIENT).arg(url).stdin(Stdio::null());
    let run = output(c, vec!["python3 client".into()], Duration::from_secs(120));
    assert_eq!(
        run.code, 0,
        "python3's client failed\n{}\n{}",
        run.stdout, run.stderr
    );
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

#[track_caller]
fn ok<'a>(out: &'a Value, label: &str) -> &'a Value {
    out[label]
        .get("ok")
        .unwrap_or_else(|| panic!("{label}: {}", out[label]))
}

#[track_caller]
fn fault(out: &Value, label: &str, code: i64) {
    assert_eq!(out[label]["fault"], json!(code), "{label}: {}", out[label]);
}

#[test]
fn xmlrpc_client_every_method_fault_and_multicall() {
    let sb = Sandbox::new();
    fleet(&sb);
    let port = free_port();
    serve_settings(&sb, port);
    let serve = Serve::start(&sb, &[]);
    let url = format!(
        "http://{SERVE_USER}:{}@127.0.0.1:{port}/RPC2",
        SERVE_PASSWORD.replace(' ', "%20")
    );
    let out = python_client(&url);

    assert_eq!(ok(&out, "getAPIVersion"), "3.0");
    assert_eq!(ok(&out, "getVersion"), "3.0");
    assert_eq!(ok(&out, "getSupervisorVersion"), env!("CARGO_PKG_VERSION"));
    assert_eq!(ok(&out, "getIdentification"), "svc");
    assert_eq!(
        ok(&out, "getState"),
        &json!({"statecode": 1, "statename": "RUNNING"})
    );
    assert_eq!(ok(&out, "getPID"), &json!(serve.pid()));

    // Every process but the socket: service, in name order, with supervisord's states.
    let all: Vec<(String, String)> = ok(&out, "all")
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["statename"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = fleet_states();
    assert_eq!(all, want, "{}", out["all"]);

    let web = ok(&out, "info web");
    let pid = std::fs::read_to_string(sb.work.join("web.started")).unwrap();
    assert_eq!(
        web["pid"],
        json!(pid.trim().parse::<i64>().unwrap()),
        "{web}"
    );
    assert_eq!(web["group"], "web");
    assert_eq!(web["state"], 20);
    let desc = web["description"].as_str().unwrap();
    assert!(
        desc.starts_with(&format!("pid {}, uptime 0:0", pid.trim())),
        "{desc}"
    );
    assert_eq!(
        web["stdout_logfile"],
        json!(sb.logfile("web").display().to_string())
    );
    for key in [
        "start",
        "stop",
        "now",
        "spawnerr",
        "exitstatus",
        "logfile",
        "stderr_logfile",
    ] {
        assert!(web.get(key).is_some(), "no {key} in {web}");
    }
    assert_eq!(ok(&out, "info web:web")["pid"], web["pid"]);
    for bad in ["info web:*", "info sock", "info nosuch"] {
        fault(&out, bad, 10);
    }
    fault(&out, "info 5", 3);
    fault(&out, "info no args", 2);
    fault(&out, "nosuch method", 1);
    fault(&out, "getPID extra", 2);

    assert_eq!(ok(&out, "start db"), true);
    fault(&out, "start db again", 60);
    assert_eq!(ok(&out, "info db")["statename"], "RUNNING");
    fault(&out, "start broken", 50);
    fault(&out, "start sock", 10);
    assert_eq!(ok(&out, "stop db"), true);
    fault(&out, "stop db again", 70);
    wait_for_file(&sb.work.join("db.term"), T);

    assert_eq!(ok(&out, "signal web HUP"), true);
    fault(&out, "signal web NOPE", 11);
    fault(&out, "signal db", 70);
    assert_eq!(
        ok(&out, "signal group"),
        &json!([{"name": "web", "group": "web", "status": 80, "description": "OK"}])
    );
    wait_until(T, "web's HUP trap", || {
        std::fs::read_to_string(sb.work.join("web.hup")).is_ok_and(|h| h.contains("hup"))
    });

    assert!(
        ok(&out, "read web")
            .as_str()
            .unwrap()
            .contains("hello from web"),
        "{}",
        out["read web"]
    );
    fault(&out, "read web bad", 3);
    fault(&out, "read quiet", 20);
    fault(&out, "read stderr", 20);
    fault(&out, "readLog", 20);
    fault(&out, "clear", 30);
    // [the last 5 bytes, the log's size, overflow]: the log held at least the hello line.
    let size = std::fs::metadata(sb.logfile("web")).unwrap().len();
    let tail = ok(&out, "tail web");
    let offset = tail[1].as_u64().unwrap_or(0);
    assert!(offset >= 15 && offset <= size, "{tail} (log size {size})");
    assert_eq!(tail[2], true, "{tail}");
    assert_eq!(tail[0].as_str().map(str::len), Some(5), "{tail}");

    let methods = ok(&out, "listMethods").as_array().unwrap();
    for m in [
        "supervisor.getAPIVersion",
        "supervisor.getVersion",
        "supervisor.getSupervisorVersion",
        "supervisor.getIdentification",
        "supervisor.getState",
        "supervisor.getPID",
        "supervisor.getAllProcessInfo",
        "supervisor.getProcessInfo",
        "supervisor.startProcess",
        "supervisor.stopProcess",
        "supervisor.signalProcess",
        "supervisor.startAllProcesses",
        "supervisor.stopAllProcesses",
        "supervisor.readProcessStdoutLog",
        "supervisor.tailProcessStdoutLog",
        "supervisor.readLog",
        "system.listMethods",
        "system.methodHelp",
        "system.multicall",
    ] {
        assert!(methods.contains(&json!(m)), "{m} not in {methods:?}");
    }
    assert!(ok(&out, "methodHelp").as_str().unwrap().contains("PID"));
    fault(&out, "methodHelp nosuch", 4);
    assert_eq!(ok(&out, "methodSignature"), &json!(["struct", "string"]));
    assert_eq!(
        ok(&out, "multicall"),
        &json!([
            "3.0",
            {"faultCode": 10, "faultString": "BAD_NAME: nosuch"},
            {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"},
            {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: No methodName"},
        ])
    );

    // start all: each process that does not run, one result each: SUCCESS 80, SPAWN_ERROR 50,
    // and ALREADY_STARTED 60 for the one-shot that ran (EXITED to supervisorctl; `svc start`
    // does not run a done one-shot again).
    let started = ok(&out, "startAll").as_array().unwrap();
    let codes: Vec<(&str, i64)> = started
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [("broken", 50), ("db", 80), ("job", 60)],
        "{started:?}"
    );
    let stopped = ok(&out, "stopAll").as_array().unwrap();
    let names: Vec<&str> = stopped
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "quiet", "web"], "{stopped:?}");
    assert!(stopped.iter().all(|r| r["status"] == 80), "{stopped:?}");
    sb.svc(["status", "web"]).code(3);

    // A body that is not a methodCall: a fault, and the server goes on answering.
    let a = http_tcp(
        port,
        "POST",
        "/RPC2",
        Some((SERVE_USER, SERVE_PASSWORD)),
        b"<methodCall><oops",
    );
    assert!(
        a.body.contains("<fault>") && a.body.contains("<int>3</int>"),
        "{a:?}"
    );
    let a = http_unix(
        &serve,
        "POST",
        "/RPC2",
        b"<methodCall><methodName>supervisor.getVersion</methodName></methodCall>",
    );
    assert!(
        a.status == 200 && a.body.contains("<string>3.0</string>"),
        "{a:?}"
    );
    serve.stop().ok();
}

/// `supervisorctl -s URL ARGS` (the test credentials over TCP), waited for with a deadline.
fn ctl(exe: &Path, url: &str, args: &[&str]) -> Run {
    let mut c = Command::new(exe);
    c.arg("-s").arg(url);
    if url.starts_with("http:") {
        c.args(["-u", SERVE_USER, "-p", SERVE_PASSWORD]);
    }
    c.args(args).stdin(Stdio::null());
    let mut shown = vec!["supervisorctl".to_string()];
    shown.extend(display_args(args));
    output(c, shown, Duration::from_secs(60))
}

/// `supervisorctl status`: (name, state) of each line.
fn statuses(run: &Run) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// What every process of the test fleet is before anything is asked, as supervisord names it.
fn fleet_states() -> Vec<(String, String)> {
    [
        ("broken", "STOPPED"),
        ("db", "STOPPED"),
        ("job", "EXITED"),
        ("quiet", "RUNNING"),
        ("web", "RUNNING"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Every supervisorctl command of the issue against `url`.
fn supervisorctl_drives(sb: &Sandbox, serve: &Serve, exe: &Path, url: &str) {
    let status = ctl(exe, url, &["status"]);
    let want = fleet_states();
    assert_eq!(
        statuses(&status),
        want,
        "{}\n{}",
        status.stdout,
        status.stderr
    );
    // supervisorctl's exit status: 3 when a listed process is stopped.
    status.code(3);
    assert!(status.stdout.contains("Not started"), "{}", status.stdout);
    ctl(exe, url, &["status", "sock"]).stdout_has("sock: ERROR (no such process)");

    ctl(exe, url, &["start", "db"])
        .ok()
        .stdout_has("db: started");
    wait_for_file(&sb.work.join("db.started"), T);
    sb.svc(["status", "db"]).ok();
    ctl(exe, url, &["start", "db"]).stdout_has("db: ERROR (already started)");
    ctl(exe, url, &["start", "broken"]).stdout_has("broken: ERROR (spawn error)");
    ctl(exe, url, &["stop", "db"])
        .ok()
        .stdout_has("db: stopped");
    wait_for_file(&sb.work.join("db.term"), T);
    sb.svc(["status", "db"]).code(3);
    ctl(exe, url, &["stop", "db"]).stdout_has("db: ERROR (not running)");

    let before = std::fs::read_to_string(sb.work.join("web.started")).unwrap();
    ctl(exe, url, &["restart", "web"])
        .ok()
        .stdout_has("web: stopped")
        .stdout_has("web: started");
    wait_until(T, "web's new PID", || {
        std::fs::read_to_string(sb.work.join("web.started")).is_ok_and(|p| p != before)
    });
    let web_pid = sb.pid("web");
    assert_eq!(
        std::fs::read_to_string(sb.work.join("web.started"))
            .unwrap()
            .trim(),
        web_pid.to_string()
    );

    let hups = || {
        std::fs::read_to_string(sb.work.join("web.hup"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = hups();
    ctl(exe, url, &["signal", "HUP", "web"])
        .ok()
        .stdout_has("web: signalled");
    wait_until(T, "web's HUP trap", || hups() > before);
    ctl(exe, url, &["signal", "HUP", "db"]).stdout_has("db: ERROR (not running)");

    ctl(exe, url, &["tail", "web"])
        .ok()
        .stdout_has("hello from web");
    ctl(exe, url, &["tail", "quiet"]).stdout_has("quiet: ERROR (no log file)");

    let pid = ctl(exe, url, &["pid"]);
    assert_eq!(pid.stdout.trim(), serve.pid().to_string(), "{}", pid.stderr);
    let pid = ctl(exe, url, &["pid", "web"]);
    assert_eq!(pid.stdout.trim(), web_pid.to_string(), "{}", pid.stderr);
    let pid = ctl(exe, url, &["pid", "db"]);
    assert_eq!(pid.stdout.trim(), "0", "{}", pid.stderr);

    let status = ctl(exe, url, &["status", "web", "db"]);
    assert_eq!(
        statuses(&status),
        [
            ("web".to_string(), "RUNNING".to_string()),
            ("db".to_string(), "STOPPED".to_string())
        ],
        "{}",
        status.stdout
    );
}

#[test]
fn supervisorctl_over_the_unix_socket() {
    let test = "supervisorctl_over_the_unix_socket";
    let Some(exe) = supervisorctl(test) else {
        return;
    };
    let sb = Sandbox::new();
    fleet(&sb);
    let serve = Serve::start(&sb, &[]);
    let url = format!("unix://{}", serve.socket.display());
    supervisorctl_drives(&sb, &serve, &exe, &url);
    serve.stop().ok();
}

#[test]
fn supervisorctl_over_tcp_with_credentials() {
    let test = "supervisorctl_over_tcp_with_credentials";
    let Some(exe) = supervisorctl(test) else {
        return;
    };
    let sb = Sandbox::new();
    fleet(&sb);
    let port = free_port();
    serve_settings(&sb, port);
    let serve = Serve::start(&sb, &[]);
    let url = format!("http://127.0.0.1:{port}");
    supervisorctl_drives(&sb, &serve, &exe, &url);
    // Wrong credentials: supervisorctl is refused and says so, and no service name leaks.
    let mut c = Command::new(&exe);
    c.args(["-s", &url, "-u", SERVE_USER, "-p", "wrong", "status"])
        .stdin(Stdio::null());
    let refused = output(
        c,
        vec!["supervisorctl wrong password".into()],
        Duration::from_secs(60),
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("Server requires authentication"), "{said}");
    assert!(!said.contains("web") && !said.contains("RUNNING"), "{said}");
    serve.stop().ok();
}
