//! supervisord's XML-RPC interface (SPEC §10) over a [`Backend`]: methods, process-info
//! fields, state codes and faults as supervisord 4's `rpcinterface.py` and `xmlrpc.py` define
//! them, so `supervisorctl` and the dashboards built on it work unchanged.
//!
//! Each svc service is one process alone in its group: `group` and `name` are its NAME, and a
//! name may be given as `NAME`, `NAME:NAME` or `NAME:*` (the group); anything else is
//! `BAD_NAME`. `socket:` services are never processes: absent from `getAllProcessInfo`,
//! `BAD_NAME` everywhere else, skipped by the `*All*` methods.
//!
//! States: svc's `running` is RUNNING (20); `starting` is STARTING (10) with a PID and BACKOFF
//! (30) without one (a supervised service between respawns); `stopped` is STOPPED (0); `dead`
//! and `done` (a one-shot that ran) are EXITED (100); `failed` is FATAL (200); anything else
//! UNKNOWN (1000). The `description` follows supervisord's rules (`pid 123, uptime 0:01:02`,
//! `Not started`, the stop time as `Dec 02 03:04 PM` — in UTC, where supervisord uses local
//! time — the spawn error for FATAL and BACKOFF), except `dead`, which says
//! `dead but pid file exists` as `svc status` does.
//!
//! Decisions where svc differs from supervisord:
//! - `getIdentification` is `svc`; `getSupervisorVersion` is svc's version; `getState` is
//!   always RUNNING (1) — `svc serve` answers only while it runs.
//! - svc writes a service's stdout and stderr to one log (`Service::log`), like supervisord's
//!   `redirect_stderr=true`: `stdout_logfile` names it, `stderr_logfile` is empty,
//!   `readProcessStderrLog` is `NO_FILE` and `tailProcessStderrLog` gives `["", 0, false]`.
//! - svc has no main log of its own: `readLog` is `NO_FILE`.
//! - A log read returns at most [`MAX_READ`] bytes (supervisord has no bound), and reads only
//!   the bytes it returns.
//! - `clearProcessLogs` is `FAILED`: svc leaves its logs to logrotate.
//! - The optional `wait` argument of start and stop is accepted and ignored: svc's start and
//!   stop always wait, as the command line does.
//! - A body that is not a `methodCall` gets the fault `BAD_ARGUMENTS` with the reason
//!   (supervisord answers HTTP 400; [`handle`] can only answer a document).
//! - Wrong types of arguments are `BAD_ARGUMENTS` (supervisord often fails with a Python
//!   exception there).
//! - `system.multicall` answers as supervisord's code does (not as its docstring says): each
//!   result is the bare value, or a `{faultCode, faultString}` struct; a nested
//!   `system.multicall` and a call without `methodName` are `INCORRECT_PARAMETERS`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

use nix::sys::signal::Signal;

use super::xmlrpc::{self, Value};
use super::{Backend, Fault, Service};

/// The most bytes one log read returns.
pub const MAX_READ: u64 = 1 << 20;
/// The most calls one `system.multicall` may hold.
pub const MAX_CALLS: usize = 1000;
/// The answer of one `system.multicall` stops growing past this many bytes (roughly: the
/// text its values hold).
pub const MAX_ANSWER: usize = 4 << 20;

/// Roughly how many bytes `v` takes in an answer.
fn weight(v: &Value) -> usize {
    match v {
        Value::String(s) | Value::DateTime(s) => s.len() + 32,
        Value::Base64(b) => b.len() * 4 / 3 + 32,
        Value::Array(items) => items.iter().map(weight).sum::<usize>() + 32,
        Value::Struct(members) => members.iter().map(|(k, v)| k.len() + weight(v) + 32).sum(),
        _ => 32,
    }
}

/// supervisord's API version, which `supervisorctl` checks.
pub const API_VERSION: &str = "3.0";

/// A method: name, how many parameters it needs at least, its signature (return type, then
/// parameter types, for `system.methodSignature`) and its help.
struct Method {
    name: &'static str,
    min: usize,
    signature: &'static [&'static str],
    help: &'static str,
}

const fn m(
    name: &'static str,
    min: usize,
    signature: &'static [&'static str],
    help: &'static str,
) -> Method {
    Method {
        name,
        min,
        signature,
        help,
    }
}

/// Every method, in name order (`system.listMethods`).
const METHODS: &[Method] = &[
    m("supervisor.clearProcessLogs", 1, &["boolean", "string"], "Clear a process's logs: FAILED, svc leaves its logs to logrotate."),
    m("supervisor.getAPIVersion", 0, &["string"], "Return the version of the RPC API (\"3.0\")."),
    m("supervisor.getAllProcessInfo", 0, &["array"], "Get info about all processes (every service but socket: ones)."),
    m("supervisor.getIdentification", 0, &["string"], "Return the identifying string (\"svc\")."),
    m("supervisor.getPID", 0, &["int"], "Return the PID of svc serve."),
    m("supervisor.getProcessInfo", 1, &["struct", "string"], "Get info about the process named name (NAME or NAME:NAME)."),
    m("supervisor.getState", 0, &["struct"], "Return the state as a struct {statecode, statename}."),
    m("supervisor.getSupervisorVersion", 0, &["string"], "Return svc's version."),
    m("supervisor.getVersion", 0, &["string"], "Return the version of the RPC API (old name of getAPIVersion)."),
    m("supervisor.readLog", 2, &["string", "int", "int"], "Read the main log: NO_FILE, svc has none."),
    m("supervisor.readProcessStderrLog", 3, &["string", "string", "int", "int"], "Read a process's stderr log: NO_FILE, svc logs stderr with stdout."),
    m("supervisor.readProcessStdoutLog", 3, &["string", "string", "int", "int"], "Read length bytes from name's log starting at offset (negative: from the end; length 0: to the end)."),
    m("supervisor.signalAllProcesses", 1, &["array", "string"], "Send a signal (name or number) to every running process."),
    m("supervisor.signalProcess", 2, &["boolean", "string", "string"], "Send a signal (name or number) to the process named name."),
    m("supervisor.signalProcessGroup", 2, &["array", "string", "string"], "Send a signal to every process of the group."),
    m("supervisor.startAllProcesses", 0, &["array", "boolean"], "Start every process that is not running."),
    m("supervisor.startProcess", 1, &["boolean", "string", "boolean"], "Start a process (NAME, NAME:NAME, or NAME:* for its group)."),
    m("supervisor.startProcessGroup", 1, &["array", "string", "boolean"], "Start every process of the group."),
    m("supervisor.stopAllProcesses", 0, &["array", "boolean"], "Stop every running process."),
    m("supervisor.stopProcess", 1, &["boolean", "string", "boolean"], "Stop a process (NAME, NAME:NAME, or NAME:* for its group)."),
    m("supervisor.stopProcessGroup", 1, &["array", "string", "boolean"], "Stop every process of the group."),
    m("supervisor.tailProcessStderrLog", 3, &["array", "string", "int", "int"], "Tail a process's stderr log: always [\"\", 0, false]."),
    m("supervisor.tailProcessStdoutLog", 3, &["array", "string", "int", "int"], "Tail name's log: [string bytes, int offset, bool overflow]."),
    m("system.listMethods", 0, &["array"], "Return an array listing the available method names."),
    m("system.methodHelp", 1, &["string", "string"], "Return a string showing the method's documentation."),
    m("system.methodSignature", 1, &["array", "string"], "Return [rtype, ptype, ...] for a method."),
    m("system.multicall", 1, &["array", "array"], "Process an array of calls {methodName, params}; return an array of results (each the value, or a fault struct)."),
];

/// The `methodResponse` document for one `methodCall` body.
pub fn handle(backend: &dyn Backend, body: &[u8]) -> Vec<u8> {
    let answer = match xmlrpc::read_call(body) {
        Ok(call) => dispatch(backend, &call.method, &call.params),
        Err(e) => Err(Fault::new(Fault::BAD_ARGUMENTS, e.to_string())),
    };
    match answer {
        Ok(value) => xmlrpc::write_response(&value),
        Err(fault) => xmlrpc::write_fault(fault.code, &fault.string()),
    }
}

/// Calls one method: `UNKNOWN_METHOD`, `INCORRECT_PARAMETERS` for a wrong count, else its
/// answer.
pub fn dispatch(backend: &dyn Backend, method: &str, params: &[Value]) -> Result<Value, Fault> {
    let Some(def) = METHODS.iter().find(|d| d.name == method) else {
        return Err(Fault::new(Fault::UNKNOWN_METHOD, ""));
    };
    if params.len() < def.min || params.len() > def.signature.len() - 1 {
        return Err(Fault::new(Fault::INCORRECT_PARAMETERS, ""));
    }
    let p = |i: usize| &params[i];
    let name = method.split_once('.').map_or(method, |(_, n)| n);
    match (method.starts_with("system."), name) {
        (true, "listMethods") => Ok(Value::Array(
            METHODS.iter().map(|d| Value::str(d.name)).collect(),
        )),
        (true, "methodHelp") => find(string(p(0))?).map(|d| Value::str(d.help)),
        (true, "methodSignature") => find(string(p(0))?)
            .map(|d| Value::Array(d.signature.iter().map(|t| Value::str(*t)).collect())),
        (true, _) => multicall(backend, p(0)),
        (false, "getAPIVersion" | "getVersion") => Ok(Value::str(API_VERSION)),
        (false, "getSupervisorVersion") => Ok(Value::str(env!("CARGO_PKG_VERSION"))),
        (false, "getIdentification") => Ok(Value::str("svc")),
        (false, "getState") => Ok(Value::record([
            ("statecode", Value::Int(1)),
            ("statename", Value::str("RUNNING")),
        ])),
        (false, "getPID") => Ok(Value::Int(backend.pid())),
        (false, "readLog") => {
            int(p(0))?;
            int(p(1))?;
            Err(Fault::new(Fault::NO_FILE, "svc has no main log"))
        }
        (false, "getAllProcessInfo") => {
            let now = now();
            Ok(Value::Array(
                processes(backend).iter().map(|s| info(s, now)).collect(),
            ))
        }
        (false, "getProcessInfo") => Ok(info(&process(backend, string(p(0))?)?, now())),
        (false, "startProcess") => match target(backend, string(p(0))?)? {
            Target::Group(g) => Ok(for_each(backend, &[g], Op::Start)),
            Target::Process(s) => backend.start(&s.row.name).map(|()| Value::Bool(true)),
        },
        (false, "stopProcess") => match target(backend, string(p(0))?)? {
            Target::Group(g) => Ok(for_each(backend, &[g], Op::Stop)),
            Target::Process(s) => backend.stop(&s.row.name).map(|()| Value::Bool(true)),
        },
        (false, "signalProcess") => match target(backend, string(p(0))?)? {
            Target::Group(g) => Ok(for_each(backend, &[g], Op::Signal(p(1)))),
            Target::Process(s) => {
                let sig = signal(p(1))?;
                backend.signal(&s.row.name, sig).map(|()| Value::Bool(true))
            }
        },
        (false, "startProcessGroup") => Ok(for_each(
            backend,
            &[group(backend, string(p(0))?)?],
            Op::Start,
        )),
        (false, "stopProcessGroup") => Ok(for_each(
            backend,
            &[group(backend, string(p(0))?)?],
            Op::Stop,
        )),
        (false, "signalProcessGroup") => {
            let g = group(backend, string(p(0))?)?;
            Ok(for_each(backend, &[g], Op::Signal(p(1))))
        }
        (false, "startAllProcesses") => Ok(for_each(backend, &others(backend), Op::Start)),
        (false, "stopAllProcesses") => Ok(for_each(backend, &others(backend), Op::Stop)),
        (false, "signalAllProcesses") => Ok(for_each(backend, &others(backend), Op::Signal(p(0)))),
        (false, "readProcessStdoutLog") => {
            let s = process(backend, string(p(0))?)?;
            let (offset, length) = (int(p(1))?, int(p(2))?);
            let path = s
                .log
                .ok_or_else(|| Fault::new(Fault::NO_FILE, s.row.name.clone()))?;
            read_log(&path, offset.into(), length.into()).map(Value::String)
        }
        (false, "readProcessStderrLog") => {
            let s = process(backend, string(p(0))?)?;
            int(p(1))?;
            int(p(2))?;
            Err(Fault::new(
                Fault::NO_FILE,
                format!("{}: stderr goes to the one log", s.row.name),
            ))
        }
        (false, "tailProcessStdoutLog") => {
            let s = process(backend, string(p(0))?)?;
            let (offset, length) = (int(p(1))?, int(p(2))?);
            Ok(match s.log {
                Some(path) => tail_log(&path, offset.into(), length.into()),
                None => tail_value(String::new(), 0, false),
            })
        }
        (false, "tailProcessStderrLog") => {
            process(backend, string(p(0))?)?;
            int(p(1))?;
            int(p(2))?;
            Ok(tail_value(String::new(), 0, false))
        }
        (false, "clearProcessLogs") => {
            let s = process(backend, string(p(0))?)?;
            Err(Fault::new(
                Fault::FAILED,
                format!("{}: svc does not clear logs (logrotate does)", s.row.name),
            ))
        }
        (false, _) => Err(Fault::new(Fault::UNKNOWN_METHOD, "")),
    }
}

/// `system.methodHelp` / `methodSignature`: `SIGNATURE_UNSUPPORTED` for an unknown name.
fn find(name: &str) -> Result<&'static Method, Fault> {
    METHODS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Fault::new(Fault::SIGNATURE_UNSUPPORTED, ""))
}

fn bad_type(what: &str, v: &Value) -> Fault {
    Fault::new(
        Fault::BAD_ARGUMENTS,
        format!("expected {what}, got {}", v.type_name()),
    )
}

fn string(v: &Value) -> Result<&str, Fault> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(bad_type("a string", v)),
    }
}

/// An int, or a string holding one (supervisord calls `int()` on offsets).
fn int(v: &Value) -> Result<i32, Fault> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::String(s) => s.trim().parse().map_err(|_| bad_type("an int", v)),
        _ => Err(bad_type("an int", v)),
    }
}

/// A signal by name (`HUP`, `sighup`) or number (`1`, `"1"`): `BAD_SIGNAL` otherwise.
fn signal(v: &Value) -> Result<Signal, Fault> {
    let (number, text) = match v {
        Value::Int(i) => (Some(*i), i.to_string()),
        Value::String(s) => (s.trim().parse().ok(), s.clone()),
        _ => (None, format!("{v:?}")),
    };
    let found = match number {
        Some(n) => Signal::try_from(n).ok(),
        None => {
            let upper = text.trim().to_ascii_uppercase();
            let name = match upper.starts_with("SIG") {
                true => upper,
                false => format!("SIG{upper}"),
            };
            Signal::from_str(&name).ok()
        }
    };
    found.ok_or_else(|| Fault::new(Fault::BAD_SIGNAL, text))
}

/// A name as supervisord's `split_namespec` reads it.
enum Target {
    Process(Service),
    Group(Service),
}

fn target(backend: &dyn Backend, spec: &str) -> Result<Target, Fault> {
    let (group_name, process_name) = match spec.split_once(':') {
        Some((g, "" | "*")) => (g, None),
        Some((g, p)) => (g, Some(p)),
        None => (spec, Some(spec)),
    };
    if process_name.is_some_and(|p| p != group_name) {
        return Err(Fault::new(Fault::BAD_NAME, spec));
    }
    let svc = service(backend, group_name, spec)?;
    Ok(match process_name {
        Some(_) => Target::Process(svc),
        None => Target::Group(svc),
    })
}

/// The service `name`, `BAD_NAME` (naming `spec`) when missing or `socket:`.
fn service(backend: &dyn Backend, name: &str, spec: &str) -> Result<Service, Fault> {
    let bad = || Fault::new(Fault::BAD_NAME, spec);
    match backend.service(name) {
        Ok(s) if s.on_demand => Err(bad()),
        Ok(s) => Ok(s),
        Err(f) if f.code == Fault::BAD_NAME => Err(bad()),
        Err(f) => Err(f),
    }
}

/// A name that must be a process, not a group.
fn process(backend: &dyn Backend, spec: &str) -> Result<Service, Fault> {
    match target(backend, spec)? {
        Target::Process(s) => Ok(s),
        Target::Group(_) => Err(Fault::new(Fault::BAD_NAME, spec)),
    }
}

/// A group name (the `*ProcessGroup` methods take it bare).
fn group(backend: &dyn Backend, name: &str) -> Result<Service, Fault> {
    service(backend, name, name)
}

/// Every process the `*All*` methods act on: all but `svc serve` itself when it runs as a
/// service (`stopAllProcesses` would otherwise end the server halfway, and `restart all`
/// would never start anything again).
fn others(backend: &dyn Backend) -> Vec<Service> {
    let me = backend.pid();
    let mut all = processes(backend);
    all.retain(|s| s.row.pid != Some(me));
    all
}

/// Every process: the services that are not `socket:`, in name order.
fn processes(backend: &dyn Backend) -> Vec<Service> {
    let mut all: Vec<Service> = backend
        .services()
        .into_iter()
        .filter(|s| !s.on_demand)
        .collect();
    all.sort_by(|a, b| a.row.name.cmp(&b.row.name));
    all
}

/// What a group or `*All*` method does to each process.
#[derive(Clone, Copy)]
enum Op<'a> {
    Start,
    Stop,
    Signal(&'a Value),
}

/// supervisord's `make_allfunc`: the operation on each process its predicate selects (start:
/// not running; stop: running; signal: signallable), one result struct
/// `{name, group, status, description}` each.
fn for_each(backend: &dyn Backend, services: &[Service], op: Op) -> Value {
    let mut results = Vec::new();
    for s in services {
        let code = state(s).0;
        let running = matches!(code, STARTING | RUNNING | BACKOFF);
        let selected = match op {
            Op::Start => !running,
            Op::Stop => running,
            Op::Signal(_) => matches!(code, STARTING | RUNNING),
        };
        if !selected {
            continue;
        }
        let outcome = match op {
            Op::Start => backend.start(&s.row.name),
            Op::Stop => backend.stop(&s.row.name),
            Op::Signal(v) => signal(v).and_then(|sig| backend.signal(&s.row.name, sig)),
        };
        let (status, description) = match outcome {
            Ok(()) => (Fault::SUCCESS, "OK".to_string()),
            Err(f) => (f.code, f.string()),
        };
        results.push(Value::record([
            ("name", Value::str(&s.row.name)),
            ("group", Value::str(&s.row.name)),
            ("status", Value::Int(status)),
            ("description", Value::str(description)),
        ]));
    }
    Value::Array(results)
}

fn multicall(backend: &dyn Backend, calls: &Value) -> Result<Value, Fault> {
    let Value::Array(calls) = calls else {
        return Err(bad_type("an array of calls", calls));
    };
    let one = |call: &Value| -> Result<Value, Fault> {
        let method = match call.member("methodName") {
            Some(Value::String(m)) => m,
            _ => return Err(Fault::new(Fault::INCORRECT_PARAMETERS, "No methodName")),
        };
        if method == "system.multicall" {
            return Err(Fault::new(
                Fault::INCORRECT_PARAMETERS,
                "Recursive system.multicall forbidden",
            ));
        }
        match call.member("params") {
            None => dispatch(backend, method, &[]),
            Some(Value::Array(params)) => dispatch(backend, method, params),
            Some(other) => Err(bad_type("an array of params", other)),
        }
    };
    if calls.len() > MAX_CALLS {
        let why = format!(
            "{} calls; at most {MAX_CALLS} in one system.multicall",
            calls.len()
        );
        return Err(Fault::new(Fault::BAD_ARGUMENTS, why));
    }
    // The whole answer is bounded too: once MAX_ANSWER bytes are gathered, the calls left
    // are not made (each answers FAILED), so a small request cannot pile up log reads.
    let mut gathered = 0;
    Ok(Value::Array(
        calls
            .iter()
            .map(|call| {
                let outcome = match gathered > MAX_ANSWER {
                    true => Err(Fault::new(
                        Fault::FAILED,
                        format!(
                            "not made: this system.multicall's answer is over {MAX_ANSWER} bytes"
                        ),
                    )),
                    false => one(call),
                };
                let value = match outcome {
                    Ok(value) => value,
                    Err(f) => Value::record([
                        ("faultCode", Value::Int(f.code)),
                        ("faultString", Value::str(f.string())),
                    ]),
                };
                gathered += weight(&value);
                value
            })
            .collect(),
    ))
}

pub const STOPPED: i32 = 0;
pub const STARTING: i32 = 10;
pub const RUNNING: i32 = 20;
pub const BACKOFF: i32 = 30;
pub const EXITED: i32 = 100;
pub const FATAL: i32 = 200;
pub const UNKNOWN: i32 = 1000;

/// supervisord's state code and name for a service (see the module docs).
pub fn state(s: &Service) -> (i32, &'static str) {
    match (s.row.state, s.row.pid) {
        ("running", _) => (RUNNING, "RUNNING"),
        ("starting", Some(_)) => (STARTING, "STARTING"),
        ("starting", None) => (BACKOFF, "BACKOFF"),
        ("stopped", _) => (STOPPED, "STOPPED"),
        ("dead" | "done", _) => (EXITED, "EXITED"),
        ("failed", _) => (FATAL, "FATAL"),
        _ => (UNKNOWN, "UNKNOWN"),
    }
}

fn now() -> u64 {
    crate::clock::unix_secs(std::time::SystemTime::now())
}

/// The process-info struct of `getProcessInfo`, fields as supervisord's.
pub fn info(s: &Service, now: u64) -> Value {
    let row = &s.row;
    let (code, statename) = state(s);
    let start = match (code, row.uptime_s) {
        (RUNNING | STARTING, Some(up)) => now.saturating_sub(up),
        _ => 0,
    };
    let stop = row
        .finished
        .as_ref()
        .map_or(0, |f| now.saturating_sub(f.ago_s));
    let last = row.last_exit.as_ref().and_then(|e| e.as_ref());
    let exited = row
        .finished
        .as_ref()
        .and_then(|f| f.how.strip_prefix("exited "))
        .and_then(|n| n.trim().parse().ok());
    let exitstatus = exited.or(last.and_then(|e| e.code)).unwrap_or(0);
    let spawnerr = match code {
        FATAL | BACKOFF => last
            .and_then(|e| e.error.clone())
            .or_else(|| row.note.clone())
            .or_else(|| row.finished.as_ref().map(|f| f.how.clone()))
            .or_else(|| row.restarts.map(|_| EXITED_TOO_QUICKLY.to_string()))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let description = match code {
        RUNNING => format!(
            "pid {}, uptime {}",
            row.pid.unwrap_or(0),
            timedelta(now.saturating_sub(start))
        ),
        FATAL | BACKOFF if spawnerr.is_empty() => {
            format!("unknown error (try \"tail {}\")", row.name)
        }
        FATAL | BACKOFF => spawnerr.clone(),
        EXITED if row.state == "dead" => "dead but pid file exists".to_string(),
        STOPPED | EXITED if stop != 0 => stop_time(stop),
        STOPPED | EXITED => "Not started".to_string(),
        _ => String::new(),
    };
    let log = s
        .log
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Value::record([
        ("name", Value::str(&row.name)),
        ("group", Value::str(&row.name)),
        ("description", Value::str(description)),
        ("start", Value::Int(capped(start))),
        ("stop", Value::Int(capped(stop))),
        ("now", Value::Int(capped(now))),
        ("state", Value::Int(code)),
        ("statename", Value::str(statename)),
        ("spawnerr", Value::str(spawnerr)),
        ("exitstatus", Value::Int(exitstatus)),
        ("logfile", Value::str(&log)),
        ("stdout_logfile", Value::str(log)),
        ("stderr_logfile", Value::str("")),
        ("pid", Value::Int(row.pid.unwrap_or(0))),
    ])
}

/// supervisord's spawn error for a process that kept exiting before it counted as started.
const EXITED_TOO_QUICKLY: &str = "Exited too quickly (process log may have details)";

fn capped(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Python's `str(timedelta)`: `0:01:02`, `1 day, 2:03:04`, `3 days, 0:00:05`.
pub fn timedelta(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let hms = format!("{}:{:02}:{:02}", rest / 3600, (rest % 3600) / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// `strftime('%b %d %I:%M %p')` of a Unix time, in UTC.
pub fn stop_time(unix: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rest) = (unix / 86_400, unix % 86_400);
    let (_, month, day) = crate::clock::civil_from_days(days as i64);
    let (hour, minute) = (rest / 3600, (rest % 3600) / 60);
    let h12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let pm = if hour < 12 { "AM" } else { "PM" };
    let mon = MONTHS[(month as usize).saturating_sub(1) % 12];
    format!("{mon} {day:02} {h12:02}:{minute:02} {pm}")
}

/// Opens a log without following a symlink and without blocking (a FIFO); only a regular file.
fn open_log(path: &Path) -> std::io::Result<(File, u64)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((file, meta.len()))
}

/// At most `len` bytes (and at most [`MAX_READ`]) from `offset`, as text.
fn read_range(file: &mut File, offset: u64, len: u64) -> std::io::Result<String> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.take(len.min(MAX_READ)).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// supervisord's `readFile`: a negative offset reads that many bytes from the end (length
/// must be 0), length 0 reads to the end; `BAD_ARGUMENTS` for a negative length,
/// `NO_FILE` when the log does not exist, `FAILED` when it cannot be read.
pub fn read_log(path: &Path, offset: i64, length: i64) -> Result<String, Fault> {
    if (offset < 0 && length != 0) || length < 0 {
        return Err(Fault::new(Fault::BAD_ARGUMENTS, ""));
    }
    let (mut file, size) = open_log(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Fault::new(Fault::NO_FILE, path.display().to_string()),
        _ => Fault::new(Fault::FAILED, format!("{}: {e}", path.display())),
    })?;
    let (from, len) = match (offset, length) {
        // The last bytes, at most MAX_READ of them (never an older window's first MiB).
        (o, _) if o < 0 => {
            let want = o.unsigned_abs().min(MAX_READ);
            (size.saturating_sub(want), want)
        }
        (o, 0) => (o as u64, size.saturating_sub(o as u64)),
        (o, l) => (o as u64, l as u64),
    };
    read_range(&mut file, from, len)
        .map_err(|e| Fault::new(Fault::FAILED, format!("{}: {e}", path.display())))
}

fn tail_value(data: String, offset: i64, overflow: bool) -> Value {
    let offset = i32::try_from(offset.max(0)).unwrap_or(i32::MAX);
    Value::Array(vec![
        Value::String(data),
        Value::Int(offset),
        Value::Bool(overflow),
    ])
}

/// supervisord's `tailFile`: `[bytes, offset, overflow]`, the offset being the log's size; a
/// log that is missing or unreadable gives `["", offset, false]`.
pub fn tail_log(path: &Path, offset: i64, length: i64) -> Value {
    let Ok((mut file, size)) = open_log(path) else {
        let exists = path.symlink_metadata().is_ok();
        return tail_value(String::new(), if exists { offset } else { 0 }, false);
    };
    let sz = size as i64;
    let (mut offset, mut length) = (offset, length.min(MAX_READ as i64));
    let mut overflow = false;
    if sz > offset + length {
        overflow = true;
        offset = sz - 1;
    }
    if offset + length > sz {
        if offset > sz - 1 {
            length = 0;
        }
        offset = sz - length;
    }
    let (offset, length) = (offset.max(0), length.max(0));
    let data = match length {
        0 => Ok(String::new()),
        _ => read_range(&mut file, offset as u64, length as u64),
    };
    match data {
        Ok(data) => tail_value(data, sz, overflow),
        Err(_) => tail_value(String::new(), offset, false),
    }
}

#[cfg(test)]
mod tests;
