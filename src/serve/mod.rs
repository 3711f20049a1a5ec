//! `svc serve` (SPEC §10): a small resident process that speaks the protocols fleets already
//! use — supervisord's XML-RPC (`POST /RPC2`), Prometheus' text format (`GET /metrics`) and a
//! read-only status page (`GET /`) — over a UNIX socket, and over TCP with credentials.
//!
//! This module owns the protocols only. What a request does to services goes through a
//! [`Backend`], which the `serve` command implements with the same code, locks and identity
//! checks as the command line (`cmd::serve`), so a remote client and the CLI never disagree.
//!
//! - [`http`]: the HTTP/1.1 connection (httparse), its limits (1 MiB body, 30 s per request),
//!   basic authentication ([`auth`]) and the accept loop ([`server`]).
//! - [`xmlrpc`]: XML-RPC values, `methodCall` read (quick-xml) and `methodResponse` written;
//!   [`rpc`]: supervisord's methods, fields, state and fault codes over a [`Backend`].
//! - [`metrics`]: the Prometheus text (also `svc status --prometheus`); [`page`]: the HTML page.

pub mod auth;
pub mod base64;
pub mod http;
pub mod metrics;
pub mod page;
pub mod rpc;
pub mod server;
pub mod xmlrpc;

use std::path::PathBuf;

use crate::output::StatusRow;

/// One service as the protocols see it: its `status --json` row (with usage), and what the
/// XML-RPC process info needs besides.
#[derive(Debug, Clone)]
pub struct Service {
    pub row: StatusRow,
    /// A `socket:` (on-demand) service: in the metrics and on the page, never an XML-RPC
    /// process (SPEC §10).
    pub on_demand: bool,
    /// Its log file (`log: none` has none).
    pub log: Option<PathBuf>,
}

/// A fault as supervisord names it: code and text (`faultString` is `NAME: text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub text: String,
}

impl Fault {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const INCORRECT_PARAMETERS: i32 = 2;
    pub const BAD_ARGUMENTS: i32 = 3;
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    pub const SUCCESS: i32 = 80;

    pub fn new(code: i32, text: impl Into<String>) -> Fault {
        Fault {
            code,
            text: text.into(),
        }
    }

    /// supervisord's name of a fault code (`BAD_NAME`).
    pub fn name(code: i32) -> &'static str {
        match code {
            Fault::UNKNOWN_METHOD => "UNKNOWN_METHOD",
            Fault::INCORRECT_PARAMETERS => "INCORRECT_PARAMETERS",
            Fault::BAD_ARGUMENTS => "BAD_ARGUMENTS",
            Fault::SIGNATURE_UNSUPPORTED => "SIGNATURE_UNSUPPORTED",
            Fault::SHUTDOWN_STATE => "SHUTDOWN_STATE",
            Fault::BAD_NAME => "BAD_NAME",
            Fault::BAD_SIGNAL => "BAD_SIGNAL",
            Fault::NO_FILE => "NO_FILE",
            Fault::NOT_EXECUTABLE => "NOT_EXECUTABLE",
            Fault::FAILED => "FAILED",
            Fault::ABNORMAL_TERMINATION => "ABNORMAL_TERMINATION",
            Fault::SPAWN_ERROR => "SPAWN_ERROR",
            Fault::ALREADY_STARTED => "ALREADY_STARTED",
            Fault::NOT_RUNNING => "NOT_RUNNING",
            Fault::SUCCESS => "SUCCESS",
            _ => "UNKNOWN",
        }
    }

    /// supervisord's `faultString`: `NAME` or `NAME: text`.
    pub fn string(&self) -> String {
        match self.text.is_empty() {
            true => Fault::name(self.code).to_string(),
            false => format!("{}: {}", Fault::name(self.code), self.text),
        }
    }
}

/// What a request may do to services. Implemented by the `serve` command over the lifecycle,
/// with the command line's locks and identity checks; faults carry supervisord's codes.
/// Shared by the connection threads: every method may be called from several at once.
pub trait Backend: Sync {
    /// Every service with a valid definition, in name order, with its status and usage.
    fn services(&self) -> Vec<Service>;
    /// One service: `BAD_NAME` when there is no valid definition of that name.
    fn service(&self, name: &str) -> Result<Service, Fault>;
    /// Starts a service as `svc start NAME` does (its requirements first). `ALREADY_STARTED`
    /// when it runs, `SPAWN_ERROR` (with svc's reason) when it fails to start.
    fn start(&self, name: &str) -> Result<(), Fault>;
    /// Stops a service as `svc stop NAME` does. `NOT_RUNNING` when it does not run, `FAILED`
    /// (with svc's reason) when it cannot be stopped.
    fn stop(&self, name: &str) -> Result<(), Fault>;
    /// Sends `signal` to the running service's main process after the identity checks of
    /// `svc reload`. `NOT_RUNNING`, `FAILED`.
    fn signal(&self, name: &str, signal: nix::sys::signal::Signal) -> Result<(), Fault>;
    /// The current runlevel (`S` for single user), `None` when unknown.
    fn runlevel(&self) -> Option<char>;
    /// The PID of `svc serve` (supervisord's `getPID`).
    fn pid(&self) -> i32 {
        std::process::id() as i32
    }
}

/// An answer to one HTTP request, before the connection writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    /// A short plain-text answer (errors): says nothing about services.
    pub fn text(status: u16, text: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", format!("{text}\n"))
    }
}

/// The one router: what an authenticated request gets. `method` and `path` as the request
/// line gave them (the query string is ignored).
pub fn respond(backend: &dyn Backend, method: &str, path: &str, body: &[u8]) -> Response {
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("POST", "/RPC2") => Response::new(200, "text/xml", rpc::handle(backend, body)),
        ("GET" | "HEAD", "/metrics") => Response::new(
            200,
            metrics::CONTENT_TYPE,
            metrics::render(&backend.services(), backend.runlevel()),
        ),
        ("GET" | "HEAD", "/") => Response::new(
            200,
            "text/html; charset=utf-8",
            page::render(&backend.services(), backend.runlevel()),
        ),
        (_, "/RPC2" | "/metrics" | "/") => Response::text(405, "method not allowed"),
        _ => Response::text(404, "not found"),
    }
}
