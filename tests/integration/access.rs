//! Access control (docs/inetd.md; fault group G): `svc access-check` verdicts, deciding
//! rules and exit codes, fail-closed rule files, `svc check` reporting, and a differential test
//! against Debian's `tcpdmatch`. Tests named g1_… g9_… follow the catalogue's ids.

use crate::util::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use svc::access::{Rules, StaticResolver};

fn rules(sb: &Sandbox, allow: &str, deny: &str) {
    std::fs::write(sb.config.join("hosts.allow"), allow).unwrap();
    std::fs::write(sb.config.join("hosts.deny"), deny).unwrap();
}

fn check_access(sb: &Sandbox, name: &str, addr: &str) -> Run {
    sb.svc(["access-check", name, addr])
}

/// Asserts the exit code and the exact verdict line.
#[track_caller]
fn verdict(sb: &Sandbox, name: &str, addr: &str, allowed: bool, rule: &str) -> Run {
    let r = check_access(sb, name, addr);
    let word = if allowed { "allowed" } else { "denied" };
    r.code(if allowed { 0 } else { 1 })
        .stdout_has(&format!(
            "access-check: {name} from {addr}: {word} ({rule})\n"
        ))
        .no_panic();
    r
}

#[test]
fn verdicts_rules_and_exit_codes() {
    let sb = Sandbox::new();
    verdict(&sb, "sshd", "10.0.0.1", true, "default");
    rules(
        &sb,
        "# trusted\n\nsshd: 10.0.0.1, [2001:db8::]/32\n",
        "sshd: ALL\nALL EXCEPT sshd: 192.168.1.\n",
    );
    verdict(&sb, "sshd", "10.0.0.1", true, "hosts.allow:3");
    verdict(&sb, "sshd", "10.0.0.1:2222", true, "hosts.allow:3");
    verdict(&sb, "sshd", "2001:db8::7", true, "hosts.allow:3");
    verdict(&sb, "sshd", "[2001:db8::7]:22", true, "hosts.allow:3");
    verdict(&sb, "sshd", "::ffff:10.0.0.1", true, "hosts.allow:3");
    verdict(&sb, "sshd", "10.0.0.2", false, "hosts.deny:1");
    verdict(&sb, "ftpd", "192.168.1.9", false, "hosts.deny:2");
    verdict(&sb, "ftpd", "192.168.10.9", true, "default");
}

#[test]
fn invalid_address_or_name_exits_2() {
    let sb = Sandbox::new();
    for bad in [
        "10.0.0",
        "host.example",
        "10.0.0.1:99999",
        "[10.0.0.1]:22",
        "",
    ] {
        let r = check_access(&sb, "sshd", bad);
        r.code(2).stderr_has("invalid address").no_panic();
        assert!(r.stdout.is_empty(), "{bad}: {}", r.stdout);
    }
    check_access(&sb, "../x", "10.0.0.1").code(2).no_panic();
}

#[test]
fn spawn_is_shown_not_run() {
    let sb = Sandbox::new();
    let marker = sb.work.join("spawned");
    rules(
        &sb,
        &format!("ALL: ALL: spawn touch {} %a %d\n", marker.display()),
        "",
    );
    verdict(&sb, "sshd", "10.0.0.1", true, "hosts.allow:1").stdout_has(&format!(
        "access-check: spawn (not run): touch {} 10.0.0.1 sshd\n",
        marker.display()
    ));
    assert!(!marker.exists());
}

#[test]
fn problems_go_to_stderr_and_check_reports_them() {
    let sb = Sandbox::new();
    rules(&sb, "sshd: 10.9.9\n", "ftpd: 10.0.0.1\n");
    // Warnings only: access-check prints them; check prints them and exits 0.
    verdict(&sb, "sshd", "10.9.9.1", true, "default")
        .stderr_has("hosts.allow:1: warning: `10.9.9` is neither an address nor a prefix");
    sb.svc(["check"])
        .ok()
        .stderr_has("hosts.allow:1: warning: ")
        .no_panic();
    // An error: check exits 6 and names file and line.
    rules(&sb, "sshd: 10.9.9\n", "\nsshd: 10.0.0.0/33\n");
    let deny = sb.config.join("hosts.deny");
    sb.svc(["check"])
        .code(6)
        .stderr_has(&format!(
            "{}:2: `10.0.0.0/33` is not a valid network",
            deny.display()
        ))
        .stdout_has("1 problem")
        .no_panic();
    verdict(&sb, "sshd", "8.8.8.8", false, "hosts.deny:2")
        .stderr_has(&format!("{}:2: ", deny.display()));
    verdict(&sb, "ftpd", "8.8.8.8", true, "default");
}

// ---------------------------------------------------------------------------------------------
// G1: differential test against tcpdmatch.

/// xorshift64: a tiny deterministic generator, so every run tests the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pct(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn case(&mut self, s: &str) -> String {
        match self.below(3) {
            0 => s.to_ascii_lowercase(),
            1 => s.to_ascii_uppercase(),
            _ => s.to_string(),
        }
    }
    fn v4(&mut self) -> [u8; 4] {
        let a = [10, 192, 172, 1, 11][self.below(5)];
        let b = [0, 1, 168, 16, 200][self.below(5)];
        let c = [0, 1, 2, 10][self.below(4)];
        let d = [1, 2, 3, 255, 0, 77][self.below(6)];
        [a, b, c, d]
    }
}

const V6_CLIENTS: &[&str] = &[
    "::1",
    "2001:db8::1",
    "2001:db8:1::5",
    "2001:db9::1",
    "fe80::1",
    "::ffff:10.0.0.1",
    "::ffff:192.168.1.1",
];
const V6_PATTERNS: &[&str] = &[
    "[::1]",
    "[2001:db8::1]",
    "[2001:DB8::]/32",
    "[2001:db8:1::]/48",
    "[2001:db8::1]/64",
    "[fe80::]/10",
    "[::]/0",
];
const DAEMONS: &[&str] = &["sshd", "ftpd", "in.telnetd", "httpd"];

fn quad(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn host_token(rng: &mut Rng) -> String {
    let a = rng.v4();
    match rng.below(100) {
        0..=9 => rng.case("ALL"),
        10..=14 => {
            let k = rng.pick(&["LOCAL", "KNOWN", "UNKNOWN", "PARANOID"]);
            rng.case(k)
        }
        15..=39 => quad(a),
        40..=54 => {
            let n = 1 + rng.below(3);
            let parts: Vec<String> = a[..n].iter().map(|o| o.to_string()).collect();
            format!("{}.", parts.join("."))
        }
        55..=72 => {
            // net/len (1-32) or net/mask (1-31: tcp_wrappers rejects 255.255.255.255)
            let dotted = rng.pct(50);
            let len = 1 + rng.below(if dotted { 31 } else { 32 }) as u32;
            let mask = u32::MAX << (32 - len);
            let net = u32::from_be_bytes(a) & mask;
            if dotted {
                format!("{}/{}", quad(net.to_be_bytes()), quad(mask.to_be_bytes()))
            } else {
                format!("{}/{len}", quad(net.to_be_bytes()))
            }
        }
        73..=84 => rng.pick(V6_PATTERNS).to_string(),
        85..=92 => rng
            .pick(&["host.example.com", ".example.com", "localhost", "Example"])
            .to_string(),
        _ => {
            // no trailing dot: a host name in both (a warning in svc)
            let n = 1 + rng.below(3);
            let parts: Vec<String> = a[..n].iter().map(|o| o.to_string()).collect();
            parts.join(".")
        }
    }
}

fn list(rng: &mut Rng, item: &mut dyn FnMut(&mut Rng) -> String, depth: usize) -> String {
    let n = 1 + rng.below(3);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(rng.pick(&[", ", " ", ",", " ,\t"]));
        }
        out.push_str(&item(rng));
    }
    if depth < 2 && rng.pct(30) {
        let except = rng.case("EXCEPT");
        let rest = list(rng, item, depth + 1);
        out = format!("{out} {except} {rest}");
    }
    out
}

fn rule_file(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(5) {
        if rng.pct(10) {
            text.push_str("# a comment: ALL\n");
        }
        if rng.pct(10) {
            text.push('\n');
        }
        let daemons = list(
            rng,
            &mut |r: &mut Rng| {
                let d = r.pick(&["ALL", "sshd", "ftpd", "in.telnetd"]);
                r.case(d)
            },
            0,
        );
        let clients = list(rng, &mut host_token, 0);
        let options = match rng.below(100) {
            0..=59 => "",
            60..=69 => ": allow",
            70..=79 => " : deny",
            80..=84 => ": spawn echo %a %d",
            85..=88 => ": spawn=echo %h : DENY",
            89..=91 => ": bogus",
            92..=94 => ": allow : deny",
            95..=96 => ":",
            _ => ": ALLOW=",
        };
        let mut line = format!("{daemons}: {clients}{options}");
        if rng.pct(8) {
            if let Some(p) = line.find(' ') {
                line.insert_str(p, "\\\n");
            }
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn tcpdmatch() -> Option<PathBuf> {
    [
        "/usr/sbin/tcpdmatch",
        "/usr/bin/tcpdmatch",
        "/sbin/tcpdmatch",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// tcpdmatch's verdict, reading hosts.allow and hosts.deny from `dir`.
fn tcpd_verdict(tool: &Path, dir: &Path, daemon: &str, client: &str) -> Result<bool, String> {
    let out = bounded_output(
        Command::new(tool)
            .args(["-d", daemon, client])
            .current_dir(dir)
            .env_clear(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("access:   granted") {
        Ok(true)
    } else if text.contains("access:   denied") {
        Ok(false)
    } else {
        Err(format!(
            "no verdict from tcpdmatch: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

struct Case {
    allow: String,
    deny: String,
    queries: Vec<(String, String)>,
}

#[test]
fn g1_differential_against_tcpdmatch() {
    let Some(tool) = tcpdmatch() else {
        skip(
            "g1_differential_against_tcpdmatch",
            "tcpdmatch not installed (apt-get install tcpd; .ci/run installs it)",
        );
        return;
    };
    const RULE_SETS: usize = 1500;
    let mut rng = Rng(0x5eed_2024_acce_55ed);
    let cases: Vec<Case> = (0..RULE_SETS)
        .map(|_| Case {
            allow: rule_file(&mut rng),
            deny: rule_file(&mut rng),
            queries: (0..4)
                .map(|_| {
                    let d = rng.pick(DAEMONS).to_string();
                    let c = if rng.pct(25) {
                        rng.pick(V6_CLIENTS).to_string()
                    } else {
                        quad(rng.v4())
                    };
                    (d, c)
                })
                .collect(),
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(8);
    let chunk = cases.len().div_ceil(threads);
    let results: Vec<(Vec<String>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let tool = &tool;
                s.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let mut bad = Vec::new();
                    let mut denied = 0usize;
                    let none = StaticResolver::new();
                    for case in part {
                        let r = Rules::from_text(&case.allow, &case.deny);
                        for p in r.problems() {
                            assert!(
                                p.is_warning
                                    || p.message.ends_with("a client matching this rule is denied"),
                                "generated a fail-closed case: {p}\n{}---\n{}",
                                case.allow,
                                case.deny
                            );
                        }
                        std::fs::write(dir.path().join("hosts.allow"), &case.allow).unwrap();
                        std::fs::write(dir.path().join("hosts.deny"), &case.deny).unwrap();
                        for (daemon, client) in &case.queries {
                            let addr: SocketAddr = format!("[{client}]:1")
                                .parse()
                                .or_else(|_| format!("{client}:1").parse())
                                .unwrap();
                            let ours = r.check(daemon, addr, &none);
                            let theirs = tcpd_verdict(tool, dir.path(), daemon, client).unwrap();
                            denied += usize::from(!theirs);
                            // The compiled matcher (what svc runs) and the plain walk agree.
                            let walked = r.check_walk(daemon, addr, None, &none);
                            if ours != walked {
                                bad.push(format!(
                                    "{daemon} from {client}: index {ours:?}, walk {walked:?}\n--- hosts.allow\n{}--- hosts.deny\n{}",
                                    case.allow, case.deny
                                ));
                            }
                            if ours.allowed != theirs {
                                bad.push(format!(
                                    "{daemon} from {client}: svc {} ({}), tcpdmatch {}\n--- hosts.allow\n{}--- hosts.deny\n{}",
                                    ours.allowed, ours.rule, theirs, case.allow, case.deny
                                ));
                            }
                        }
                    }
                    (bad, denied)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let denied: usize = results.iter().map(|r| r.1).sum();
    let mismatches: Vec<String> = results.into_iter().flat_map(|r| r.0).collect();
    // The generator must exercise both outcomes, not agree on a trivial answer.
    let total = RULE_SETS * 4;
    assert!(
        denied > total / 10 && denied < total * 9 / 10,
        "{denied} of {total} denied: the generated cases are lopsided"
    );
    eprintln!("g1: {total} verdicts compared with tcpdmatch, {denied} denied");
    assert!(
        mismatches.is_empty(),
        "{} of {} verdicts differ from tcpdmatch; first ones:\n{}",
        mismatches.len(),
        total,
        mismatches[..mismatches.len().min(5)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// G2–G9

#[test]
fn g2_syntax_errors_fail_closed_with_errors() {
    let sb = Sandbox::new();
    for (deny, names) in [
        ("sshd 10.0.0.1\n", "missing `:`"),
        ("sshd: 10.0.0.0/33\n", "not a valid network"),
        ("sshd: 010.009.009.009\n", "not a valid IPv4 address"),
        ("sshd: 10.9.9.9.\n", "not a valid address prefix"),
        ("sshd: 10.0.0.1/8\n", "bits set outside the mask"),
        ("sshd: @trusted\n", "netgroup"),
    ] {
        rules(&sb, "", deny);
        verdict(&sb, "sshd", "10.9.9.9", false, "hosts.deny:1").stderr_has(names);
        sb.svc(["check"]).code(6).stderr_has(names);
    }
    // A daemon list that can be read limits the damage to the daemons it names.
    rules(&sb, "", "sshd: 10.0.0.0/33\n");
    verdict(&sb, "ftpd", "10.9.9.9", true, "default");
    // Unknown option, allow not last: only a matching client is denied, also in hosts.allow.
    rules(
        &sb,
        "sshd: 10.0.0.1: bogus\nftpd: ALL: allow: spawn x\n",
        "",
    );
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.allow:1").stderr_has("unknown option `bogus`");
    verdict(&sb, "sshd", "10.0.0.2", true, "default");
    verdict(&sb, "ftpd", "10.0.0.2", false, "hosts.allow:2").stderr_has("must be the last option");
    // In hosts.allow a malformed line never matches, and never hides the lines after it.
    rules(&sb, "sshd: 10.0.0.0/33\nsshd: 10.0.0.1\n", "ALL: ALL\n");
    verdict(&sb, "sshd", "10.0.0.1", true, "hosts.allow:2");
    verdict(&sb, "sshd", "10.0.0.2", false, "hosts.deny:1");
}

#[test]
fn g3_over_long_line_fails_closed() {
    let sb = Sandbox::new();
    let long = format!("sshd: {}10.0.0.1\n", "10.0.0.2 ".repeat(340));
    assert!(long.len() > 3000);
    rules(&sb, "", &format!("{long}ftpd: 10.0.0.9\n"));
    verdict(&sb, "sshd", "192.0.2.1", false, "hosts.deny:1").stderr_has("line too long");
    verdict(&sb, "ftpd", "10.0.0.9", false, "hosts.deny:2");
    verdict(&sb, "ftpd", "10.0.0.1", true, "default");
    // No final newline: the last line still counts.
    rules(&sb, "", "ALL: 10.0.0.1");
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.deny:1");
}

#[test]
fn g4_continuation_into_comment_is_a_comment_with_a_warning() {
    let sb = Sandbox::new();
    rules(&sb, "", "# old rule \\\nALL: ALL\nsshd: 10.0.0.1\n");
    verdict(&sb, "ftpd", "10.0.0.1", true, "default")
        .stderr_has("hosts.deny:1: warning: this comment ends with `\\`");
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.deny:3");
    sb.svc(["check"]).ok();
}

#[test]
fn g5_bom_crlf_nul_tabs() {
    let sb = Sandbox::new();
    rules(&sb, "", "\u{feff}sshd: 10.0.0.1\r\nftpd:\t10.0.0.2\r\n");
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.deny:1");
    verdict(&sb, "ftpd", "10.0.0.2", false, "hosts.deny:2");
    sb.svc(["check"]).ok();
    std::fs::write(
        sb.config.join("hosts.deny"),
        b"sshd: 10.0.0.1\0\nftpd: \xff\n",
    )
    .unwrap();
    verdict(&sb, "sshd", "10.0.0.7", false, "hosts.deny:1");
    verdict(&sb, "ftpd", "10.0.0.7", false, "hosts.deny:2").stderr_has("NUL byte or invalid UTF-8");
}

#[test]
fn g6_unreadable_rule_file_denies_everything() {
    let sb = Sandbox::new();
    std::fs::write(sb.config.join("hosts.allow"), "ALL: ALL\n").unwrap();
    std::fs::create_dir(sb.config.join("hosts.deny")).unwrap();
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.deny:unreadable").stderr_has("cannot read");
    sb.svc(["check"])
        .code(6)
        .stderr_has("hosts.deny: cannot read");
    std::fs::remove_dir(sb.config.join("hosts.deny")).unwrap();
    std::fs::remove_file(sb.config.join("hosts.allow")).unwrap();
    std::fs::create_dir(sb.config.join("hosts.allow")).unwrap();
    verdict(&sb, "ftpd", "::1", false, "hosts.allow:unreadable");
    std::fs::remove_dir(sb.config.join("hosts.allow")).unwrap();
    std::os::unix::fs::symlink(sb.work.join("missing"), sb.config.join("hosts.deny")).unwrap();
    verdict(&sb, "ftpd", "::1", false, "hosts.deny:unreadable").stderr_has("dangling");
}

fn sa(s: &str) -> SocketAddr {
    format!("{s}:4000").parse().unwrap()
}

#[test]
fn g7_host_names_must_be_verified() {
    let r = Rules::from_text(
        "sshd: trusted.example .corp.example\n",
        "sshd: ALL\nftpd: PARANOID\n",
    );
    let dns = StaticResolver::new()
        .host("192.0.2.1", "trusted.example")
        .host("192.0.2.2", "a.corp.example")
        // PTR claims trusted.example, whose address is another one: spoofed.
        .ptr("192.0.2.5", "trusted.example")
        .ptr("192.0.2.6", "b.corp.example")
        .addr("b.corp.example", "192.0.2.66")
        // A PTR record that is itself an address.
        .ptr("192.0.2.7", "192.0.2.1");
    let allowed = |d: &str, ip: &str| r.check(d, sa(ip), &dns).allowed;
    assert!(allowed("sshd", "192.0.2.1"));
    assert!(allowed("sshd", "192.0.2.2"));
    for spoof in ["192.0.2.5", "192.0.2.6", "192.0.2.7"] {
        assert!(
            !allowed("sshd", spoof),
            "{spoof} must not pass as its PTR name"
        );
        assert!(!allowed("ftpd", spoof), "{spoof} is PARANOID");
    }
    // No PTR at all: unknown, not paranoid.
    assert!(allowed("ftpd", "192.0.2.9"));
    // Long names are compared whole, never truncated.
    let long = format!("{}.example", "a".repeat(200));
    let r = Rules::from_text(&format!("sshd: {}\n", &long[..128]), "sshd: ALL\n");
    let dns = StaticResolver::new().host("192.0.2.1", &long);
    assert!(!r.check("sshd", sa("192.0.2.1"), &dns).allowed);
}

#[test]
fn g8_spawn_expansions_cannot_inject() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pwned = dir.path().join("pwned");
    let r = Rules::from_text(
        &format!("ALL: ALL: spawn echo %h %n %c > {}\n", out.display()),
        "",
    );
    let evil = format!(
        "$(touch {p});`touch {p}`\n-x|touch {p}&&a.example",
        p = pwned.display()
    );
    let dns = StaticResolver::new().host("192.0.2.1", &evil);
    let v = r.check("sshd", sa("192.0.2.1"), &dns);
    let cmd = v.spawn.expect("a spawn");
    let expansions = cmd
        .strip_prefix("echo ")
        .and_then(|c| c.split(" > ").next())
        .expect("echo ... > out");
    assert_eq!(expansions.split(' ').count(), 3, "{cmd}");
    assert!(
        expansions
            .chars()
            .all(|c| c == ' ' || c.is_ascii_alphanumeric() || ".-_:@/".contains(c)),
        "{cmd}"
    );
    assert!(!expansions.contains(" -"), "{cmd}");
    let status = bounded_status(Command::new("/bin/sh").arg("-c").arg(&cmd));
    assert!(status.success());
    assert!(!pwned.exists(), "the host name ran a command: {cmd}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 1, "{written}");
    assert!(!written.contains(['$', '`', ';', '|', '&']), "{written}");
}

#[test]
fn g9_rules_replaced_by_rename_are_seen_whole() {
    // svc reads a rule file once per load (svc inetd: at start and on SIGHUP); a writer that
    // renames a complete file over it is seen either before or after, never half-way.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let a = "# version a\nsshd: 10.0.0.1\n".repeat(200);
    let b = "# version b\nsshd: 10.0.0.2\n".repeat(200);
    std::fs::write(d.join("hosts.deny"), &a).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..300 {
                let tmp = d.join("hosts.deny.tmp");
                std::fs::write(&tmp, if i % 2 == 0 { &b } else { &a }).unwrap();
                std::fs::rename(&tmp, d.join("hosts.deny")).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let none = StaticResolver::new();
        let mut loads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || loads < 10 {
            let r = Rules::load(&d);
            assert!(r.problems().is_empty(), "{:?}", r.problems());
            let one = r.check("sshd", sa("10.0.0.1"), &none).allowed;
            let two = r.check("sshd", sa("10.0.0.2"), &none).allowed;
            assert!(one != two, "a mixed or empty rule file was seen");
            loads += 1;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 9: a rule file svc must not block on or trust.

/// `svc ARGS`, failing the test (and killing svc) if it has not finished within 10 s.
#[track_caller]
fn prompt(sb: &Sandbox, args: &[&str]) -> Run {
    finish(
        spawn_svc(sb, args),
        args,
        std::time::Duration::from_secs(10),
    )
}

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A FIFO as hosts.allow or hosts.deny "cannot be read" (docs/inetd.md): every connection is
/// denied, at once, and `check` and `access-check` say why — nothing waits for a writer.
#[test]
fn g6_a_fifo_rule_file_fails_closed_at_once() {
    let sb = Sandbox::new();
    for (file, other) in [("hosts.allow", "hosts.deny"), ("hosts.deny", "hosts.allow")] {
        let _ = std::fs::remove_file(sb.config.join(other));
        std::fs::write(sb.config.join(other), "ALL: ALL\n").unwrap();
        let _ = std::fs::remove_file(sb.config.join(file));
        mkfifo(&sb.config.join(file));
        let r = prompt(&sb, &["access-check", "sshd", "10.0.0.1"]);
        r.code(1)
            .stdout_has(&format!(
                "access-check: sshd from 10.0.0.1: denied ({file}:unreadable)"
            ))
            .stderr_has(&format!(
                "{}: cannot read: not a regular file (it is a FIFO)",
                sb.config.join(file).display()
            ));
        prompt(&sb, &["check"]).code(6).stderr_has(&format!(
            "{file}: cannot read: not a regular file (it is a FIFO)"
        ));
        std::fs::remove_file(sb.config.join(file)).unwrap();
    }
}

/// A symlinked rule file (Debian's /etc/hosts.allow sometimes is one) is read where it points,
/// as for definitions; a FIFO behind the link is refused all the same.
#[test]
fn g6_a_symlinked_rule_file_is_followed_but_never_to_a_fifo() {
    let sb = Sandbox::new();
    let real = sb.work.join("allow.real");
    std::fs::write(&real, "sshd: 10.0.0.1\n").unwrap();
    std::fs::write(sb.config.join("hosts.deny"), "ALL: ALL\n").unwrap();
    std::os::unix::fs::symlink(&real, sb.config.join("hosts.allow")).unwrap();
    verdict(&sb, "sshd", "10.0.0.1", true, "hosts.allow:1");
    verdict(&sb, "sshd", "10.0.0.2", false, "hosts.deny:1");
    std::fs::remove_file(&real).unwrap();
    mkfifo(&real);
    let r = prompt(&sb, &["access-check", "sshd", "10.0.0.1"]);
    r.code(1)
        .stdout_has("denied (hosts.allow:unreadable)")
        .stderr_has("FIFO");
}

/// docs/security.md: as root, a rule file a non-root user can write is refused — it fails
/// closed like an unreadable one.
#[test]
fn g6_a_rule_file_others_can_write_fails_closed_as_root() {
    if skip_unless_root("g6_a_rule_file_others_can_write_fails_closed_as_root") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    rules(&sb, "sshd: 10.0.0.1\n", "");
    let allow = sb.config.join("hosts.allow");
    std::fs::set_permissions(&allow, std::fs::Permissions::from_mode(0o666)).unwrap();
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.allow:unreadable").stderr_has("world-writable");
    sb.svc(["check"]).code(6).stderr_has("world-writable");
    std::fs::set_permissions(&allow, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&allow, Some(65534), None).unwrap();
    verdict(&sb, "sshd", "10.0.0.1", false, "hosts.allow:unreadable").stderr_has("uid 65534");
    std::os::unix::fs::chown(&allow, Some(0), None).unwrap();
    verdict(&sb, "sshd", "10.0.0.1", true, "hosts.allow:1");
}
