//! The network health checks a supervisor runs (SPEC §8.6; docs/services.md, "Health checks"):
//! a TCP connect and a plain-HTTP GET, each bounded by the check's timeout so that the
//! supervisor's loop never waits longer. The `exec` check runs a command the service's way,
//! which the exec kind provides ([`super::Instances::check`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The addresses of HOST:PORT (a numeric host is not looked up). A name is looked up in a
/// thread, waited for until `deadline` at most: a slow resolver never holds the supervisor
/// past the check's timeout (the thread ends on its own when the lookup does).
fn addresses(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("svc-resolve".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(|a| a.collect()));
        })
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Err(_) => Err(format!("{host}:{port}: timed out looking up {host}")),
    }
}

/// Connects to the first address that answers before `deadline` (a non-blocking connect with a
/// deadline, per address).
fn connect(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, String> {
    let addrs = addresses(host, port, deadline)?;
    let mut last = format!("{host}:{port}: no address");
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{host}:{port}: timed out"));
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!("{host}:{port}: connect timed out")
            }
            Err(e) => last = format!("{host}:{port}: {e}"),
        }
    }
    Err(last)
}

/// `tcp: "HOST:PORT"`: a connect succeeds within `timeout`.
pub fn tcp(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    connect(host, port, Instant::now() + timeout)
        .map(drop)
        .map_err(|e| format!("tcp {e}"))
}

/// `http: URL`: a GET of `path` is answered, within `timeout`, with a status from 200 to 399.
pub fn http(url: &str, host: &str, port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let fail = |e: String| format!("http {url}: {e}");
    let mut s = connect(host, port, deadline).map_err(fail)?;
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: svc-health\r\nConnection: close\r\n\r\n"
    );
    let left = |what: &str| {
        let d = deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err(fail(format!("timed out {what}")))
        } else {
            Ok(d)
        }
    };
    s.set_write_timeout(Some(left("sending the request")?))
        .map_err(|e| fail(e.to_string()))?;
    s.write_all(request.as_bytes())
        .map_err(|e| fail(format!("sending the request: {e}")))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        s.set_read_timeout(Some(left("waiting for the answer")?))
            .map_err(|e| fail(e.to_string()))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(fail("timed out waiting for the answer".into()))
            }
            Err(e) => return Err(fail(format!("reading the answer: {e}"))),
        }
    }
    let code = status_code(&head).ok_or_else(|| fail("not an HTTP answer".into()))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(fail(format!("status {code}")))
    }
}

/// The status code of an HTTP status line `HTTP/1.x NNN reason`.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_ascii_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 302 Found\r\nLocation: /"), Some(302));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 2000 x\r\n"), None);
    }

    #[test]
    fn a_closed_port_fails_and_an_open_one_passes() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(tcp("127.0.0.1", port, Duration::from_secs(2)), Ok(()));
        assert_eq!(tcp("localhost", port, Duration::from_secs(2)), Ok(()));
        drop(l);
        let e = tcp("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        assert!(e.starts_with(&format!("tcp 127.0.0.1:{port}: ")), "{e}");
    }

    #[test]
    fn http_status_decides_and_silence_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/");
        let serve = |answer: &'static [u8]| {
            let (mut c, _) = l.accept().unwrap();
            let mut b = [0u8; 1024];
            let _ = c.read(&mut b);
            c.write_all(answer).unwrap();
        };
        std::thread::scope(|s| {
            s.spawn(|| serve(b"HTTP/1.0 204 No Content\r\n\r\n"));
            assert_eq!(
                http(&url, "127.0.0.1", port, "/", Duration::from_secs(2)),
                Ok(())
            );
        });
        std::thread::scope(|s| {
            s.spawn(|| serve(b"HTTP/1.0 503 Busy\r\n\r\n"));
            let e = http(&url, "127.0.0.1", port, "/", Duration::from_secs(2)).unwrap_err();
            assert!(e.ends_with("status 503"), "{e}");
        });
        // Accepted by the kernel, never answered.
        let t = Instant::now();
        let e = http(&url, "127.0.0.1", port, "/", Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
