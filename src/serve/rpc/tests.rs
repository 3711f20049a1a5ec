//! The methods over an in-memory backend: every method, every fault code, multicall.

use super::*;
use std::path::PathBuf;

mod fake;
use fake::{fleet, Fake};

fn s(v: &str) -> Value {
    Value::str(v)
}

fn code(r: Result<Value, Fault>) -> i32 {
    match r {
        Ok(v) => panic!("expected a fault, got {v:?}"),
        Err(f) => f.code,
    }
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.member(name)
        .unwrap_or_else(|| panic!("no {name} in {v:?}"))
}

fn names(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match field(i, "name") {
                Value::String(n) => n.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn statuses(v: &Value) -> Vec<(String, i32)> {
    let Value::Array(items) = v else {
        panic!("{v:?}")
    };
    items
        .iter()
        .map(|i| match (field(i, "name"), field(i, "status")) {
            (Value::String(n), Value::Int(c)) => (n.clone(), *c),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn identity_methods() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    assert_eq!(dispatch(&b, "supervisor.getAPIVersion", &[]), Ok(s("3.0")));
    assert_eq!(dispatch(&b, "supervisor.getVersion", &[]), Ok(s("3.0")));
    assert_eq!(
        dispatch(&b, "supervisor.getSupervisorVersion", &[]),
        Ok(s(env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        dispatch(&b, "supervisor.getIdentification", &[]),
        Ok(s("svc"))
    );
    assert_eq!(
        dispatch(&b, "supervisor.getState", &[]),
        Ok(Value::record([
            ("statecode", Value::Int(1)),
            ("statename", s("RUNNING"))
        ]))
    );
    assert_eq!(dispatch(&b, "supervisor.getPID", &[]), Ok(Value::Int(777)));
}

#[test]
fn all_process_info_lists_every_process_but_sockets_with_supervisords_states() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let all = dispatch(&b, "supervisor.getAllProcessInfo", &[]).unwrap();
    assert_eq!(
        names(&all),
        ["bad", "broken", "db", "flap", "gone", "job", "quiet", "stuck", "web"]
    );
    let Value::Array(items) = &all else { panic!() };
    let states: Vec<(i32, &str)> = items
        .iter()
        .map(|i| match (field(i, "state"), field(i, "statename")) {
            (Value::Int(c), Value::String(n)) => (*c, n.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        states,
        [
            (200, "FATAL"),
            (0, "STOPPED"),
            (0, "STOPPED"),
            (30, "BACKOFF"),
            (100, "EXITED"),
            (100, "EXITED"),
            (20, "RUNNING"),
            (20, "RUNNING"),
            (20, "RUNNING"),
        ]
    );
    let Value::Struct(members) = &items[8] else {
        panic!()
    };
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "name",
            "group",
            "description",
            "start",
            "stop",
            "now",
            "state",
            "statename",
            "spawnerr",
            "exitstatus",
            "logfile",
            "stdout_logfile",
            "stderr_logfile",
            "pid"
        ]
    );
}

#[test]
fn process_info_fields_and_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let info = |n: &str| dispatch(&b, "supervisor.getProcessInfo", &[s(n)]).unwrap();
    let web = info("web");
    assert_eq!(field(&web, "description"), &s("pid 100, uptime 0:01:02"));
    assert_eq!(field(&web, "pid"), &Value::Int(100));
    assert_eq!(field(&web, "group"), &s("web"));
    let log = dir.path().join("web.log").display().to_string();
    assert_eq!(field(&web, "stdout_logfile"), &s(&log));
    assert_eq!(field(&web, "logfile"), &s(&log));
    assert_eq!(field(&web, "stderr_logfile"), &s(""));
    let (Value::Int(start), Value::Int(now)) = (field(&web, "start"), field(&web, "now")) else {
        panic!("{web:?}")
    };
    assert_eq!(now - start, 62);
    assert_eq!(info("web:web"), web_now(&b));
    assert_eq!(field(&info("db"), "description"), &s("Not started"));
    assert_eq!(field(&info("db"), "pid"), &Value::Int(0));
    assert_eq!(
        field(&info("gone"), "description"),
        &s("dead but pid file exists")
    );
    let job = info("job");
    assert_eq!(field(&job, "exitstatus"), &Value::Int(0));
    let Value::Int(stop) = field(&job, "stop") else {
        panic!()
    };
    assert_eq!(field(&job, "description"), &s(&stop_time(*stop as u64)));
    let bad = info("bad");
    assert_eq!(field(&bad, "spawnerr"), &s(EXITED_TOO_QUICKLY));
    assert_eq!(field(&bad, "description"), &s(EXITED_TOO_QUICKLY));
    assert_eq!(field(&bad, "exitstatus"), &Value::Int(3));
    assert_eq!(
        field(&info("flap"), "description"),
        &s("unknown error (try \"tail flap\")")
    );
    for bad_name in ["web:*", "web:", "web:db", "nosuch", "sock", "sock:sock", ""] {
        assert_eq!(
            dispatch(&b, "supervisor.getProcessInfo", &[s(bad_name)]),
            Err(Fault::new(Fault::BAD_NAME, bad_name)),
            "{bad_name}"
        );
    }
}

fn web_now(b: &Fake) -> Value {
    dispatch(b, "supervisor.getProcessInfo", &[s("web")]).unwrap()
}

#[test]
fn start_and_stop_with_their_faults() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    assert_eq!(
        dispatch(&b, "supervisor.startProcess", &[s("db")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(b.service("db").unwrap().row.state, "running");
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.startProcess",
            &[s("db"), Value::Bool(true)]
        )),
        60
    );
    assert_eq!(
        code(dispatch(&b, "supervisor.startProcess", &[s("broken")])),
        50
    );
    assert_eq!(
        code(dispatch(&b, "supervisor.startProcess", &[s("sock")])),
        10
    );
    assert_eq!(
        dispatch(&b, "supervisor.stopProcess", &[s("db:db")]),
        Ok(Value::Bool(true))
    );
    assert_eq!(code(dispatch(&b, "supervisor.stopProcess", &[s("db")])), 70);
    assert_eq!(
        code(dispatch(&b, "supervisor.stopProcess", &[s("stuck")])),
        30
    );
    assert_eq!(
        code(dispatch(&b, "supervisor.stopProcess", &[s("x:y")])),
        10
    );
    // The group form answers supervisord's result structs; a running process is skipped.
    let r = dispatch(&b, "supervisor.startProcess", &[s("db:*")]).unwrap();
    assert_eq!(statuses(&r), [("db".to_string(), 80)]);
    let Value::Array(items) = &r else { panic!() };
    assert_eq!(field(&items[0], "description"), &s("OK"));
    assert_eq!(field(&items[0], "group"), &s("db"));
    let r = dispatch(&b, "supervisor.startProcessGroup", &[s("db")]).unwrap();
    assert_eq!(r, Value::Array(vec![]));
    let r = dispatch(&b, "supervisor.stopProcessGroup", &[s("db")]).unwrap();
    assert_eq!(statuses(&r), [("db".to_string(), 80)]);
    assert_eq!(
        code(dispatch(&b, "supervisor.startProcessGroup", &[s("sock")])),
        10
    );
    assert_eq!(
        code(dispatch(&b, "supervisor.stopProcessGroup", &[s("nosuch")])),
        10
    );
}

#[test]
fn start_all_and_stop_all_skip_sockets_and_report_each() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let r = dispatch(&b, "supervisor.startAllProcesses", &[]).unwrap();
    assert_eq!(
        statuses(&r),
        [
            ("bad".to_string(), 80),
            ("broken".to_string(), 50),
            ("db".to_string(), 80),
            ("gone".to_string(), 80),
            ("job".to_string(), 80),
        ]
    );
    let Value::Array(items) = &r else { panic!() };
    assert_eq!(
        field(&items[1], "description"),
        &s("SPAWN_ERROR: broken: exited 1")
    );
    assert_eq!(b.service("sock").unwrap().row.state, "stopped");
    let r = dispatch(&b, "supervisor.stopAllProcesses", &[Value::Bool(true)]).unwrap();
    let stopped = statuses(&r);
    assert!(stopped.contains(&("stuck".to_string(), 30)), "{stopped:?}");
    assert!(stopped.contains(&("web".to_string(), 80)), "{stopped:?}");
    assert!(
        stopped.iter().all(|(n, _)| n != "sock" && n != "broken"),
        "{stopped:?}"
    );
}

/// svc serve running as a service (its PID is the backend's own) is listed, but the `*All*`
/// methods leave it alone: stopping it would end the answer, and `restart all` with it.
#[test]
fn the_all_methods_leave_svc_serve_itself_alone() {
    let me = fake::svc(fake::row("serve", "running", Some(777)));
    let web = fake::svc(fake::row("web", "running", Some(5)));
    let b = Fake::new(vec![me, web]);
    let all = dispatch(&b, "supervisor.getAllProcessInfo", &[]).unwrap();
    assert_eq!(names(&all), ["serve", "web"]);
    for method in [
        "supervisor.signalAllProcesses",
        "supervisor.stopAllProcesses",
    ] {
        let params = match method.contains("signal") {
            true => vec![s("HUP")],
            false => vec![],
        };
        let r = dispatch(&b, method, &params).unwrap();
        assert_eq!(statuses(&r), [("web".to_string(), 80)], "{method}");
    }
}

#[test]
fn signals_by_name_and_number() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    for sig in [s("HUP"), s("sighup"), s("1"), Value::Int(1)] {
        assert_eq!(
            dispatch(&b, "supervisor.signalProcess", &[s("web"), sig]),
            Ok(Value::Bool(true))
        );
    }
    assert_eq!(b.signals.lock().unwrap().len(), 4);
    assert!(b
        .signals
        .lock()
        .unwrap()
        .iter()
        .all(|(n, s)| n == "web" && *s == Signal::SIGHUP));
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.signalProcess",
            &[s("web"), s("NOPE")]
        )),
        11
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.signalProcess",
            &[s("web"), Value::Int(0)]
        )),
        11
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.signalProcess",
            &[s("db"), s("HUP")]
        )),
        70
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.signalProcess",
            &[s("nosuch"), s("HUP")]
        )),
        10
    );
    let r = dispatch(&b, "supervisor.signalProcess", &[s("web:*"), s("USR1")]).unwrap();
    assert_eq!(statuses(&r), [("web".to_string(), 80)]);
    let r = dispatch(&b, "supervisor.signalProcessGroup", &[s("web"), s("BOGUS")]).unwrap();
    assert_eq!(statuses(&r), [("web".to_string(), 11)]);
    let r = dispatch(&b, "supervisor.signalAllProcesses", &[s("TERM")]).unwrap();
    assert_eq!(names(&r), ["quiet", "stuck", "web"]);
    assert_eq!(
        b.signals.lock().unwrap().last().map(|x| x.1),
        Some(Signal::SIGTERM)
    );
}

#[test]
fn reads_and_tails_logs_as_supervisord() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    std::fs::write(dir.path().join("web.log"), "0123456789").unwrap();
    let read = |o: i32, l: i32| {
        dispatch(
            &b,
            "supervisor.readProcessStdoutLog",
            &[s("web"), Value::Int(o), Value::Int(l)],
        )
    };
    assert_eq!(read(-4, 0), Ok(s("6789")));
    assert_eq!(read(-100, 0), Ok(s("0123456789")));
    assert_eq!(read(2, 3), Ok(s("234")));
    assert_eq!(read(7, 0), Ok(s("789")));
    assert_eq!(read(20, 0), Ok(s("")));
    assert_eq!(code(read(-4, 2)), 3);
    assert_eq!(code(read(0, -1)), 3);
    let tail = |o: i32, l: i32| {
        dispatch(
            &b,
            "supervisor.tailProcessStdoutLog",
            &[s("web"), Value::Int(o), Value::Int(l)],
        )
        .unwrap()
    };
    let t = |d: &str, o: i32, f: bool| Value::Array(vec![s(d), Value::Int(o), Value::Bool(f)]);
    assert_eq!(tail(0, 4), t("6789", 10, true));
    assert_eq!(tail(0, 100), t("0123456789", 10, false));
    assert_eq!(tail(8, 5), t("56789", 10, false));
    assert_eq!(tail(10, 5), t("", 10, false));
    let args = |n: &str| [s(n), Value::Int(0), Value::Int(0)];
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.readProcessStdoutLog",
            &args("quiet")
        )),
        20
    );
    assert_eq!(
        code(dispatch(&b, "supervisor.readProcessStdoutLog", &args("db"))),
        20
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.readProcessStdoutLog",
            &args("web:*")
        )),
        10
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.readProcessStderrLog",
            &args("web")
        )),
        20
    );
    assert_eq!(
        dispatch(&b, "supervisor.tailProcessStdoutLog", &args("quiet")),
        Ok(t("", 0, false))
    );
    assert_eq!(
        dispatch(&b, "supervisor.tailProcessStdoutLog", &args("db")),
        Ok(t("", 0, false))
    );
    assert_eq!(
        dispatch(&b, "supervisor.tailProcessStderrLog", &args("web")),
        Ok(t("", 0, false))
    );
    assert_eq!(
        code(dispatch(
            &b,
            "supervisor.tailProcessStderrLog",
            &args("nosuch")
        )),
        10
    );
    let main = [Value::Int(-1600), Value::Int(0)];
    assert_eq!(code(dispatch(&b, "supervisor.readLog", &main)), 20);
    assert_eq!(
        code(dispatch(&b, "supervisor.clearProcessLogs", &[s("web")])),
        30
    );
    // A symlink is not followed.
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("missing.log")).unwrap();
    assert_eq!(
        code(dispatch(&b, "supervisor.readProcessStdoutLog", &args("db"))),
        30
    );
}

#[test]
fn a_large_log_is_read_in_bounded_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("big.log");
    std::fs::write(&path, vec![b'x'; (MAX_READ + 10) as usize]).unwrap();
    assert_eq!(read_log(&path, 0, 0).map(|d| d.len() as u64), Ok(MAX_READ));
    assert_eq!(read_log(&path, 5, 0).map(|d| d.len() as u64), Ok(MAX_READ));
    // From the end: the last MiB, however far back the offset reaches (`tail -2000000`).
    let mut text = vec![b'a'; (2 * MAX_READ) as usize];
    text.extend_from_slice(b"THE END");
    std::fs::write(&path, &text).unwrap();
    let last = read_log(&path, -(3 * MAX_READ as i64), 0).unwrap();
    assert_eq!(last.len() as u64, MAX_READ);
    assert!(last.ends_with("THE END"), "{}", &last[last.len() - 20..]);
}

#[test]
fn a_multicall_is_bounded_in_calls_and_in_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let big = "x".repeat(MAX_READ as usize);
    std::fs::write(dir.path().join("web.log"), &big).unwrap();
    let read = Value::record([
        ("methodName", s("supervisor.readProcessStdoutLog")),
        (
            "params",
            Value::Array(vec![s("web"), Value::Int(0), Value::Int(0)]),
        ),
    ]);
    let many = Value::Array(vec![read.clone(); MAX_CALLS + 1]);
    assert_eq!(code(dispatch(&b, "system.multicall", &[many])), 3);
    let ten = Value::Array(vec![read; 10]);
    let Ok(Value::Array(results)) = dispatch(&b, "system.multicall", &[ten]) else {
        panic!("no array");
    };
    let made = results
        .iter()
        .filter(|r| matches!(r, Value::String(_)))
        .count();
    assert_eq!(made, MAX_ANSWER / MAX_READ as usize, "{made} reads made");
    assert!(matches!(field(&results[9], "faultCode"), Value::Int(30)));
}

#[test]
fn system_methods() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let Ok(Value::Array(list)) = dispatch(&b, "system.listMethods", &[]) else {
        panic!()
    };
    let list: Vec<String> = list.into_iter().map(|v| format!("{v:?}")).collect();
    let mut sorted = list.clone();
    sorted.sort();
    assert_eq!(list, sorted);
    for spec in [
        "getAPIVersion",
        "getVersion",
        "getSupervisorVersion",
        "getIdentification",
        "getState",
        "getPID",
        "getAllProcessInfo",
        "getProcessInfo",
        "startProcess",
        "stopProcess",
        "signalProcess",
        "startAllProcesses",
        "stopAllProcesses",
        "readProcessStdoutLog",
        "tailProcessStdoutLog",
        "readLog",
    ] {
        assert!(
            list.contains(&format!("{:?}", s(&format!("supervisor.{spec}")))),
            "{spec}"
        );
    }
    assert!(
        matches!(dispatch(&b, "system.methodHelp", &[s("supervisor.getPID")]), Ok(Value::String(h)) if h.contains("PID"))
    );
    assert_eq!(code(dispatch(&b, "system.methodHelp", &[s("no.such")])), 4);
    assert_eq!(
        dispatch(
            &b,
            "system.methodSignature",
            &[s("supervisor.signalProcess")]
        ),
        Ok(Value::Array(vec![s("boolean"), s("string"), s("string")]))
    );
    assert_eq!(code(dispatch(&b, "system.methodSignature", &[s("x")])), 4);
}

#[test]
fn multicall_answers_values_and_fault_structs() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let call =
        |m: &str, p: Vec<Value>| Value::record([("methodName", s(m)), ("params", Value::Array(p))]);
    let calls = Value::Array(vec![
        call("supervisor.getAPIVersion", vec![]),
        Value::record([("methodName", s("supervisor.getPID"))]),
        call("supervisor.startProcess", vec![s("nosuch")]),
        call("system.multicall", vec![Value::Array(vec![])]),
        Value::record([("params", Value::Array(vec![]))]),
        call("supervisor.nope", vec![]),
    ]);
    let fault =
        |c: i32, t: &str| Value::record([("faultCode", Value::Int(c)), ("faultString", s(t))]);
    assert_eq!(
        dispatch(&b, "system.multicall", &[calls]),
        Ok(Value::Array(vec![
            s("3.0"),
            Value::Int(777),
            fault(10, "BAD_NAME: nosuch"),
            fault(
                2,
                "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"
            ),
            fault(2, "INCORRECT_PARAMETERS: No methodName"),
            fault(1, "UNKNOWN_METHOD"),
        ]))
    );
    assert_eq!(code(dispatch(&b, "system.multicall", &[s("x")])), 3);
}

#[test]
fn call_faults() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    assert_eq!(code(dispatch(&b, "supervisor.nope", &[])), 1);
    assert_eq!(code(dispatch(&b, "nope", &[])), 1);
    assert_eq!(code(dispatch(&b, "supervisor._private", &[])), 1);
    assert_eq!(code(dispatch(&b, "supervisor.getPID", &[Value::Int(1)])), 2);
    assert_eq!(code(dispatch(&b, "supervisor.startProcess", &[])), 2);
    assert_eq!(
        code(dispatch(&b, "supervisor.getProcessInfo", &[Value::Int(1)])),
        3
    );
    let args = [s("web"), s("x"), Value::Int(0)];
    assert_eq!(
        code(dispatch(&b, "supervisor.readProcessStdoutLog", &args)),
        3
    );
}

fn text(doc: Vec<u8>) -> String {
    String::from_utf8(doc).unwrap()
}

#[test]
fn handle_answers_documents_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    let ok = text(handle(
        &b,
        b"<?xml version='1.0'?><methodCall><methodName>supervisor.getVersion</methodName><params></params></methodCall>",
    ));
    assert!(
        ok.contains("<params>") && ok.contains("<string>3.0</string>"),
        "{ok}"
    );
    for bad in [
        &b"<methodCall"[..],
        b"",
        b"<x/>",
        b"<methodCall><methodName></methodName></methodCall>",
    ] {
        let doc = text(handle(&b, bad));
        assert!(
            doc.contains("<fault>") && doc.contains("<int>3</int>"),
            "{doc}"
        );
    }
    let doc = text(handle(
        &b,
        b"<methodCall><methodName>x.y</methodName></methodCall>",
    ));
    assert!(
        doc.contains("<int>1</int>") && doc.contains("UNKNOWN_METHOD"),
        "{doc}"
    );
}

#[test]
fn a_log_with_control_bytes_gives_a_valid_document() {
    let dir = tempfile::tempdir().unwrap();
    let b = fleet(dir.path());
    std::fs::write(dir.path().join("web.log"), b"a\x00b\x1b[31mc\xff\r\n").unwrap();
    let doc = text(handle(
        &b,
        b"<methodCall><methodName>supervisor.readProcessStdoutLog</methodName><params><param><value>web</value></param><param><value><int>0</int></value></param><param><value><int>0</int></value></param></params></methodCall>",
    ));
    // Read back with the same reader: the document is well-formed.
    let inner = doc
        .replace("methodResponse", "methodCall")
        .replace("<params>", "<methodName>x</methodName><params>");
    let call = crate::serve::xmlrpc::read_call(inner.as_bytes()).unwrap();
    assert_eq!(call.params, [s("a\u{fffd}b\u{fffd}[31mc\u{fffd}\r\n")]);
}

#[test]
fn python_timedelta_and_strftime() {
    assert_eq!(timedelta(62), "0:01:02");
    assert_eq!(timedelta(86_400 + 3723), "1 day, 1:02:03");
    assert_eq!(timedelta(3 * 86_400 + 5), "3 days, 0:00:05");
    // 2026-12-02 15:34 UTC
    assert_eq!(stop_time(1_796_225_640), "Dec 02 03:34 PM");
    assert_eq!(stop_time(0), "Jan 01 12:00 AM");
}
