//! `svc analyze`: blame order, critical chain, `--json`, and an SVG that parses as XML with one
//! bar per service that began, from hand-written timelines and from a real `svc switch`.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

/// A boot-like transition: a stop, four starts (db slow, cache fast, both after net; httpd
/// wants cache), one that failed and one skipped because of it. Names that need escaping in XML
/// are not possible (service names are validated) but error texts are free: one has `<&">`.
const TIMELINE: &str = r#"{
  "target": "3",
  "started_at_unix_ms": 1714564800000,
  "total_ms": 1300,
  "services": [
    {"name": "old", "action": "stop", "number": 50, "begin_ms": 0, "ready_ms": 5,
     "outcome": "ok", "after": []},
    {"name": "net", "action": "start", "number": 10, "begin_ms": 5, "ready_ms": 100,
     "outcome": "ok", "after": []},
    {"name": "db", "action": "start", "number": 20, "begin_ms": 100, "ready_ms": 1300,
     "outcome": "ok", "after": ["net"]},
    {"name": "cache", "action": "start", "number": 20, "begin_ms": 100, "ready_ms": 150,
     "outcome": "ok", "after": ["net"]},
    {"name": "httpd", "action": "start", "number": 20, "begin_ms": 150, "ready_ms": 490,
     "outcome": "ok", "after": ["cache"]},
    {"name": "mail", "action": "start", "number": 30, "begin_ms": 1300, "ready_ms": null,
     "outcome": "failed", "after": [], "error": "exec failed: <no such file> & \"gone\""},
    {"name": "relay", "action": "start", "number": 40, "begin_ms": null, "ready_ms": null,
     "outcome": "skipped", "after": ["mail"], "error": "requires mail, which failed"}
  ]
}"#;

fn with_timeline(json: &str) -> Sandbox {
    let sb = Sandbox::new();
    std::fs::create_dir_all(&sb.state).unwrap();
    std::fs::write(sb.state.join("timeline.json"), json).unwrap();
    sb
}

/// Parses `path` as XML (python3's minidom: a real parser) and returns the number of `<rect>`
/// elements whose class has the token `bar`, and the labels of the svg's text elements.
#[track_caller]
fn parse_svg(path: &Path) -> (usize, String) {
    let script = r#"
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
root = doc.documentElement
assert root.tagName == "svg", root.tagName
assert root.getAttribute("xmlns") == "http://www.w3.org/2000/svg"
float(root.getAttribute("width")); float(root.getAttribute("height"))
bars = [r for r in doc.getElementsByTagName("rect") if "bar" in r.getAttribute("class").split()]
print(len(bars))
def text(n):
    return "".join(c.data if c.nodeType == c.TEXT_NODE else text(c) for c in n.childNodes)
for t in doc.getElementsByTagName("text"):
    print(text(t))
"#;
    let out = bounded_output(Command::new("python3").arg("-c").arg(script).arg(path));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} is not well-formed SVG: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    let (count, rest) = stdout.split_once('\n').unwrap();
    (count.trim().parse().unwrap(), rest.to_string())
}

#[test]
fn blame_slowest_first_and_critical_chain() {
    let sb = with_timeline(TIMELINE);
    let run = sb.svc(["analyze"]);
    run.ok()
        .stdout_has("Last transition: to runlevel 3, 7 services, total 1.300s");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        &lines[1..8],
        [
            "   1.200s db",
            "    340ms httpd",
            "     95ms net",
            "     50ms cache",
            "      5ms old (stop)",
            "   failed mail: exec failed: <no such file> & \"gone\"",
            "  skipped relay: requires mail, which failed",
        ],
        "{}",
        run.stdout
    );
    // db was ready last; it waited for net, net for the stop of old.
    assert_eq!(
        &lines[8..],
        [
            "Critical chain:",
            "  old (stop) @0ms +5ms",
            "  net @5ms +95ms",
            "  db @100ms +1.200s",
        ],
        "{}",
        run.stdout
    );
}

#[test]
fn chain_goes_through_the_dependency_that_finished_last() {
    // httpd (S30) waited for cache (after) and db (a lower number, a barrier): db finished
    // later, so the chain runs through db, not cache.
    let sb = with_timeline(
        r#"{"target": "5", "started_at_unix_ms": 0, "total_ms": 600, "services": [
        {"name": "db", "action": "start", "number": 20, "begin_ms": 0, "ready_ms": 400,
         "outcome": "ok", "after": []},
        {"name": "cache", "action": "start", "number": 20, "begin_ms": 0, "ready_ms": 100,
         "outcome": "ok", "after": []},
        {"name": "httpd", "action": "start", "number": 30, "begin_ms": 400, "ready_ms": 600,
         "outcome": "ok", "after": ["cache"]}]}"#,
    );
    let run = sb.svc(["analyze"]);
    run.ok();
    let chain: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| *l != "Critical chain:")
        .collect();
    assert_eq!(
        chain,
        [
            "Critical chain:",
            "  db @0ms +400ms",
            "  httpd @400ms +200ms"
        ]
    );
}

#[test]
fn json_has_timeline_blame_and_chain() {
    let sb = with_timeline(TIMELINE);
    let run = sb.svc(["analyze", "--json"]);
    run.ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        v["blame"],
        serde_json::json!(["db", "httpd", "net", "cache", "old", "mail", "relay"])
    );
    assert_eq!(v["critical_chain"], serde_json::json!(["old", "net", "db"]));
    assert_eq!(v["timeline"]["target"], "3");
    assert_eq!(v["timeline"]["services"].as_array().unwrap().len(), 7);
    // --quiet does not silence what was asked for.
    let quiet = sb.svc(["--quiet", "analyze", "--json"]);
    quiet.ok();
    assert_eq!(quiet.stdout, run.stdout);
}

#[test]
fn svg_is_well_formed_with_one_bar_per_service() {
    let sb = with_timeline(TIMELINE);
    let file = sb.work.join("boot.svg");
    let run = sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()]);
    run.ok();
    assert_eq!(run.stdout, format!("wrote {}\n", file.display()));
    let (bars, texts) = parse_svg(&file);
    // Six services began (relay was skipped: a text row, no bar).
    assert_eq!(bars, 6, "{texts}");
    assert!(texts.contains("relay skipped"), "{texts}");
    assert!(texts.contains("db 1.200s"), "{texts}");
    // The error text with XML specials survived escaping.
    assert!(texts.contains("<no such file> & \"gone\""), "{texts}");
    // Dependencies are drawn: net->db, net->cache, cache->httpd.
    let svg = std::fs::read_to_string(&file).unwrap();
    assert_eq!(svg.matches("class=\"dep\"").count(), 3, "{svg}");
    // No temporary file is left next to it.
    let left: Vec<_> = std::fs::read_dir(&sb.work)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("boot.svg")]);
    // Written again, it is replaced.
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .ok();
    assert_eq!(parse_svg(&file).0, 6);
}

#[test]
fn svg_of_an_empty_transition_is_still_well_formed() {
    let sb =
        with_timeline(r#"{"target": "S", "started_at_unix_ms": 0, "total_ms": 0, "services": []}"#);
    let file = sb.work.join("empty.svg");
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .ok();
    assert_eq!(parse_svg(&file).0, 0);
    sb.svc(["analyze"])
        .ok()
        .stdout_has("Last transition: to runlevel S, 0 services, total 0ms")
        .stdout_has("Critical chain:\n  (nothing got ready)");
}

#[test]
fn missing_or_broken_timeline_is_an_error() {
    let sb = Sandbox::new();
    let run = sb.svc(["analyze"]);
    run.code(1)
        .stderr_has("svc: no runlevel transition recorded yet (run svc switch or svc boot)");
    assert_eq!(run.stdout, "");
    let file = sb.work.join("x.svg");
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .code(1);
    assert!(!file.exists());

    let sb = with_timeline("{\"target\": ");
    sb.svc(["analyze"])
        .code(1)
        .stderr_has("timeline.json")
        .no_panic();

    // An SVG that cannot be written: exit 1, a reason.
    let sb = with_timeline(TIMELINE);
    let file = sb.work.join("no/such/dir/x.svg");
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .code(1)
        .stderr_has("cannot write");
}

#[test]
fn real_switch_then_svg_has_one_bar_per_service() {
    let sb = Sandbox::new();
    // a and b start in parallel (S10), c requires a (S20): each is ready when its PID file
    // from sleeper() (work/NAME.started) exists.
    for (name, extra) in [("a", ""), ("b", ""), ("c", "requires: [a]\n")] {
        let def = format!(
            "{}ready: {{ file: {} }}\nready_timeout: 10\n{extra}",
            sb.sleeper(name),
            sb.work.join(format!("{name}.started")).display()
        );
        sb.service(name, &def);
    }
    let rc3 = sb.config.join("runlevels/rc3.d");
    for (link, name) in [("S10a", "a"), ("S10b", "b"), ("S20c", "c")] {
        symlink(format!("../../init.d/{name}.yaml"), rc3.join(link)).unwrap();
    }
    sb.svc(["switch", "3"]).ok();
    for name in ["a", "b", "c"] {
        wait_for_file(
            &sb.work.join(format!("{name}.started")),
            Duration::from_secs(5),
        );
    }
    let file = sb.work.join("switch.svg");
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .ok();
    let (bars, texts) = parse_svg(&file);
    assert_eq!(bars, 3, "{texts}");
    let run = sb.svc(["analyze", "--json"]);
    run.ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let mut blame: Vec<String> = serde_json::from_value(v["blame"].clone()).unwrap();
    blame.sort();
    assert_eq!(blame, ["a", "b", "c"]);
    // c waited for a: the chain ends at c (or at whichever was ready last) and a precedes c.
    let chain: Vec<String> = serde_json::from_value(v["critical_chain"].clone()).unwrap();
    assert!(!chain.is_empty(), "{}", run.stdout);
    if let Some(c) = chain.iter().position(|n| n == "c") {
        assert!(c > 0, "c has a predecessor: {chain:?}");
    }
    sb.svc(["stop", "a", "b", "c"]).ok();
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 20: the picture of a real transition with a fast failure and a long reason, and
// a history of transitions.

/// The geometry of an SVG file (parsed by python3's minidom): its width, every bar (class, x,
/// width), every text (x, anchor, class, content, estimated left and right edges) and every
/// dependency arrow's x range. Text widths are estimated with DejaVu Sans' advance widths (the
/// usual sans-serif on Linux), generously for characters not in the table.
fn svg_geometry(path: &Path) -> serde_json::Value {
    let script = r#"
import sys, json, re, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
root = doc.documentElement
W = {c: 0.636 for c in "0123456789"}
W.update({"m": 0.974, "w": 0.818, "M": 0.863, "W": 0.989, " ": 0.318, ".": 0.318, "i": 0.278,
          "l": 0.278, "s": 0.521, "t": 0.392, "r": 0.411, "f": 0.352, "j": 0.278, "(": 0.39,
          ")": 0.39, ":": 0.337, ",": 0.318, "-": 0.361})
def own_text(n):
    return "".join(c.data for c in n.childNodes if c.nodeType == c.TEXT_NODE)
def size(cls):
    return 10 if "tick" in cls else 15 if "heading" in cls else 12
out = {"width": float(root.getAttribute("width")), "bars": [], "texts": [], "arrows": []}
for r in doc.getElementsByTagName("rect"):
    cls = r.getAttribute("class").split()
    if "bar" in cls:
        out["bars"].append({"class": cls, "x": float(r.getAttribute("x")),
                            "width": float(r.getAttribute("width"))})
for t in doc.getElementsByTagName("text"):
    s = own_text(t)
    cls = t.getAttribute("class")
    w = sum(W.get(c, 0.7) for c in s) * size(cls)
    x = float(t.getAttribute("x"))
    anchor = t.getAttribute("text-anchor") or "start"
    left = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    out["texts"].append({"text": s, "class": cls, "x": x, "y": float(t.getAttribute("y")),
                         "left": left, "right": left + w})
for p in doc.getElementsByTagName("path"):
    if "dep" in p.getAttribute("class").split():
        xs = [float(v) for v in re.findall(r"[ML]\s*(-?[0-9.]+)", p.getAttribute("d"))]
        out["arrows"].append([min(xs), max(xs)])
print(json.dumps(out))
"#;
    let out = bounded_output(Command::new("python3").arg("-c").arg(script).arg(path));
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("geometry JSON")
}

#[test]
fn a_fast_failure_is_drawn_short_and_a_long_reason_does_not_widen_the_picture() {
    let sb = Sandbox::new();
    // slow: ready 300 ms after it started (its own sleep); bad: its program does not exist
    // under a long path, so it fails at once with a long reason.
    let ready = sb.work.join("slow.ready");
    let slow = sb.script(
        "slow.sh",
        &format!(
            "#!/bin/sh\nsleep 0.3\ntouch {}\nexec sleep 100\n",
            ready.display()
        ),
    );
    sb.service(
        "slow",
        &format!(
            "exec: {}\nready: {{ file: {} }}\nready_timeout: 20\n",
            slow.display(),
            ready.display()
        ),
    );
    let long = sb.work.join("a-program-with-a-very-long-name-".repeat(8));
    sb.service("bad", &format!("exec: {}\n", long.display()));
    let rc3 = sb.config.join("runlevels/rc3.d");
    symlink("../../init.d/slow.yaml", rc3.join("S10slow")).unwrap();
    symlink("../../init.d/bad.yaml", rc3.join("S10bad")).unwrap();
    sb.svc(["switch", "3"]).code(1);

    let file = sb.work.join("t.svg");
    sb.svc(["analyze".as_ref(), "--svg".as_ref(), file.as_os_str()])
        .ok();
    let g = svg_geometry(&file);
    let svg = std::fs::read_to_string(&file).unwrap();
    let bar = |class: &str| -> f64 {
        let b = g["bars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["class"].as_array().unwrap().iter().any(|c| c == class))
            .unwrap_or_else(|| panic!("no {class} bar in\n{svg}"));
        b["width"].as_f64().unwrap()
    };
    // The failure took a few ms against slow's 300+: its bar is a sliver, not the whole run.
    let (failed, ok) = (bar("failed"), bar("ok"));
    assert!(
        failed < ok / 4.0,
        "failed bar {failed} px against slow's {ok} px\n{svg}"
    );
    // The JSON records when it failed.
    let run = sb.svc(["analyze", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let bad = v["timeline"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "bad")
        .unwrap()
        .clone();
    assert_eq!(bad["outcome"], "failed");
    assert!(
        bad["end_ms"]
            .as_u64()
            .is_some_and(|e| e >= bad["begin_ms"].as_u64().unwrap()),
        "{bad}"
    );
    // The reason (over 250 characters) is shortened in the picture, whole in its tooltip.
    let reason = bad["error"].as_str().unwrap();
    assert!(reason.chars().count() > 250, "{reason}");
    let width = g["width"].as_f64().unwrap();
    assert!(width <= 1400.0, "the picture is {width} px wide\n{svg}");
    // Every text starts inside the picture and ends inside it (the 0ms tick included).
    for t in g["texts"].as_array().unwrap() {
        let (l, r) = (t["left"].as_f64().unwrap(), t["right"].as_f64().unwrap());
        assert!(
            l >= 0.0 && r <= width,
            "text outside the picture: {t}\n{svg}"
        );
    }
    assert!(
        g["texts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["text"] == "0ms"),
        "{svg}"
    );
    sb.svc(["stop", "slow"]).ok();
}

#[test]
fn earlier_transitions_are_kept_and_can_be_shown() {
    // A timeline in the format of earlier versions is there first.
    let sb = with_timeline(TIMELINE);
    sb.service("a", &sb.sleeper("a"));
    symlink(
        "../../init.d/a.yaml",
        sb.config.join("runlevels/rc3.d/S10a"),
    )
    .unwrap();
    symlink(
        "../../init.d/a.yaml",
        sb.config.join("runlevels/rc0.d/K10a"),
    )
    .unwrap();
    sb.svc(["boot", "3"]).ok();
    sb.svc(["switch", "0"]).ok();

    sb.svc(["analyze"])
        .ok()
        .stdout_has("Last transition: to runlevel 0, 1 services");
    sb.svc(["analyze", "--transition", "1"])
        .ok()
        .stdout_has("to runlevel S+3, 1 services");
    // The old record is the third from the end, read as it was written.
    sb.svc(["analyze", "--transition", "2"])
        .ok()
        .stdout_has("to runlevel 3, 7 services, total 1.300s");
    let list = sb.svc(["analyze", "--list"]);
    list.ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    for (line, (n, target)) in lines.iter().zip([(0, "0"), (1, "S+3"), (2, "3")]) {
        assert!(
            line.trim_start().starts_with(&format!("{n} "))
                && line.contains(&format!("to runlevel {target} ")),
            "{}",
            list.stdout
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&sb.svc(["analyze", "--transition", "1", "--json"]).stdout).unwrap();
    assert_eq!(v["timeline"]["target"], "S+3");
    let file = sb.work.join("boot.svg");
    sb.svc([
        "analyze".as_ref(),
        "--transition".as_ref(),
        "1".as_ref(),
        "--svg".as_ref(),
        file.as_os_str(),
    ])
    .ok();
    assert_eq!(parse_svg(&file).0, 1);

    // At most five are kept: the oldest go.
    for level in ["3", "0", "3"] {
        sb.svc(["switch", level]).ok();
    }
    let list = sb.svc(["analyze", "--list"]);
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);
    assert!(!list.stdout.contains("to runlevel 3, 7"), "{}", list.stdout);
    sb.svc(["analyze", "--transition", "5"])
        .code(1)
        .stderr_has("no transition 5");
    sb.svc(["stop", "a"]).ok();
}

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A FIFO where a timeline should be is refused at once, never waited on: an ordinary user's
/// default state directory (`/tmp/svc-UID`) may be one another user made.
#[test]
fn a_fifo_timeline_is_refused_at_once() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(&sb.state).unwrap();
    let path = sb.state.join("timeline.json");
    mkfifo(&path);
    for args in [&["analyze"][..], &["analyze", "--list"]] {
        let child = spawn_svc(&sb, args);
        finish(child, args, Duration::from_secs(10))
            .code(1)
            .stderr_has(&path.display().to_string())
            .stderr_has("not a regular file (it is a FIFO)");
    }
}
