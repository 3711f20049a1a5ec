//! Tests of the compiled matcher: it must pick the same deciding line as the plain walk for every
//! rule set and client (a property test over generated rule sets, and the cases that would catch
//! an index that changes the order), and visit only the lines that can match.

use std::net::SocketAddr;

use super::*;

/// xorshift64: deterministic, so every run tests the same cases.
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
    /// An address from a small pool, so that rules overlap and clients hit them.
    fn v4(&mut self) -> [u8; 4] {
        let a = [10, 192, 10, 172][self.below(4)];
        let b = [0, 1, 168][self.below(3)];
        let c = [0, 1, 2][self.below(3)];
        let d = [1, 2, 3, 0, 200][self.below(5)];
        [a, b, c, d]
    }
}

fn quad(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

const V6_PATTERNS: &[&str] = &[
    "[::1]",
    "[2001:db8::1]",
    "[2001:db8::]/32",
    "[2001:db8:1::]/48",
    "[2001:db8::1]/64",
    "[fe80::]/10",
    "[::]/0",
    "[::ffff:10.0.0.1]",     // an IPv4-mapped pattern: never matches (a warning)
    "[::ffff:0.0.0.0]/96",   // likewise
    "2001:db8::1",           // unbracketed: never matches (a warning)
    "[::ffff:10.0.0.0]/120", // mapped, with a length: never matches
    "[::ffff:0:0]/80",       // holds the mapped range without being mapped itself
];
const NAMES: &[&str] = &[
    "host.example.com",
    ".example.com",
    "localhost",
    "v6.example.com",
    "ALL",
    "LOCAL",
    "KNOWN",
    "UNKNOWN",
    "PARANOID",
];

fn host_token(rng: &mut Rng) -> String {
    let a = rng.v4();
    match rng.below(100) {
        0..=29 => quad(a),
        30..=44 => {
            let n = 1 + rng.below(3);
            let parts: Vec<String> = a[..n].iter().map(|o| o.to_string()).collect();
            format!("{}.", parts.join("."))
        }
        45..=64 => {
            let dotted = rng.pct(50);
            let len = rng.below(33) as u32;
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            let net = u32::from_be_bytes(a) & mask;
            if dotted {
                format!("{}/{}", quad(net.to_be_bytes()), quad(mask.to_be_bytes()))
            } else {
                format!("{}/{len}", quad(net.to_be_bytes()))
            }
        }
        65..=79 => rng.pick(V6_PATTERNS).to_string(),
        80..=94 => rng.pick(NAMES).to_string(),
        95..=96 => "10.0".to_string(), // neither address nor prefix: never matches
        _ => "#x".to_string(),         // never matches
    }
}

fn list(rng: &mut Rng, item: &mut dyn FnMut(&mut Rng) -> String, depth: usize) -> String {
    let n = 1 + rng.below(3);
    let mut out: Vec<String> = (0..n).map(|_| item(rng)).collect();
    if depth < 2 && rng.pct(30) {
        out.push("EXCEPT".to_string());
        out.push(list(rng, item, depth + 1));
    }
    out.join(" ")
}

/// A rule file of up to 40 lines: mostly address rules, some host-name and keyword rules
/// among them, EXCEPT lists, options, and now and then a malformed line.
fn rule_file(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(40) {
        if rng.pct(3) {
            text.push_str(rng.pick(&["ALL: user@10.0.0.1\n", "no separator\n"]));
            continue;
        }
        let daemons = list(
            rng,
            &mut |r: &mut Rng| {
                r.pick(&["ALL", "sshd", "ftpd", "sshd@10.0.0.1", "SSHD"])
                    .to_string()
            },
            1,
        );
        let clients = list(rng, &mut host_token, 0);
        let options = match rng.below(100) {
            0..=59 => "",
            60..=71 => ": allow",
            72..=83 => ": deny",
            84..=91 => ": spawn echo %a %d %h %n",
            92..=95 => ": bogus",
            _ => ": spawn echo %c : deny",
        };
        text.push_str(&format!("{daemons}: {clients}{options}\n"));
    }
    text
}

/// Host names for some of the pool's addresses: verified, paranoid, a dotless (LOCAL) one.
fn resolver() -> StaticResolver {
    StaticResolver::new()
        .host("10.0.0.1", "host.example.com")
        .host("10.1.1.2", "a.example.com")
        .host("192.168.0.1", "localhost")
        .ptr("172.0.0.1", "elsewhere.example.com")
        .host("2001:db8::1", "v6.example.com")
}

fn client(rng: &mut Rng) -> SocketAddr {
    let ip = match rng.below(10) {
        0..=5 => quad(rng.v4()),
        6..=7 => format!("::ffff:{}", quad(rng.v4())),
        _ => rng
            .pick(&[
                "::1",
                "2001:db8::1",
                "2001:db8:1::5",
                "fe80::1",
                "::ffff:0:1",
            ])
            .to_string(),
    };
    SocketAddr::new(ip.parse().expect("an address"), 4242)
}

#[test]
fn the_index_decides_as_the_walk_on_generated_rule_sets() {
    const RULE_SETS: usize = 3000;
    let mut rng = Rng(0x1d3c_a11b_0b5e_55ed);
    let server: SocketAddr = "10.9.9.9:22".parse().expect("an address");
    let (mut total, mut allowed, mut by_default, mut differ) = (0usize, 0, 0, Vec::new());
    for _ in 0..RULE_SETS {
        let (allow, deny) = (rule_file(&mut rng), rule_file(&mut rng));
        let rules = Rules::from_text(&allow, &deny);
        for _ in 0..8 {
            let daemon = rng.pick(&["sshd", "ftpd", "httpd"]);
            let c = client(&mut rng);
            let (r1, r2) = (resolver(), resolver());
            let indexed = rules.check_with_server(daemon, c, Some(server), &r1);
            let walked = rules.check_walk(daemon, c, Some(server), &r2);
            total += 1;
            allowed += usize::from(indexed.allowed);
            by_default += usize::from(indexed.rule == "default");
            if indexed != walked || r1.lookups() != r2.lookups() {
                differ.push(format!(
                    "{daemon} from {c}: index {indexed:?} ({} lookups), walk {walked:?} ({} lookups)\n--- hosts.allow\n{allow}--- hosts.deny\n{deny}",
                    r1.lookups(),
                    r2.lookups()
                ));
            }
        }
    }
    // The cases must exercise both outcomes and lines deciding, not agree on a trivial answer.
    assert!(
        allowed > total / 10 && allowed < total * 9 / 10,
        "{allowed} of {total} allowed: the generated cases are lopsided"
    );
    assert!(
        by_default < total / 2,
        "{by_default} of {total} decided by default"
    );
    assert!(
        differ.is_empty(),
        "{} of {total} verdicts differ between the index and the walk; first:\n{}",
        differ.len(),
        differ[..differ.len().min(3)].join("\n")
    );
}

/// (allowed, rule) by the index and by the walk, which must agree.
fn both(allow: &str, deny: &str, daemon: &str, client: &str) -> (bool, String) {
    let rules = Rules::from_text(allow, deny);
    let c: SocketAddr = format!("[{client}]:1")
        .parse()
        .or_else(|_| format!("{client}:1").parse())
        .expect("an address");
    let (r1, r2) = (resolver(), resolver());
    let v = rules.check(daemon, c, &r1);
    let w = rules.check_walk(daemon, c, None, &r2);
    assert_eq!(v, w, "index and walk differ: {daemon} from {client}");
    assert_eq!(r1.lookups(), r2.lookups(), "lookups differ");
    (v.allowed, v.rule)
}

#[test]
fn a_name_rule_before_an_address_rule_decides_first() {
    let allow = "sshd: 10.0.0.2\nsshd: host.example.com: deny\nsshd: 10.0.0.1\n";
    assert_eq!(
        both(allow, "", "sshd", "10.0.0.1"),
        (false, "hosts.allow:2".into())
    );
    // And a keyword after the address rule does not jump ahead of it.
    let allow = "sshd: 10.0.0.1\nsshd: KNOWN: deny\n";
    assert_eq!(
        both(allow, "", "sshd", "10.0.0.1"),
        (true, "hosts.allow:1".into())
    );
}

#[test]
fn overlapping_prefixes_keep_line_order() {
    // The wider network comes first: it decides, though the exact address is filed too.
    let allow = "ALL: 10.0.0.0/8: deny\nALL: 10.0.0.1\n";
    assert_eq!(
        both(allow, "", "d", "10.0.0.1"),
        (false, "hosts.allow:1".into())
    );
    // EXCEPT rules out the first candidate, the next one in line order decides.
    let allow = "ALL: 10. EXCEPT 10.0.0.1\nALL: 10.0.0.0/255.255.255.0: deny\nALL: 10.0.0.1\n";
    assert_eq!(
        both(allow, "", "d", "10.0.0.1"),
        (false, "hosts.allow:2".into())
    );
    // A daemon list that does not name the service skips a candidate.
    let allow = "ftpd: 10.0.0.1\nALL EXCEPT sshd: 10.\nsshd: 10.0.: deny\n";
    assert_eq!(
        both(allow, "", "sshd", "10.0.0.1"),
        (false, "hosts.allow:3".into())
    );
    // One line filed under two networks that both hold the client is evaluated once.
    let allow = "ALL: 10.0.0.1 10. 10.0.0.0/24 EXCEPT 10.0.0.1\nALL: 10.0.0.1: deny\n";
    assert_eq!(
        both(allow, "", "d", "10.0.0.1"),
        (false, "hosts.allow:2".into())
    );
    // In hosts.deny, after hosts.allow's candidates.
    assert_eq!(
        both("ALL: 10.0.0.2\n", "ALL: 10.0.\nALL: ALL\n", "d", "10.0.0.1"),
        (false, "hosts.deny:1".into())
    );
}

#[test]
fn v4_mapped_clients_are_looked_up_as_ipv4() {
    let allow = "ALL: [::]/0: deny\nALL: [::ffff:10.0.0.1]\nALL: 10.0.0.1\n";
    assert_eq!(
        both(allow, "ALL: ALL\n", "d", "::ffff:10.0.0.1"),
        (true, "hosts.allow:3".into())
    );
    assert_eq!(
        both(allow, "ALL: ALL\n", "d", "2001:db8::7"),
        (false, "hosts.allow:1".into())
    );
    assert_eq!(
        both(
            "ALL: [::ffff:0:0]/80\n",
            "ALL: ALL\n",
            "d",
            "::ffff:10.0.0.1"
        ),
        (false, "hosts.deny:1".into())
    );
}

#[test]
fn malformed_lines_are_candidates_for_every_client() {
    let deny = "sshd: 10.0.0.1\nsshd: user@10.0.0.2\nALL: 10.0.0.1\n";
    assert_eq!(
        both("", deny, "sshd", "10.0.0.1"),
        (false, "hosts.deny:1".into())
    );
    assert_eq!(
        both("", deny, "sshd", "192.168.1.1"),
        (false, "hosts.deny:2".into())
    );
    assert_eq!(
        both("", deny, "ftpd", "192.168.1.1"),
        (true, "default".into())
    );
}

/// The rule set of the benchmark: `n` address rules that do not match 127.0.0.1, then the one
/// that does (addresses, `n.n.n.` prefixes and net/masks in turn, as bench/bench.py's).
fn bench_rules(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        let (a, b) = (i / 250, i % 250);
        let p = match i % 3 {
            0 => format!("10.{a}.{b}.{}", i % 7 + 1),
            1 => format!("10.{}.{b}.", a + 10),
            _ => format!("10.{}.{b}.0/255.255.255.0", a + 20),
        };
        text.push_str(&format!("b-echo : {p}\n"));
    }
    text.push_str("b-echo : 127.0.0.1\n");
    text
}

#[test]
fn a_check_visits_only_the_lines_that_can_match() {
    let rules = Rules::from_text(&bench_rules(20_000), "ALL : ALL\n");
    let client: SocketAddr = "127.0.0.1:1".parse().expect("an address");
    let visited: Vec<usize> = rules.allow.index.candidates(client.ip()).collect();
    assert_eq!(visited, vec![20_000], "hosts.allow's candidates");
    let visited: Vec<usize> = rules.deny.index.candidates(client.ip()).collect();
    assert_eq!(visited, vec![0], "hosts.deny's candidates");
    let v = rules.check("b-echo", client, &StaticResolver::new());
    assert_eq!((v.allowed, v.rule.as_str()), (true, "hosts.allow:20001"));
    // A client one of the address rules holds (line 2504, `10.20.3.`): that one alone.
    let ip = "10.20.3.3".parse().expect("an address");
    let visited: Vec<usize> = rules.allow.index.candidates(ip).collect();
    assert_eq!(
        visited,
        vec![2503],
        "hosts.allow's candidates for 10.20.3.3"
    );
}
