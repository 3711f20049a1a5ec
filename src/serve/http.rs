//! One HTTP/1.1 connection of `svc serve`: requests read with httparse under SPEC §10's
//! bounds, answered through a router (the server passes [`super::respond`]).
//!
//! The bounds, each answered so a client can tell: a request head over [`Limits::head`] gets
//! 431, a `Transfer-Encoding` (chunked) body 411 (svc reads `Content-Length` bodies only), a
//! body over [`Limits::body`] 413 before any of it is read; a client that has not sent its
//! whole request within [`Limits::request`] of its first byte is dropped, as is a kept-alive
//! connection idle for [`Limits::idle`]. Credentials are checked before anything is routed:
//! without them every path gets the same 401, whose body names nothing.
//!
//! Keep-alive is HTTP/1.1's default (supervisorctl and Python's http.client reuse their
//! connection); HTTP/1.0 and `Connection: close` close after the answer, and so does every
//! error that leaves part of a request unread. The router runs under `catch_unwind`: a panic
//! answers 500 and ends this connection only.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::auth::Credentials;
use super::Response;

/// The bounds of one connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line and headers, in bytes.
    pub head: usize,
    /// The body, in bytes (`Content-Length`).
    pub body: usize,
    /// From a request's first byte to its last.
    pub request: Duration,
    /// Between requests of a kept-alive connection (and before the first).
    pub idle: Duration,
    /// Writing one answer.
    pub write: Duration,
}

impl Default for Limits {
    /// SPEC §10's: 16 KiB of head, 1 MiB of body, 30 s per request.
    fn default() -> Limits {
        Limits {
            head: 16 << 10,
            body: 1 << 20,
            request: Duration::from_secs(30),
            idle: Duration::from_secs(30),
            write: Duration::from_secs(30),
        }
    }
}

/// Headers read per request; more is answered 431.
const MAX_HEADERS: usize = 64;
/// How long the unread rest of a refused request is drained before closing, so the client
/// reads the answer instead of a reset.
const LINGER: Duration = Duration::from_secs(1);

/// A connected socket: TCP or the UNIX socket.
pub trait Stream: Read + Write {
    fn read_timeout(&self, t: Duration) -> io::Result<()>;
    fn write_timeout(&self, t: Duration) -> io::Result<()>;
    fn close_write(&self) -> io::Result<()>;
}

macro_rules! stream {
    ($t:ty) => {
        impl Stream for $t {
            fn read_timeout(&self, t: Duration) -> io::Result<()> {
                self.set_read_timeout(Some(t.max(Duration::from_millis(1))))
            }
            fn write_timeout(&self, t: Duration) -> io::Result<()> {
                self.set_write_timeout(Some(t.max(Duration::from_millis(1))))
            }
            fn close_write(&self) -> io::Result<()> {
                self.shutdown(Shutdown::Write)
            }
        }
    };
}
stream!(TcpStream);
stream!(UnixStream);

/// What answers an authenticated request: method, path, body.
pub type Router<'a> = &'a (dyn Fn(&str, &str, &[u8]) -> Response + Sync);

/// What a request head said, owned (httparse borrows the buffer).
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    /// Its length in the buffer.
    len: usize,
    keep_alive: bool,
    content_length: usize,
    chunked: bool,
    expect_continue: bool,
    authorized: bool,
    /// `Content-Type: text/xml` (XML-RPC's, which every client sends and a web page cannot
    /// without a preflight this server never answers).
    xml: bool,
    /// `Origin` or `Sec-Fetch-Site: cross-site|same-site`: sent by a browser for a request
    /// another page made.
    cross_site: bool,
}

/// Why reading stopped.
enum Stop {
    /// The client closed, or the socket failed: nothing to answer.
    Gone,
    /// The request was not complete in time.
    Slow,
    /// Answer this, then close.
    Refuse(u16, &'static str),
}

/// Serves requests on one connection until it closes, errs or stalls. `auth`: the credentials
/// a request must carry (`None` on the UNIX socket, whose mode is its guard). `peer` names the
/// client in the lines logged for refused requests.
pub fn serve<S: Stream>(
    mut stream: S,
    auth: Option<&Credentials>,
    route: Router,
    limits: &Limits,
    peer: &str,
) {
    let mut buf: Vec<u8> = Vec::new();
    // The first request's time counts from the accept: a client that connects and sends
    // nothing holds its slot no longer than one that sends slowly.
    let mut first = Some(Instant::now() + limits.request);
    loop {
        if buf.is_empty() {
            let idle_until = first.unwrap_or_else(|| Instant::now() + limits.idle);
            if fill(&mut stream, &mut buf, idle_until).is_err() {
                return; // closed or idle: no request was under way
            }
        }
        let deadline = first
            .take()
            .unwrap_or_else(|| Instant::now() + limits.request);
        let head = match read_head(&mut stream, &mut buf, deadline, limits, auth) {
            Ok(h) => h,
            Err(Stop::Gone) => return,
            Err(Stop::Slow) => {
                log(
                    peer,
                    "dropped: the request was not complete within the time allowed",
                );
                return;
            }
            Err(Stop::Refuse(status, text)) => {
                log(peer, format_args!("{status}: {text}"));
                return refuse(&mut stream, status, text, limits);
            }
        };
        let unread = head.content_length > 0;
        if !head.authorized {
            log(
                peer,
                format_args!("401 {} {}", head.method, shown(&head.path)),
            );
            let r = Response::text(401, "authentication required");
            let keep = head.keep_alive && !unread;
            if answer(&mut stream, &r, head.method == "HEAD", keep, limits).is_err() || !keep {
                linger(&mut stream);
                return;
            }
            buf.drain(..head.len);
            continue;
        }
        if head.content_length > limits.body {
            log(
                peer,
                format_args!("413 {} {}", head.method, shown(&head.path)),
            );
            return refuse(&mut stream, 413, "request body too large", limits);
        }
        // What changes services is asked for by an XML-RPC client, never by a web page the
        // operator's browser (holding the credentials) happens to show (cross-site requests).
        if head.method == "POST" && (head.cross_site || !head.xml) {
            let (status, text) = match head.cross_site {
                true => (403, "cross-site requests are refused"),
                false => (415, "a POST body must be XML-RPC (Content-Type: text/xml)"),
            };
            log(
                peer,
                format_args!("{status} {} {}", head.method, shown(&head.path)),
            );
            return refuse(&mut stream, status, text, limits);
        }
        if head.expect_continue && unread && buf.len() == head.len {
            let _ = stream.write_timeout(limits.write);
            if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
        }
        let end = head.len + head.content_length;
        while buf.len() < end {
            match fill(&mut stream, &mut buf, deadline) {
                Ok(()) => {}
                Err(Stop::Slow) => {
                    log(peer, "dropped: the request body did not arrive in time");
                    return;
                }
                Err(_) => return,
            }
        }
        let body = &buf[head.len..end];
        let response =
            match catch_unwind(AssertUnwindSafe(|| route(&head.method, &head.path, body))) {
                Ok(r) => r,
                Err(_) => Response::text(500, "internal error"),
            };
        if response.status >= 500 {
            log(
                peer,
                format_args!("{} {} {}", response.status, head.method, shown(&head.path)),
            );
        }
        let keep = head.keep_alive && response.status != 500;
        if answer(&mut stream, &response, head.method == "HEAD", keep, limits).is_err() || !keep {
            return;
        }
        // What follows (a pipelined request) stays; a large body's buffer is let go.
        buf = buf.split_off(end);
    }
}

/// Answers `status` with `text` and closes the connection (what is left of the request is
/// never read: see [`linger`]).
fn refuse<S: Stream>(stream: &mut S, status: u16, text: &str, limits: &Limits) {
    let _ = answer(stream, &Response::text(status, text), false, false, limits);
    linger(stream);
}

/// Reads more of the request into `buf`, waiting until `deadline` at most.
fn fill<S: Stream>(stream: &mut S, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), Stop> {
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::Slow);
        }
        stream.read_timeout(left).map_err(|_| Stop::Gone)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Stop::Gone),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Stop::Slow)
            }
            Err(_) => return Err(Stop::Gone),
        }
    }
}

/// Reads until the head is complete and checks it.
fn read_head<S: Stream>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
    limits: &Limits,
    auth: Option<&Credentials>,
) -> Result<Head, Stop> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) if len <= limits.head => {
                return head(&req, len, auth);
            }
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) if buf.len() < limits.head => {
                fill(stream, buf, deadline)?;
                continue;
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {}
            Err(_) => return Err(Stop::Refuse(400, "malformed request")),
        }
        return Err(Stop::Refuse(431, "request header fields too large"));
    }
}

/// The head's meaning for this server.
fn head(req: &httparse::Request, len: usize, auth: Option<&Credentials>) -> Result<Head, Stop> {
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(Stop::Refuse(400, "malformed request"));
    };
    let mut h = Head {
        method: method.to_string(),
        path: path.to_string(),
        len,
        keep_alive: version == 1,
        content_length: 0,
        chunked: false,
        expect_continue: false,
        authorized: auth.is_none(),
        xml: false,
        cross_site: false,
    };
    let mut length: Option<usize> = None;
    let mut authorization: Option<&[u8]> = None;
    for hd in req.headers.iter() {
        let value = hd.value;
        if hd.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(value).unwrap_or("").trim();
            let n = match text.bytes().all(|b| b.is_ascii_digit()) {
                true => text.parse::<usize>().ok(),
                false => None,
            };
            match (n, length) {
                (None, _) => return Err(Stop::Refuse(400, "invalid Content-Length")),
                (Some(n), Some(before)) if n != before => {
                    return Err(Stop::Refuse(400, "conflicting Content-Length"))
                }
                (Some(n), _) => length = Some(n),
            }
        } else if hd.name.eq_ignore_ascii_case("transfer-encoding") {
            h.chunked = true;
        } else if hd.name.eq_ignore_ascii_case("connection") {
            for token in String::from_utf8_lossy(value).split(',') {
                if token.trim().eq_ignore_ascii_case("close") {
                    h.keep_alive = false;
                }
            }
        } else if hd.name.eq_ignore_ascii_case("expect") {
            h.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        } else if hd.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value);
        } else if hd.name.eq_ignore_ascii_case("content-type") {
            let media = value.split(|b| *b == b';').next().unwrap_or(b"");
            h.xml = media.trim_ascii().eq_ignore_ascii_case(b"text/xml");
        } else if hd.name.eq_ignore_ascii_case("origin") {
            h.cross_site = true;
        } else if hd.name.eq_ignore_ascii_case("sec-fetch-site") {
            h.cross_site |= !value.trim_ascii().eq_ignore_ascii_case(b"same-origin")
                && !value.trim_ascii().eq_ignore_ascii_case(b"none");
        }
    }
    if h.chunked {
        return Err(Stop::Refuse(
            411,
            "length required: send the body with Content-Length, not chunked",
        ));
    }
    h.content_length = length.unwrap_or(0);
    if let Some(creds) = auth {
        h.authorized = creds.admit(authorization);
    }
    Ok(h)
}

/// Writes one answer: status line, headers, the body unless `head_only`.
fn answer<S: Stream>(
    stream: &mut S,
    r: &Response,
    head_only: bool,
    keep_alive: bool,
    limits: &Limits,
) -> io::Result<()> {
    stream.write_timeout(limits.write)?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    if r.status == 401 {
        out.push_str("WWW-Authenticate: Basic realm=\"svc\"\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&r.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}

/// After an answer that leaves part of the request unread: stop writing and read (and drop)
/// what still comes for a moment, so closing does not reset the connection before the client
/// has read the answer.
fn linger<S: Stream>(stream: &mut S) {
    let _ = stream.close_write();
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    while Instant::now() < until {
        if stream.read_timeout(until - Instant::now()).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A path as it may be logged: printable, bounded.
fn shown(path: &str) -> String {
    path.chars()
        .take(200)
        .flat_map(char::escape_default)
        .collect()
}

/// One line on stderr about a refused or failed request; never a header's value.
pub fn log(peer: &str, what: impl std::fmt::Display) {
    eprintln!("svc: serve: {peer}: {what}");
}

/// The answer to a connection the server has no room for: written without waiting, then closed.
pub fn busy<S: Stream>(mut stream: S) {
    let r = Response::text(503, "too many connections");
    let limits = Limits {
        write: Duration::from_millis(100),
        ..Limits::default()
    };
    let _ = answer(&mut stream, &r, false, false, &limits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::password_hash;

    fn limits() -> Limits {
        Limits {
            head: 1024,
            body: 100,
            request: Duration::from_millis(300),
            idle: Duration::from_secs(5),
            write: Duration::from_secs(5),
        }
    }

    fn router(method: &str, path: &str, body: &[u8]) -> Response {
        match path {
            "/panic" => panic!("a handler that panics"),
            "/echo" => Response::new(200, "text/plain", body.to_vec()),
            _ => Response::text(200, &format!("{method} {path}")),
        }
    }

    /// Runs one connection on a socket pair with `auth`; the client's end and the server thread.
    fn connect(auth: Option<Credentials>) -> (UnixStream, std::thread::JoinHandle<()>) {
        let (client, server) = UnixStream::pair().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let t = std::thread::spawn(move || {
            serve(server, auth.as_ref(), &router, &limits(), "test");
        });
        (client, t)
    }

    /// Reads one answer: status, head, body (by Content-Length).
    fn read_answer(c: &mut UnixStream) -> (u16, String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(c.read(&mut byte).unwrap(), 1, "closed mid-head: {buf:?}");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        c.read_exact(&mut body).unwrap();
        (status, head, body)
    }

    fn closed(c: &mut UnixStream) -> bool {
        let mut b = [0u8; 16];
        matches!(c.read(&mut b), Ok(0) | Err(_))
    }

    #[test]
    fn requests_on_a_kept_alive_connection_are_answered_in_order() {
        let (mut c, t) = connect(None);
        c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (status, head, body) = read_answer(&mut c);
        assert_eq!(status, 200);
        assert!(head.contains("Connection: keep-alive"), "{head}");
        assert_eq!(body, b"GET /a\n");
        // Two pipelined, the first with a body.
        c.write_all(b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut c).2, b"hello");
        let (_, head, body) = read_answer(&mut c);
        assert!(head.contains("Connection: close"), "{head}");
        assert_eq!(body, b"GET /b\n");
        assert!(closed(&mut c));
        t.join().unwrap();
    }

    #[test]
    fn http_1_0_closes_and_head_gets_no_body() {
        let (mut c, t) = connect(None);
        c.write_all(b"HEAD /x HTTP/1.0\r\n\r\n").unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        let text = String::from_utf8(all).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Length: 8\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
        t.join().unwrap();
    }

    #[test]
    fn credentials_are_asked_for_on_every_path() {
        let creds = Credentials {
            username: "admin".into(),
            password: password_hash("{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4").unwrap(),
        };
        let (mut c, t) = connect(Some(creds));
        for req in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET /metrics HTTP/1.1\r\nAuthorization: Basic YWRtaW46c2VjcmV1\r\n\r\n",
        ] {
            c.write_all(req).unwrap();
            let (status, head, body) = read_answer(&mut c);
            assert_eq!(status, 401);
            assert!(
                head.contains("WWW-Authenticate: Basic realm=\"svc\"\r\n"),
                "{head}"
            );
            assert_eq!(body, b"authentication required\n");
        }
        c.write_all(b"GET /ok HTTP/1.1\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut c).0, 200);
        // A refused request with a body closes (the body is never read).
        c.write_all(
            b"POST /RPC2 HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 3\r\n\r\nabc",
        )
        .unwrap();
        assert_eq!(read_answer(&mut c).0, 401);
        assert!(closed(&mut c));
        t.join().unwrap();
    }

    #[test]
    fn bounds_are_answered_and_close() {
        let cases: [(&[u8], u16); 8] = [
            // What a web page can send: a form, or XML with the browser's Origin.
            (b"POST /RPC2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 415),
            (
                b"POST /RPC2 HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
                415,
            ),
            (
                b"POST /RPC2 HTTP/1.1\r\nContent-Type: text/xml\r\nOrigin: http://evil.example\r\nContent-Length: 3\r\n\r\nabc",
                403,
            ),
            (b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 101\r\n\r\n", 413),
            (
                b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n",
                411,
            ),
            (b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: x\r\n\r\n", 400),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (b"\x01\x02 nonsense\r\n\r\n", 400),
        ];
        for (req, want) in cases {
            let (mut c, t) = connect(None);
            c.write_all(req).unwrap();
            let (status, head, _) = read_answer(&mut c);
            assert_eq!(status, want, "{}", String::from_utf8_lossy(req));
            assert!(head.contains("Connection: close"), "{head}");
            assert!(closed(&mut c));
            t.join().unwrap();
        }
        let (mut c, t) = connect(None);
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(2000));
        c.write_all(long.as_bytes()).unwrap();
        assert_eq!(read_answer(&mut c).0, 431);
        t.join().unwrap();
    }

    #[test]
    fn a_client_that_stalls_mid_request_is_dropped() {
        let (mut c, t) = connect(None);
        let start = Instant::now();
        c.write_all(
            b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 10\r\n\r\nabc",
        )
        .unwrap();
        assert!(closed(&mut c));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(4), "{took:?}");
        t.join().unwrap();
    }

    #[test]
    fn a_panicking_handler_answers_500_and_ends_only_its_connection() {
        let (mut c, t) = connect(None);
        c.write_all(b"GET /panic HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_answer(&mut c).0, 500);
        assert!(closed(&mut c));
        t.join().expect("the connection thread ends normally");
    }

    #[test]
    fn expect_continue_is_answered_before_the_body() {
        let (mut c, t) = connect(None);
        c.write_all(b"POST /echo HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
            .unwrap();
        let mut cont = [0u8; 25];
        c.read_exact(&mut cont).unwrap();
        assert_eq!(&cont, b"HTTP/1.1 100 Continue\r\n\r\n");
        c.write_all(b"hi").unwrap();
        assert_eq!(read_answer(&mut c).2, b"hi");
        drop(c);
        t.join().unwrap();
    }
}
