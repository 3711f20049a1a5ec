//! `svc serve`'s metrics and status page with real clients nobody here wrote (SPEC §10, issue
//! 15): `promtool check metrics` on `svc status --prometheus` (and on the renderer with every
//! state and awkward label values); a real Prometheus, started on loopback, scraping `svc serve`
//! over TCP with basic authentication until its API says `up == 1` and has `svc_service_up` for
//! every service; headless Chromium loading the page (with the credentials in the URL), whose
//! DOM names every service and whose screenshot is more than an empty page.
//!
//! The sandbox's services cover the states a fleet shows: `web` running, `idle` stopped,
//! `crashed` dead (killed behind svc's back), and `echo`, a `socket:` service (on demand).
//! Every process a test starts is killed when it ends, failed or not ([`Daemon`], util's
//! `Serve`, and the sandbox's own guard for anything left with the sandbox in its command line).

use crate::util::*;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a server may take to come up, or Prometheus to have scraped.
const T: Duration = Duration::from_secs(60);

/// The services of the sandbox, in the order svc lists them (by name).
const NAMES: [&str; 4] = ["crashed", "echo", "idle", "web"];

/// [`fleet`] served: `svc serve` listening on TCP (from svc.yaml, with the test credentials)
/// on the port it gives back.
fn fleet_served() -> (Sandbox, u16, Serve) {
    let sb = fleet();
    let port = free_port();
    serve_settings(&sb, port);
    let serve = Serve::start(&sb, &[]);
    serve.wait_tcp(port);
    (sb, port, serve)
}

/// The sandbox: runlevel 3 recorded (no links: the switch changes nothing), `web` running,
/// `idle` stopped, `crashed` dead, `echo` a `socket:` service nobody listens for.
fn fleet() -> Sandbox {
    let sb = Sandbox::new();
    sb.svc(["switch", "3"]).ok().no_panic();
    for name in ["web", "idle", "crashed"] {
        let def = format!(
            "{}description: the \"{name}\" <service>\n",
            sb.sleeper(name)
        );
        sb.service(name, &def);
    }
    let port = free_port();
    sb.service(
        "echo",
        &format!("exec: /bin/cat\nsocket: {{ port: {port}, bind: 127.0.0.1 }}\n"),
    );
    start_sleeper(&sb, "web");
    let pid = start_sleeper(&sb, "crashed");
    // SAFETY: kill(2) of the daemon (and its group) this test started through svc.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until(T, "crashed to die", || !alive(pid));
    sb
}

/// The samples of an exposition text: `name{labels}` (as written) to value.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("sample without a value: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `promtool check metrics` on `text`: its exit code and what it said.
fn promtool_check(promtool: &str, text: &str, dir: &Path) -> Run {
    let file = dir.join("metrics.prom");
    std::fs::write(&file, text).unwrap();
    let mut c = Command::new(promtool);
    c.args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap());
    output(c, vec!["promtool check metrics".into()], SVC_LIMIT)
}

/// Stops a service when the test ends, pass or fail (its supervisor with it).
struct StopOnDrop<'a>(&'a Sandbox, &'a str);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        run_quietly(self.0.cmd(["stop", self.1]), SVC_LIMIT);
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn status_prometheus_passes_promtool_and_says_what_status_says() {
    let test = "status_prometheus_passes_promtool_and_says_what_status_says";
    let Some(promtool) = tool(test, &["/usr/bin/promtool"], "prometheus") else {
        return;
    };
    let sb = fleet();
    // And a supervised service its supervisor restarted once: a counter that is not 0.
    let script = sb.script(
        "phoenix.sh",
        &format!(
            "#!/bin/sh\necho \"start $$\" >> {}/phoenix.starts\ntrap 'exit 0' TERM\n\
             while :; do sleep 1 & wait $!; done\n",
            sb.work.display()
        ),
    );
    sb.service(
        "phoenix",
        &format!(
            "exec: {}\nrespawn: true\nstop_timeout: 5\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "phoenix");
    sb.svc(["start", "phoenix"]).ok().no_panic();
    let starts = sb.work.join("phoenix.starts");
    wait_until(T, "phoenix's first start", || {
        file_lines(&starts).len() == 1
    });
    send_signal(sb.pid("phoenix"), libc::SIGKILL);
    wait_until(T, "phoenix restarted and running", || {
        let st = status_json(&sb, "phoenix");
        st["restarts"] == 1 && st["state"] == "running"
    });
    let names: Vec<&str> = NAMES.iter().copied().chain(["phoenix"]).collect();
    let before = now_secs();
    let r = sb.svc(["status", "--prometheus"]);
    r.ok().no_panic();
    let check = promtool_check(promtool, &r.stdout, &sb.work);
    assert_eq!(
        check.code, 0,
        "promtool refuses `svc status --prometheus`:\n{}{}\n--- the text\n{}",
        check.stdout, check.stderr, r.stdout
    );
    let s = samples(&r.stdout);
    let get = |k: &str| s.get(k).map(String::as_str);
    let states = [
        "running", "starting", "stopped", "dead", "failed", "done", "unknown",
    ];
    let json: serde_json::Value =
        serde_json::from_str(&sb.svc(["status", "--json"]).stdout).unwrap();
    for name in names.iter().copied() {
        let want = match name {
            "web" | "phoenix" => "running",
            "idle" => "stopped",
            "crashed" => "dead",
            // Nobody listens for it: whatever `status` says, the metrics say the same.
            _ => json
                .as_array()
                .and_then(|a| a.iter().find(|v| v["name"] == name))
                .and_then(|v| v["state"].as_str())
                .unwrap_or_else(|| panic!("{name} not in status --json")),
        };
        let up = if want == "running" { "1" } else { "0" };
        let key = format!("svc_service_up{{name=\"{name}\"}}");
        assert_eq!(get(&key), Some(up), "{key}\n{}", r.stdout);
        for st in states {
            let key = format!("svc_service_state{{name=\"{name}\",state=\"{st}\"}}");
            let v = if st == want { "1" } else { "0" };
            assert_eq!(get(&key), Some(v), "{key}\n{}", r.stdout);
        }
        let key = format!("svc_service_restarts_total{{name=\"{name}\"}}");
        let restarts = if name == "phoenix" { "1" } else { "0" };
        assert_eq!(get(&key), Some(restarts), "{key}\n{}", r.stdout);
        let start = format!("svc_service_start_time_seconds{{name=\"{name}\"}}");
        let memory = format!("svc_service_memory_bytes{{name=\"{name}\"}}");
        // Tasks only with containment (a cgroup; as root here): as `status --json` has them.
        let tasks = format!("svc_service_tasks{{name=\"{name}\"}}");
        let json_tasks = json
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == name))
            .map(|v| v["tasks"].as_u64());
        match (
            json_tasks.flatten(),
            get(&tasks).and_then(|v| v.parse::<u64>().ok()),
        ) {
            (None, None) => {}
            (Some(_), Some(n)) if want == "running" => assert!(n >= 1, "{tasks} = {n}"),
            (Some(_), Some(n)) => assert_eq!(n, 0, "{tasks}"),
            (j, m) => panic!("{tasks}: status --json says {j:?}, the metrics {m:?}"),
        }
        if want == "running" {
            let t: u64 = get(&start).unwrap_or("none").parse().unwrap_or_else(|_| {
                panic!("no numeric {start}\n{}", r.stdout);
            });
            assert!(
                t + 600 >= before && t <= now_secs(),
                "{start} = {t}, now {before}"
            );
            let m: u64 = get(&memory).and_then(|v| v.parse().ok()).unwrap_or(0);
            assert!(m > 0, "{memory} missing or 0\n{}", r.stdout);
        } else {
            for k in [&start, &memory] {
                assert_eq!(
                    get(k),
                    None,
                    "{k}: not running, nothing known\n{}",
                    r.stdout
                );
            }
        }
    }
    assert_eq!(get("svc_runlevel"), Some("3"), "{}", r.stdout);
    // Every sample is a service's of the sandbox (or the runlevel): nothing else leaks in.
    for k in s.keys().filter(|k| *k != "svc_runlevel") {
        assert!(
            names.iter().any(|n| k.contains(&format!("name=\"{n}\""))),
            "unexpected sample {k}"
        );
    }
}

/// A row as `status --json` would give it, in `state`.
fn row(name: &str, state: &'static str) -> svc::output::StatusRow {
    svc::output::StatusRow {
        name: name.to_string(),
        state,
        pid: None,
        uptime_s: None,
        rss_kib: None,
        description: None,
        runlevels: Vec::new(),
        note: None,
        restarts: None,
        last_exit: None,
        finished: None,
        health: None,
        health_error: None,
        since: None,
        processes: None,
        memory_bytes: None,
        tasks: None,
    }
}

#[test]
fn promtool_accepts_the_renderer_with_every_state_and_awkward_labels() {
    let test = "promtool_accepts_the_renderer_with_every_state_and_awkward_labels";
    let Some(promtool) = tool(test, &["/usr/bin/promtool"], "prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let states = [
        "running", "starting", "stopped", "dead", "failed", "done", "unknown",
    ];
    let mut services: Vec<svc::serve::Service> = states
        .iter()
        .map(|st| svc::serve::Service {
            row: row(&format!("s-{st}"), st),
            on_demand: false,
            log: None,
        })
        .collect();
    // Names svc would refuse, but the format must carry any label value.
    let mut odd = row("quote\"back\\slash\nline é", "running");
    odd.pid = Some(1);
    odd.since = Some("2026-11-24T23:59:59Z".into());
    odd.restarts = Some(7);
    odd.memory_bytes = Some(123_456);
    odd.tasks = Some(3);
    services.push(svc::serve::Service {
        row: odd,
        on_demand: true,
        log: None,
    });
    for level in [Some('S'), Some('2'), None] {
        let text = svc::serve::metrics::render(&services, level);
        let check = promtool_check(promtool, &text, dir.path());
        assert_eq!(
            check.code, 0,
            "promtool refuses the text:\n{}{}\n--- the text\n{text}",
            check.stdout, check.stderr
        );
        let s = samples(&text);
        let odd = "name=\"quote\\\"back\\\\slash\\nline é\"";
        assert_eq!(
            s.get(&format!("svc_service_restarts_total{{{odd}}}")),
            Some(&"7".to_string()),
            "{text}"
        );
        let level_sample = s.get("svc_runlevel").map(String::as_str);
        let want = level.map(|c| if c == 'S' { "-1" } else { "2" });
        assert_eq!(level_sample, want, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// svc serve over TCP, with its real clients.

/// Prometheus as the test runs it, its output in a file: killed, with its process group, when
/// dropped — also when the test fails.
struct Daemon {
    child: Child,
    what: &'static str,
    out: PathBuf,
}

impl Daemon {
    /// Starts `cmd` in its own process group, stdout and stderr into `dir/WHAT.out`.
    fn start(mut cmd: Command, what: &'static str, dir: &Path) -> Daemon {
        let out = dir.join(format!("{what}.out"));
        let file = std::fs::File::create(&out).unwrap();
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        Daemon { child, what, out }
    }

    /// What it wrote so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Fails the test, with its output, when it has exited.
    #[track_caller]
    fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited ({st}):\n{}", self.what, self.output());
        }
    }

    /// Waits until it accepts TCP connections on 127.0.0.1:`port`.
    #[track_caller]
    fn wait_listening(&mut self, port: u16) {
        wait_until(T, &format!("{} to listen on {port}", self.what), || {
            self.assert_running();
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

/// `%XX` for every byte but the unreserved ones (a query string's value).
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET path` from Prometheus at 127.0.0.1:`port`: status code and body; `None` when the
/// connection fails (a wait retries). HTTP/1.0, so Go answers without chunked encoding.
fn prometheus_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// Prometheus' answer to an instant query: each result's labels and value.
fn query(port: u16, q: &str) -> Vec<(serde_json::Value, String)> {
    let Some((200, body)) = prometheus_get(port, &format!("/api/v1/query?query={}", percent(q)))
    else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let value = r["value"][1].as_str().unwrap_or("").to_string();
                    (r["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_svc_serve_with_basic_auth() {
    let test = "prometheus_scrapes_svc_serve_with_basic_auth";
    let Some(prometheus) = tool(test, &["/usr/bin/prometheus"], "prometheus") else {
        return;
    };
    let (sb, port, serve) = fleet_served();
    // Without the credentials nothing is scraped: the job below only works through them.
    let anonymous = http_tcp(port, "GET", "/metrics", None, b"");
    assert_eq!(
        anonymous.status, 401,
        "GET /metrics without credentials: {anonymous:?}"
    );

    let config = sb.work.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: svc\n    basic_auth:\n      username: {SERVE_USER}\n      \
             password: \"{SERVE_PASSWORD}\"\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let mut cmd = Command::new(prometheus);
    cmd.env_clear()
        .env("HOME", sb.path())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            sb.work.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .current_dir(&sb.work);
    let mut prom = Daemon::start(cmd, "prometheus", &sb.work);
    prom.wait_listening(web);

    wait_until(T, "Prometheus to scrape svc serve (up == 1)", || {
        prom.assert_running();
        assert!(alive(serve.pid()), "svc serve is gone");
        query(web, "up{job=\"svc\"}").iter().any(|(_, v)| v == "1")
    });
    let mut ups = Vec::new();
    wait_until(T, "svc_service_up for every service", || {
        ups = query(web, "svc_service_up{job=\"svc\"}");
        NAMES
            .iter()
            .all(|n| ups.iter().any(|(m, _)| m["name"] == *n))
    });
    for (m, v) in &ups {
        let want = if m["name"] == "web" { "1" } else { "0" };
        assert_eq!(v, want, "svc_service_up of {m}");
    }
    assert_eq!(ups.len(), NAMES.len(), "{ups:?}");
    let dead = query(web, "svc_service_state{job=\"svc\",state=\"dead\"} == 1");
    let dead: Vec<&serde_json::Value> = dead.iter().map(|(m, _)| &m["name"]).collect();
    assert_eq!(
        dead,
        ["crashed"],
        "the dead services as Prometheus sees them"
    );
    drop(prom);
    serve.stop().no_panic();
}

/// `chromium --headless` with the flags a test needs (no sandbox: CI runs as root; nothing
/// fetched from elsewhere; a profile of its own in the sandbox), then `args`.
fn chromium(chromium: &str, sb: &Sandbox, profile: &str, args: &[String]) -> Run {
    let mut c = Command::new(chromium);
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.env_clear()
        .env("HOME", sb.path())
        .env("PATH", "/usr/bin:/bin")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1024,768",
        ])
        .arg(format!(
            "--user-data-dir={}",
            sb.work.join(profile).display()
        ))
        .args(args)
        .stdin(Stdio::null());
    let mut shown = vec!["chromium".to_string()];
    shown.extend(args.iter().cloned());
    let r = output(c, shown, SVC_LIMIT);
    // Its helpers (crashpad) may outlive it: the profile in the sandbox names them.
    kill_matching(&sb.work.join(profile));
    r
}

/// The width and height in a PNG's header; `None` when `data` is no PNG.
fn png_size(data: &[u8]) -> Option<(u32, u32)> {
    let sig = b"\x89PNG\r\n\x1a\n";
    if data.len() < 24 || &data[..8] != sig || &data[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&data[16..20]), be(&data[20..24])))
}

#[test]
fn chromium_shows_every_service_on_the_page() {
    let test = "chromium_shows_every_service_on_the_page";
    let Some(browser) = tool(test, &["/usr/bin/chromium"], "chromium") else {
        return;
    };
    let (sb, port, serve) = fleet_served();
    // Chromium sends credentials from the URL (percent-encoded there) after the server's 401
    // with `WWW-Authenticate: Basic`, as for any top-level page.
    let url = format!(
        "http://{}:{}@127.0.0.1:{port}/",
        percent(SERVE_USER),
        percent(SERVE_PASSWORD)
    );

    let r = chromium(browser, &sb, "dom", &["--dump-dom".into(), url.clone()]);
    assert_eq!(r.code, 0, "chromium --dump-dom: {}", r.stderr);
    let dom = &r.stdout;
    assert!(dom.contains("<table"), "no table in the DOM:\n{dom}");
    for name in NAMES {
        assert!(
            dom.contains(&format!("id=\"service-{name}\" data-name=\"{name}\"")),
            "no row for {name} in the DOM:\n{dom}"
        );
        assert!(
            dom.contains(&format!(">{name}<")),
            "{name} not shown:\n{dom}"
        );
    }
    for (name, state) in [("web", "running"), ("idle", "stopped"), ("crashed", "dead")] {
        assert!(
            dom.contains(&format!("data-name=\"{name}\" data-state=\"{state}\"")),
            "{name} not {state} in the DOM:\n{dom}"
        );
    }
    assert!(
        dom.contains("echo<span class=\"tag\">on demand</span>"),
        "echo not marked as a socket: service:\n{dom}"
    );
    // The description, escaped by the server, reaches the browser as text.
    assert!(
        dom.contains("the \"web\" &lt;service&gt;"),
        "web's description:\n{dom}"
    );
    assert!(dom.contains("<strong id=\"runlevel\">3</strong>"), "{dom}");
    assert!(!dom.contains("<script"), "the page runs no script:\n{dom}");

    let shot = sb.work.join("page.png");
    let blank = sb.work.join("blank.png");
    let r = chromium(
        browser,
        &sb,
        "shot",
        &[format!("--screenshot={}", shot.display()), url],
    );
    assert_eq!(r.code, 0, "chromium --screenshot: {}", r.stderr);
    let r = chromium(
        browser,
        &sb,
        "blank",
        &[
            format!("--screenshot={}", blank.display()),
            "about:blank".into(),
        ],
    );
    assert_eq!(r.code, 0, "chromium --screenshot about:blank: {}", r.stderr);
    let page = std::fs::read(&shot).unwrap_or_default();
    let empty = std::fs::read(&blank).unwrap_or_default();
    assert_eq!(png_size(&page), Some((1024, 768)), "{}", shot.display());
    assert_eq!(png_size(&empty), Some((1024, 768)), "{}", blank.display());
    // An empty page compresses to almost nothing; a table of four services does not.
    assert!(
        page.len() > empty.len() + 4096,
        "the screenshot ({} bytes) is hardly more than an empty page's ({} bytes)",
        page.len(),
        empty.len()
    );
    serve.stop().no_panic();
}
