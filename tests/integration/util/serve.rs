//! `svc serve` as a test runs it (SPEC §10): started on a sandbox, waited for until its UNIX
//! socket answers, stopped with SIGTERM and finished with a deadline (killed on drop otherwise);
//! a minimal HTTP/1.1 client over its UNIX socket or TCP; svc.yaml's `serve:` credentials.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::{finish_child, kill_child, wait_until, Run, Sandbox};

/// The user name and password the serve tests configure for TCP.
pub const SERVE_USER: &str = "fleet";
pub const SERVE_PASSWORD: &str = "s3cret pass";

/// Writes svc.yaml with `serve:` listening on `127.0.0.1:port`, with [`SERVE_USER`] and the
/// `{SHA}` (SHA-1, supervisord's form) of [`SERVE_PASSWORD`].
pub fn serve_settings(sb: &Sandbox, port: u16) {
    use sha1::Digest;
    let hex: String = sha1::Sha1::digest(SERVE_PASSWORD.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        sb.config.join("svc.yaml"),
        format!(
            "serve:\n  listen: \"127.0.0.1:{port}\"\n  username: {SERVE_USER}\n  password: \"{{SHA}}{hex}\"\n"
        ),
    )
    .unwrap();
}

/// A running `svc serve`.
pub struct Serve {
    child: Option<Child>,
    pub socket: PathBuf,
}

impl Serve {
    /// Starts `svc serve ARGS` on `sb` and waits (deadline) until its socket accepts.
    #[track_caller]
    pub fn start(sb: &Sandbox, args: &[&str]) -> Serve {
        let child = sb
            .cmd(std::iter::once("serve").chain(args.iter().copied()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn svc serve");
        let mut serve = Serve {
            child: Some(child),
            socket: sb.state.join("svc.sock"),
        };
        let socket = serve.socket.clone();
        wait_until(Duration::from_secs(20), "svc serve's socket", || {
            if let Some(Ok(Some(st))) = serve.child.as_mut().map(Child::try_wait) {
                panic!("svc serve exited early: {st}");
            }
            UnixStream::connect(&socket).is_ok()
        });
        serve
    }

    /// Waits (deadline) until 127.0.0.1:`port` accepts, failing early if the server exited.
    #[track_caller]
    pub fn wait_tcp(&self, port: u16) {
        wait_until(
            Duration::from_secs(20),
            "svc serve to listen on TCP",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGTERM, then its exit and output (deadline 20 s).
    #[track_caller]
    pub fn stop(mut self) -> Run {
        let child = self.child.take().expect("running");
        super::send_signal(child.id() as i32, libc::SIGTERM);
        finish_child(child, &["serve".to_string()], Duration::from_secs(20))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_child(&mut c);
        }
    }
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) on `stream` and reads the whole answer (10 s
/// deadline). `auth`: user and password for basic authentication.
#[track_caller]
pub fn http_on<S: Read + Write>(
    mut stream: S,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> Answer {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: text/xml\r\n");
    }
    if let Some((u, p)) = auth {
        req.push_str(&format!(
            "Authorization: Basic {}\r\n",
            svc::serve::base64::encode(format!("{u}:{p}").as_bytes())
        ));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("send request");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// [`http_on`] over the UNIX socket of `serve`.
#[track_caller]
pub fn http_unix(serve: &Serve, method: &str, path: &str, body: &[u8]) -> Answer {
    let s = UnixStream::connect(&serve.socket).expect("connect to svc.sock");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    http_on(s, method, path, None, body)
}

/// [`http_on`] over TCP to 127.0.0.1:`port`.
#[track_caller]
pub fn http_tcp(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> Answer {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to svc serve");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    http_on(s, method, path, auth, body)
}

/// The resident memory (KiB) and the number of open descriptors of process `pid`.
pub fn rss_and_fds(pid: i32) -> (u64, usize) {
    let rss = super::proc_status_field(pid, "VmRSS")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

/// supervisorctl from PyPI's `supervisor`, in `target/supervisor-venv` (`.ci/run` installs it);
/// `None` after [`super::skip`] says why (a failure under `SVC_TEST_STRICT=1`).
#[track_caller]
pub fn supervisorctl(test: &str) -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/supervisor-venv/bin/supervisorctl");
    if p.is_file() {
        Some(p)
    } else {
        super::skip(
            test,
            &format!("{} is missing (bash .ci/run installs it)", p.display()),
        );
        None
    }
}
