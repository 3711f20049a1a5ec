//! Unit tests: every grammar element, table-driven where it fits.

use std::net::SocketAddr;

use super::*;

fn sa(addr: &str) -> SocketAddr {
    addr.parse()
        .or_else(|_| format!("{addr}:4242").parse())
        .or_else(|_| format!("[{addr}]:4242").parse())
        .expect("an address")
}

/// (allowed, rule) for `daemon` from `client` with no host names known.
fn verdict(allow: &str, deny: &str, daemon: &str, client: &str) -> (bool, String) {
    let v = Rules::from_text(allow, deny).check(daemon, sa(client), &StaticResolver::new());
    (v.allowed, v.rule)
}

/// Table rows: (hosts.deny text, daemon, client, denied?) with an empty hosts.allow.
fn deny_table(rows: &[(&str, &str, &str, bool)]) {
    for (deny, daemon, client, denied) in rows {
        let (allowed, rule) = verdict("", deny, daemon, client);
        assert_eq!(
            !allowed, *denied,
            "hosts.deny {deny:?}, {daemon} from {client}: rule {rule}"
        );
    }
}

fn errors(r: &Rules) -> Vec<String> {
    r.problems()
        .iter()
        .filter(|p| !p.is_warning)
        .map(|p| p.to_string())
        .collect()
}

fn warnings(r: &Rules) -> Vec<String> {
    r.problems()
        .iter()
        .filter(|p| p.is_warning)
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn order_allow_then_deny_then_default() {
    assert_eq!(
        verdict("", "", "sshd", "10.0.0.1"),
        (true, "default".into())
    );
    assert_eq!(
        verdict("sshd: 10.0.0.1\n", "ALL: ALL\n", "sshd", "10.0.0.1"),
        (true, "hosts.allow:1".into())
    );
    assert_eq!(
        verdict("sshd: 10.0.0.1\n", "ALL: ALL\n", "sshd", "10.0.0.2"),
        (false, "hosts.deny:1".into())
    );
    // First match decides, line numbers count blank and comment lines.
    assert_eq!(
        verdict(
            "",
            "# c\n\nsshd: 10.0.0.2\nALL: 10.0.0.1\nALL: ALL\n",
            "sshd",
            "10.0.0.1"
        ),
        (false, "hosts.deny:4".into())
    );
}

#[test]
fn address_patterns() {
    deny_table(&[
        ("ALL: 10.0.0.1", "d", "10.0.0.1", true),
        ("ALL: 10.0.0.1", "d", "10.0.0.10", false),
        ("ALL: 10.", "d", "10.200.0.1", true),
        ("ALL: 1.", "d", "10.200.0.1", false),
        ("ALL: 192.168.1.", "d", "192.168.10.7", false),
        ("ALL: 192.168.1.", "d", "192.168.1.7", true),
        ("ALL: 192.168.", "d", "192.168.200.7", true),
        ("ALL: 10.0.0.0/255.0.0.0", "d", "10.9.9.9", true),
        ("ALL: 10.0.0.0/255.0.0.0", "d", "11.9.9.9", false),
        ("ALL: 10.0.0.0/255.254.0.0", "d", "10.1.0.0", true),
        ("ALL: 10.0.0.0/255.254.0.0", "d", "10.2.0.0", false),
        ("ALL: 10.0.0.0/8", "d", "10.1.2.3", true),
        ("ALL: 10.1.0.0/16", "d", "10.2.2.3", false),
        ("ALL: 10.0.0.0/08", "d", "10.2.2.3", true),
        ("ALL: 10.0.0.5/32", "d", "10.0.0.5", true),
        ("ALL: 10.0.0.5/255.255.255.255", "d", "10.0.0.5", true),
        ("ALL: 0.0.0.0/0", "d", "1.2.3.4", true),
        ("ALL: 0.0.0.0/0", "d", "::1", false),
        ("ALL: [::1]", "d", "::1", true),
        ("ALL: [::1]", "d", "::2", false),
        ("ALL: [2001:DB8::5]", "d", "2001:db8::5", true),
        ("ALL: [2001:db8::]/32", "d", "2001:db8:ffff::1", true),
        ("ALL: [2001:db8::]/32", "d", "2001:db9::1", false),
        ("ALL: [2001:db8::1]/64", "d", "2001:db8::2", true),
        ("ALL: [::]/0", "d", "fe80::1", true),
        ("ALL: [::]/0", "d", "10.0.0.1", false),
        // IPv4 patterns match IPv4-mapped clients; IPv6 patterns do not.
        ("ALL: 10.1.2.3", "d", "::ffff:10.1.2.3", true),
        ("ALL: 10.", "d", "::ffff:10.1.2.3", true),
        ("ALL: 10.0.0.0/8", "d", "::ffff:10.1.2.3", true),
        ("ALL: [::]/0", "d", "::ffff:10.1.2.3", false),
    ]);
}

#[test]
fn lists_keywords_case_and_except() {
    deny_table(&[
        ("sshd,ftpd: ALL", "ftpd", "1.2.3.4", true),
        ("sshd ftpd,,telnetd: ALL", "telnetd", "1.2.3.4", true),
        ("sshd ftpd: ALL", "httpd", "1.2.3.4", false),
        ("SSHD: all", "sshd", "1.2.3.4", true),
        ("sshd: ALL", "SSHD", "1.2.3.4", true),
        ("all except sshd: all", "sshd", "1.2.3.4", false),
        ("ALL EXCEPT sshd: ALL", "ftpd", "1.2.3.4", true),
        ("ALL: 10.0.0.1, 10.0.0.2 10.0.0.3", "d", "10.0.0.3", true),
        // a EXCEPT b EXCEPT c = a EXCEPT (b EXCEPT c)
        (
            "ALL: 10. EXCEPT 10.1. EXCEPT 10.1.2.3",
            "d",
            "10.5.5.5",
            true,
        ),
        (
            "ALL: 10. EXCEPT 10.1. EXCEPT 10.1.2.3",
            "d",
            "10.1.9.9",
            false,
        ),
        (
            "ALL: 10. EXCEPT 10.1. EXCEPT 10.1.2.3",
            "d",
            "10.1.2.3",
            true,
        ),
        (
            "ALL: ALL EXCEPT 10.0.0.1 EXCEPT 10.0.0.1",
            "d",
            "10.0.0.1",
            true,
        ),
        ("ALL: EXCEPT 10.0.0.1", "d", "10.0.0.1", false),
        ("ALL: ALL EXCEPT", "d", "10.0.0.1", true),
        (
            "ALL: 10.0.0.1 EXCEPT EXCEPT 10.0.0.1",
            "d",
            "10.0.0.1",
            true,
        ),
        ("getty@tty1: ALL", "getty@tty1", "10.0.0.1", true),
    ]);
}

#[test]
fn names_need_verification_and_keywords() {
    let r = Rules::from_text(
        "",
        "a: LOCAL\nb: KNOWN\nc: UNKNOWN\nd: PARANOID\ne: .example.com\nf: Host.Example.Com\n",
    );
    let dns = StaticResolver::new()
        .host("10.0.0.1", "host.example.com")
        .host("10.0.0.2", "localhost")
        .ptr("10.0.0.3", "trusted.example.com")
        .addr("trusted.example.com", "10.0.0.9")
        .ptr("10.0.0.4", "10.0.0.4");
    let denied = |d: &str, ip: &str| !r.check(d, sa(ip), &dns).allowed;
    // verified name with dots
    assert!(!denied("a", "10.0.0.1") && denied("b", "10.0.0.1") && !denied("c", "10.0.0.1"));
    assert!(!denied("d", "10.0.0.1") && denied("e", "10.0.0.1") && denied("f", "10.0.0.1"));
    // verified name without a dot: LOCAL
    assert!(denied("a", "10.0.0.2") && denied("b", "10.0.0.2"));
    // PTR whose forward lookup lacks the address: paranoid; names never match
    for (d, want) in [
        ("a", false),
        ("b", false),
        ("c", false),
        ("d", true),
        ("e", false),
    ] {
        assert_eq!(denied(d, "10.0.0.3"), want, "{d} from paranoid 10.0.0.3");
    }
    // a PTR that is an address is paranoid
    assert!(denied("d", "10.0.0.4") && !denied("b", "10.0.0.4"));
    // no PTR: unknown
    assert!(denied("c", "10.0.0.5") && !denied("b", "10.0.0.5") && !denied("d", "10.0.0.5"));
    // `.example.com` does not match `example.com` itself
    let r2 = Rules::from_text("", "ALL: .example.com\n");
    let dns2 = StaticResolver::new().host("10.0.0.6", "example.com");
    assert!(r2.check("x", sa("10.0.0.6"), &dns2).allowed);
}

#[test]
fn address_rules_never_look_up_names() {
    let r = Rules::from_text(
        "sshd: 10.0.0.1 [::1] 192.168. 10.0.0.0/8 EXCEPT 10.9.9.9: spawn echo %a %d %p %r %u\n",
        "ALL: ALL\n",
    );
    let dns = StaticResolver::new();
    for ip in ["10.0.0.1", "10.9.9.9", "::1", "172.16.0.1"] {
        r.check("sshd", sa(ip), &dns);
        r.check("ftpd", sa(ip), &dns);
    }
    assert_eq!(dns.lookups(), 0);
    // A host name pattern after the matching token is not evaluated either.
    let r = Rules::from_text("", "ALL: 10.0.0.1 host.example\n");
    r.check("x", sa("10.0.0.1"), &dns);
    assert_eq!(dns.lookups(), 0);
    r.check("x", sa("10.0.0.2"), &dns);
    assert_eq!(dns.lookups(), 1, "reverse only: there is no PTR to verify");
}

#[test]
fn options_allow_deny_spawn() {
    assert_eq!(
        verdict("ALL: 10.0.0.1 : deny\n", "", "d", "10.0.0.1"),
        (false, "hosts.allow:1".into())
    );
    assert_eq!(
        verdict("", "ALL: 10.0.0.1 : ALLOW\n", "d", "10.0.0.1"),
        (true, "hosts.deny:1".into())
    );
    assert!(verdict("", "ALL: ALL: allow=\n", "d", "10.0.0.1").0);
    for bad in [
        "ALL: ALL: bogus",
        "ALL: ALL: allow: spawn echo",
        "ALL: ALL: allow x",
        "ALL: ALL:",
        "ALL: ALL: spawn",
        "ALL: ALL: twist echo",
        "ALL: ALL: spawn echo : : allow",
    ] {
        let r = Rules::from_text(bad, "");
        let v = r.check("d", sa("10.0.0.1"), &StaticResolver::new());
        assert!(!v.allowed, "{bad} in hosts.allow must deny");
        assert_eq!(v.spawn, None);
        assert_eq!(errors(&r).len(), 1, "{bad}: {:?}", r.problems());
        // ...only when it matches
        assert!(
            r.check("d", sa("::1"), &StaticResolver::new()).allowed || bad.contains("ALL: ALL")
        );
    }
    let r = Rules::from_text("sshd: 10.0.0.1: bogus\n", "");
    assert!(
        r.check("sshd", sa("10.0.0.2"), &StaticResolver::new())
            .allowed
    );
    assert!(
        r.check("ftpd", sa("10.0.0.1"), &StaticResolver::new())
            .allowed
    );
}

#[test]
fn spawn_expansions_are_sanitised() {
    let r = Rules::from_text(
        "sshd: ALL: spawn echo %a %A %c %d %h %n %p %s %u %r %% %x >> /tmp/log \\: done: allow\n",
        "",
    );
    let dns = StaticResolver::new().host("10.0.0.1", "-rf;$(touch x)`id`.Example.com");
    let v = r.check_with_server(
        "sshd",
        "10.0.0.1:5555".parse().unwrap(),
        Some("10.0.0.254:22".parse().unwrap()),
        &dns,
    );
    assert!(v.allowed);
    let pid = std::process::id();
    assert_eq!(
        v.spawn.as_deref(),
        Some(
            format!(
                "echo 10.0.0.1 10.0.0.254 _rf___touch_x__id_.example.com sshd _rf___touch_x__id_.example.com \
                 _rf___touch_x__id_.example.com {pid} sshd@10.0.0.254 unknown 5555 %  >> /tmp/log : done"
            )
            .as_str()
        )
    );
    assert_eq!(warnings(&r).len(), 1, "{:?}", r.problems());
    assert_eq!(
        sanitise("a\nb\r\x1b;|&<>'\"$ `\\é"),
        format!("a_b{}", "_".repeat(14))
    );
    assert_eq!(sanitise("-x"), "_x");
    assert_eq!(sanitise("2001:db8::1"), "2001:db8::1");
    // No name: %h is the address, %n says unknown; no PTR match: paranoid.
    let r = Rules::from_text("ALL: ALL: spawn %h %n\n", "");
    let v = r.check("d", sa("2001:db8::1"), &StaticResolver::new());
    assert_eq!(v.spawn.as_deref(), Some("2001:db8::1 unknown"));
    let dns = StaticResolver::new().ptr("10.0.0.1", "x.example");
    let v = r.check("d", sa("10.0.0.1"), &dns);
    assert_eq!(v.spawn.as_deref(), Some("10.0.0.1 paranoid"));
    // Two spawns run one after the other.
    let r = Rules::from_text("ALL: ALL: spawn a %d: spawn b\n", "");
    let v = r.check("d", sa("10.0.0.1"), &StaticResolver::new());
    assert_eq!(v.spawn.as_deref(), Some("a d\nb"));
}

#[test]
fn malformed_lines_fail_closed() {
    // (hosts.deny text, daemon, client, denied?)
    deny_table(&[
        ("sshd 10.0.0.1", "ftpd", "1.1.1.1", true),
        ("sshd: 10.0.0.0/33", "sshd", "1.1.1.1", true),
        ("sshd: 10.0.0.0/33", "ftpd", "1.1.1.1", false),
        ("sshd: 10.0.0.1/8", "sshd", "1.1.1.1", true),
        ("sshd: 010.009.009.009", "sshd", "1.1.1.1", true),
        ("sshd: 10.9.9.9.", "sshd", "1.1.1.1", true),
        ("sshd: 256.1.1.1", "sshd", "1.1.1.1", true),
        ("sshd: 10.0.0.0/255.0.255.0", "sshd", "1.1.1.1", true),
        ("sshd: 10/8", "sshd", "1.1.1.1", true),
        ("sshd: [::1]/129", "sshd", "1.1.1.1", true),
        ("sshd: [zz::1]", "sshd", "1.1.1.1", true),
        ("sshd: @admins", "sshd", "1.1.1.1", true),
        ("sshd: /etc/trusted", "sshd", "1.1.1.1", true),
        ("sshd: root@10.0.0.1", "sshd", "1.1.1.1", true),
        ("sshd: 10.0.0.*", "sshd", "1.1.1.1", true),
        ("sshd:", "sshd", "1.1.1.1", true),
        ("ALL EXCEPT sshd: 10.0.0.0/33", "sshd", "1.1.1.1", false),
        ("ALL EXCEPT sshd: 10.0.0.0/33", "ftpd", "1.1.1.1", true),
        (": ALL", "ftpd", "1.1.1.1", true),
        ("ss*hd: ALL", "ftpd", "1.1.1.1", true),
    ]);
    // In hosts.allow they never match; the rest of the file still counts.
    let r = Rules::from_text(
        "sshd: 10.0.0.0/33\nsshd 10.0.0.1\nsshd: @x\nsshd: 10.0.0.1\n",
        "ALL: ALL\n",
    );
    assert_eq!(errors(&r).len(), 3, "{:?}", r.problems());
    assert!(
        errors(&r)[0].starts_with("hosts.allow:1: "),
        "{:?}",
        errors(&r)
    );
    assert!(errors(&r)[2].contains("netgroup"));
    let v = r.check("sshd", sa("10.0.0.1"), &StaticResolver::new());
    assert_eq!((v.allowed, v.rule.as_str()), (true, "hosts.allow:4"));
    assert!(
        !r.check("sshd", sa("10.0.0.2"), &StaticResolver::new())
            .allowed
    );
    // Malformed before a valid line in hosts.deny: the malformed line decides (denies).
    assert_eq!(
        verdict(
            "",
            "sshd: 10.0.0.0/33\nsshd: ALL: allow\n",
            "sshd",
            "1.1.1.1"
        ),
        (false, "hosts.deny:1".into())
    );
}

#[test]
fn over_long_lines_fail_closed() {
    let long = format!("sshd: 10.0.0.1 {}\n", "10.0.0.2 ".repeat(300));
    assert!(long.len() > MAX_LINE);
    let r = Rules::from_text("", &long);
    assert_eq!(errors(&r).len(), 1);
    assert!(errors(&r)[0].contains("too long"));
    let none = StaticResolver::new();
    assert!(!r.check("sshd", sa("9.9.9.9"), &none).allowed);
    assert!(r.check("ftpd", sa("9.9.9.9"), &none).allowed);
    let r = Rules::from_text(&long, "");
    assert!(r.check("sshd", sa("10.0.0.1"), &none).allowed);
    assert_eq!(r.check("sshd", sa("10.0.0.1"), &none).rule, "default");
    // Exactly the limit is fine.
    let fits = format!("sshd: 10.0.0.1 {}", "x".repeat(MAX_LINE - 15));
    assert_eq!(fits.len(), MAX_LINE);
    assert!(Rules::from_text("", &fits).problems().is_empty());
}

#[test]
fn comments_continuations_encoding() {
    // `#` only at the start of a line.
    deny_table(&[
        ("#ALL: ALL", "d", "1.1.1.1", false),
        ("  # x, ALL: ALL", "d", "1.1.1.1", true),
        ("ALL: 10.0.0.1 # office", "d", "10.0.0.1", true),
        ("ALL: 10.0.0.2 # office", "d", "10.0.0.1", false),
        ("sshd,\\\nftpd: ALL", "ftpd", "1.1.1.1", true),
        ("sshd\\\n: ALL", "sshd", "1.1.1.1", true),
        ("# x \\\nALL: ALL", "d", "1.1.1.1", false),
        ("\u{feff}ALL: ALL", "d", "1.1.1.1", true),
        ("sshd: 10.0.0.2\r\nALL: 10.0.0.1\r\n", "d", "10.0.0.1", true),
        (
            "sshd: 10.0.0.2\\\r\n 10.0.0.1\r\n",
            "sshd",
            "10.0.0.1",
            true,
        ),
        ("\tALL:\t10.0.0.1\t", "d", "10.0.0.1", true),
        ("ALL: ALL", "d", "1.1.1.1", true),
    ]);
    // A continued rule is reported at its first line.
    assert_eq!(
        verdict("", "\nsshd,\\\nftpd: ALL\nALL: ALL\n", "ftpd", "1.1.1.1").1,
        "hosts.deny:2"
    );
    assert_eq!(
        verdict(
            "",
            "\nsshd,\\\nftpd: 1.1.1.2\nALL: ALL\n",
            "ftpd",
            "1.1.1.1"
        )
        .1,
        "hosts.deny:4"
    );
    let r = Rules::from_text("", "# x \\\nALL: ALL\n");
    assert_eq!(warnings(&r).len(), 1);
    let r = Rules::from_text("", "ALL: 10.0.0.1 # office\n");
    assert!(warnings(&r)[0].contains("`# office`"), "{:?}", warnings(&r));
    // NUL and invalid UTF-8 make the line malformed.
    deny_table(&[
        ("sshd: 10.0.0.1\0x", "sshd", "1.1.1.1", true),
        ("sshd: 10.0.0.1\u{fffd}", "sshd", "1.1.1.1", true),
    ]);
    // No final newline: the last line counts.
    assert!(!verdict("", "ALL: ALL", "d", "1.1.1.1").0);
}

#[test]
fn warnings_for_suspicious_patterns() {
    for (deny, needle) in [
        ("ALL: 10.9.9", "prefix ends with a dot"),
        ("ALL: 10", "prefix ends with a dot"),
        ("ALL: 2001:db8::1", "brackets"),
        ("ALL: 2001:db8::1 : deny", "brackets"),
        ("ALL: ::1", "brackets"),
        ("ALL: [::ffff:10.0.0.1]", "matched as IPv4"),
        ("ALL: 10.0.0.1 # x", "comment"),
        ("ALL: ALL EXCEPT", "excludes nothing"),
    ] {
        let r = Rules::from_text("", deny);
        assert!(errors(&r).is_empty(), "{deny}: {:?}", r.problems());
        let w = warnings(&r);
        assert_eq!(w.len(), 1, "{deny}: {w:?}");
        assert!(w[0].contains(needle), "{deny}: {w:?}");
        assert!(w[0].starts_with("hosts.deny:1: warning: "), "{w:?}");
    }
    // They never match (as in tcp_wrappers).
    deny_table(&[
        ("ALL: 10.9.9", "d", "10.9.9.1", false),
        ("ALL: 2001:db8::1", "d", "2001:db8::1", false),
        ("ALL: [::ffff:10.0.0.1]", "d", "10.0.0.1", false),
        ("ALL: [::ffff:10.0.0.1]", "d", "::ffff:10.0.0.1", false),
        ("ALL: 2001:db8::1, 10.0.0.1", "d", "10.0.0.1", true),
    ]);
}

#[test]
fn unreadable_files_deny_everything() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::load(dir.path());
    assert!(rules.problems().is_empty());
    assert!(
        rules
            .check("d", sa("1.1.1.1"), &StaticResolver::new())
            .allowed
    );
    std::fs::create_dir(dir.path().join("hosts.deny")).unwrap();
    std::fs::write(dir.path().join("hosts.allow"), "ALL: ALL\n").unwrap();
    let rules = Rules::load(dir.path());
    let v = rules.check("d", sa("1.1.1.1"), &StaticResolver::new());
    assert_eq!(
        (v.allowed, v.rule.as_str()),
        (false, "hosts.deny:unreadable")
    );
    assert!(rules.has_errors());
    assert!(rules.problems()[0]
        .to_string()
        .contains("hosts.deny: cannot read"));
    std::fs::remove_dir(dir.path().join("hosts.deny")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("hosts.allow.tmp")).unwrap();
    std::fs::rename(
        dir.path().join("hosts.allow.tmp"),
        dir.path().join("hosts.allow"),
    )
    .unwrap();
    let rules = Rules::load(dir.path());
    let v = rules.check("d", sa("1.1.1.1"), &StaticResolver::new());
    assert_eq!(
        (v.allowed, v.rule.as_str()),
        (false, "hosts.allow:unreadable")
    );
}

#[test]
fn parse_by_label() {
    let f = parse("/etc/svc/hosts.deny", "sshd: 10.0.0.0/33\n");
    let r = Rules::new(RuleFile::missing(Kind::Allow), f);
    assert!(r.problems()[0]
        .to_string()
        .starts_with("/etc/svc/hosts.deny:1: "));
    assert!(
        !r.check("sshd", sa("1.1.1.1"), &StaticResolver::new())
            .allowed
    );
}

/// Regression (found by the hosts_access fuzz target): a Unicode blank of two bytes (U+0085)
/// before a client's `:` made the parser slice inside the character and panic — svc inetd
/// would have died on such a rule file. Now the line parses, and the rule still decides.
#[test]
fn a_multibyte_blank_before_the_colon_does_not_panic() {
    let allow = "echo: 10.0.0.\u{85}x:allow\nsshd: 10.0.0.1\u{85}:deny\n";
    let r = Rules::from_text(allow, "ALL: ALL\n");
    let v = r.check("echo", sa("10.0.0.7"), &StaticResolver::new());
    assert!(!v.rule.is_empty());
}
