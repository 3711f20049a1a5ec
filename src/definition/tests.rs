use super::*;
use crate::users::IdSpec;
use nix::sys::signal::Signal;
use std::net::IpAddr;
use std::time::Duration;

fn name() -> ServiceName {
    ServiceName::new("demo").unwrap()
}

/// Validated, with the accounts looked up (the script header is not read). The validation
/// tests of `validate/` use it too.
pub(in crate::definition) fn checked(text: &str) -> Result<Definition, Vec<Problem>> {
    resolve::accounts(validate::validate(
        Path::new("init.d/demo.yaml"),
        &name(),
        text,
    ))
}

fn ok(text: &str) -> Definition {
    checked(text).unwrap_or_else(|p| panic!("{p:?}"))
}

fn problems(text: &str) -> Vec<Problem> {
    checked(text).unwrap_err()
}

/// For each `(text, words)`: the first problem with `text` says `words`.
fn first_problem_says(rows: &[(&str, &str)]) {
    for (text, words) in rows {
        let p = problems(text);
        assert!(p[0].message.contains(words), "{text:?}: {p:?}");
    }
}

#[test]
fn minimal_definition_gets_defaults() {
    let d = ok("exec: /bin/sleep\nargs: [\"100\"]\n");
    assert_eq!(d.program, Program::Exec("/bin/sleep".into()));
    assert_eq!(d.args, vec!["100"]);
    assert_eq!(d.umask, 0o022);
    assert_eq!(d.stop_signal, Signal::SIGTERM);
    assert_eq!(d.stop_timeout, Duration::from_secs(10));
    assert_eq!(d.ready_timeout, Duration::from_secs(30));
    assert_eq!(d.workdir, PathBuf::from("/"));
    assert_eq!(d.log, LogTarget::Default);
    assert!(!d.forking);
}

#[test]
fn full_definition() {
    let d = ok(r#"
description: Example HTTP server
exec: /usr/bin/python3
args: ["-m", "http.server", "8080"]
workdir: /srv/www
env: { LANG: C.UTF-8, PORT: 8080 }
user: root
umask: "027"
limits: { nofile: 4096, core: 0, stack: [1024, unlimited] }
nice: 5
stop_signal: INT
stop_timeout: 500ms
reload_signal: SIGHUP
ready: { tcp: "127.0.0.1:8080" }
ready_timeout: 2m
requires: [network]
wants: [syslog]
runlevels: [2, 3, 4, 5]
start_priority: 20
stop_priority: 80
respawn: { max: 3, window: 30, backoff: 2 }
log: none
"#);
    assert_eq!(d.umask, 0o027);
    assert_eq!(
        d.env,
        vec![
            ("LANG".into(), "C.UTF-8".into()),
            ("PORT".into(), "8080".into())
        ]
    );
    assert_eq!(d.stop_signal, Signal::SIGINT);
    assert_eq!(d.reload_signal, Some(Signal::SIGHUP));
    assert_eq!(d.stop_timeout, Duration::from_millis(500));
    assert_eq!(d.ready_timeout, Duration::from_secs(120));
    assert_eq!(d.ready, Some(Ready::Tcp("127.0.0.1:8080".into())));
    assert_eq!(d.runlevels, vec!['2', '3', '4', '5']);
    assert_eq!(d.limits.len(), 3);
    assert_eq!(d.limits[2].hard, None);
    assert_eq!(d.respawn.unwrap().max, 3);
    assert_eq!(d.log, LogTarget::None);
    assert_eq!(d.nice, Some(5));
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let p = problems("exec: /bin/true\nusr: nobody\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(2));
    assert!(
        p[0].message.contains("unknown key `usr`"),
        "{}",
        p[0].message
    );
    assert!(
        p[0].message.contains("did you mean `user`"),
        "{}",
        p[0].message
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems("exec: 5\numask: 022\nstop_timeout: -3\nnice: 40\nforking: true\n");
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert!(p.len() >= 5, "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains(":1: `exec`: expected a string")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains(":2: `umask`")), "{text:#?}");
    assert!(
        text.iter().any(|t| t.contains(":3: `stop_timeout`")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains(":4: `nice`")), "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains(":5: `forking: true` needs `pidfile`")),
        "{text:#?}"
    );
}

#[test]
fn missing_exec_empty_file_and_bad_yaml() {
    first_problem_says(&[
        ("args: [a]\n", "missing `exec`"),
        ("", "empty"),
        ("# nothing\n", "empty"),
    ]);
    let p = problems("exec: /bin/true\nargs: [a\n");
    assert!(p[0].message.starts_with("invalid YAML"), "{:?}", p[0]);
    assert!(p[0].line.is_some());
    first_problem_says(&[("- a\n- b\n", "expected a mapping")]);
    assert!(problems("exec: /bin/true\n---\nexec: /bin/false\n")[0]
        .message
        .starts_with("invalid YAML"));
    assert!(problems("exec: /bin/true\nexec: /bin/false\n")[0]
        .message
        .starts_with("invalid YAML"));
}

#[test]
fn exec_and_script_are_exclusive() {
    first_problem_says(&[("exec: /bin/true\nscript: /etc/init.d/x\n", "exclusive")]);
    assert_eq!(
        ok("script: /etc/init.d/x\n").program,
        Program::Script("/etc/init.d/x".into())
    );
    first_problem_says(&[("exec: bin/true\n", "relative path")]);
    assert_eq!(ok("exec: sleep\n").program, Program::Exec("sleep".into()));
}

#[test]
fn umask_must_be_a_quoted_octal_string() {
    first_problem_says(&[
        ("exec: /bin/true\numask: 022\n", "quoted octal"),
        ("exec: /bin/true\numask: \"0o22\"\n", "octal"),
        ("exec: /bin/true\numask: \"088\"\n", "octal"),
    ]);
    assert_eq!(ok("exec: /bin/true\numask: \"0077\"\n").umask, 0o077);
}

#[test]
fn durations() {
    assert_eq!(
        ok("exec: /bin/true\nstop_timeout: 2.5\n").stop_timeout,
        Duration::from_millis(2500)
    );
    assert_eq!(
        ok("exec: /bin/true\nstop_timeout: \"2m\"\n").stop_timeout,
        Duration::from_secs(120)
    );
    for bad in ["-1", "1e30", "\"10h\"", "[1]", "\"\"", ".inf"] {
        let p = problems(&format!("exec: /bin/true\nstop_timeout: {bad}\n"));
        assert_eq!(p[0].line, Some(2), "{bad}: {p:?}");
    }
}

#[test]
fn users_never_fall_back_to_root() {
    for bad in [
        "\"0day\"",
        "\" 0\"",
        "\"0x0\"",
        "\"root \"",
        "\"\"",
        "null",
        "~",
        "[a]",
        "no-such-user-xyz",
    ] {
        let p = problems(&format!("exec: /bin/true\nuser: {bad}\n"));
        assert_eq!(p[0].line, Some(2), "{bad}: {p:?}");
    }
    first_problem_says(&[("exec: /bin/true\nuser: 3999999999\n", "explicit")]);
    assert_eq!(ok("exec: /bin/true\nuser: 0\n").user, Some(IdSpec::Id(0)));
}

#[test]
fn signals_env_ready_and_names() {
    first_problem_says(&[
        ("exec: /bin/true\nstop_signal: TREM\n", "unknown signal"),
        (
            "exec: /bin/true\nenv: { \"A=B\": x }\n",
            "not a valid variable name",
        ),
        ("exec: /bin/true\nenv: { A: true }\n", "quote it"),
        (
            "exec: /bin/true\nready: { tcp: \"localhost\" }\n",
            "HOST:PORT",
        ),
        (
            "exec: /bin/true\nready: { tcp: \"a:1\", file: /x }\n",
            "exactly one",
        ),
    ]);
    assert_eq!(
        ok("exec: /bin/true\nready: { notify: true }\n").ready,
        Some(Ready::Notify)
    );
    assert_eq!(
        ok("exec: /bin/true\nready: { file: /tmp/x }\n").ready,
        Some(Ready::File("/tmp/x".into()))
    );
    first_problem_says(&[
        (
            "exec: /bin/true\nrequires: [\"../x\"]\n",
            "invalid service name",
        ),
        ("exec: /bin/true\nrequires: [demo]\n", "itself"),
    ]);
}

#[test]
fn nested_problem_lines() {
    let p = problems("exec: /bin/true\nlimits:\n  nofile: 10\n  bogus: 3\n");
    assert_eq!(p[0].line, Some(4), "{p:?}");
    let p = problems("exec: /bin/true\nsocket:\n  port: 99999\n");
    assert_eq!(p[0].line, Some(3), "{p:?}");
}

#[test]
fn socket_settings() {
    let d = ok("exec: /bin/cat\nsocket: { port: 7000, bind: \"::1\", instances: 5, per_source: 2, cps: [20, 10] }\n");
    let s = d.socket.unwrap();
    assert_eq!(s.port, 7000);
    assert_eq!(s.bind, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(s.cps, Some((20, 10)));
    first_problem_says(&[
        (
            "exec: /bin/cat\nsocket: { port: 7, bind: \"10.0.0.300\" }\n",
            "not an IPv4",
        ),
        (
            "exec: /bin/cat\nsocket: { bind: \"127.0.0.1\" }\n",
            "missing `port`",
        ),
    ]);
}

#[test]
fn byte_order_mark_is_accepted() {
    ok("\u{feff}exec: /bin/true\n");
}

#[test]
fn host_port() {
    assert_eq!(
        parse_host_port("127.0.0.1:80"),
        Some(("127.0.0.1".into(), 80))
    );
    assert_eq!(parse_host_port("[::1]:80"), Some(("::1".into(), 80)));
    assert_eq!(
        parse_host_port("localhost:8080"),
        Some(("localhost".into(), 8080))
    );
    for bad in ["::1:80", "x", ":80", "x:", "x:0", "x:70000"] {
        assert_eq!(parse_host_port(bad), None, "{bad}");
    }
}

#[test]
fn kind_is_decided_once_from_the_keys() {
    use super::Kind;
    assert_eq!(ok("exec: /bin/true\n").kind, Kind::Exec);
    assert_eq!(
        ok("exec: /bin/true\nforking: true\npidfile: /run/x.pid\n").kind,
        Kind::Exec
    );
    assert_eq!(ok("exec: /bin/true\nrespawn: {}\n").kind, Kind::Supervised);
    assert_eq!(ok("script: /etc/init.d/x\n").kind, Kind::Script);
    assert_eq!(
        ok("exec: /bin/cat\nsocket: {port: 7000, protocol: tcp}\n").kind,
        Kind::OnDemand
    );
}

fn dirs(root: &Path) -> Dirs {
    Dirs::resolve(&crate::paths::DirFlags {
        config: Some(root.join("config")),
        state: Some(root.join("state")),
        log: Some(root.join("log")),
        sysv: None,
    })
}

/// The one loader: every `.yaml` of init.d/ in file name order, the ones that load and the
/// ones that do not (a name that is no service name, an invalid file) apart.
#[test]
fn load_all_loads_every_definition_in_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    let init = d.init_d();
    std::fs::create_dir_all(&init).unwrap();
    for (file, text) in [
        ("b.yaml", "exec: /bin/true\n"),
        ("a.yaml", "exec: /bin/true\nnice: 100\n"),
        ("c.yaml", "exec: /bin/false\n"),
        ("-bad.yaml", "exec: /bin/true\n"),
        ("README", "not a definition\n"),
    ] {
        std::fs::write(init.join(file), text).unwrap();
    }
    let loaded = load_all(&d).unwrap();
    let ok: Vec<&str> = loaded.ok.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(ok, ["b", "c"]);
    assert_eq!(loaded.total(), 4);
    match &loaded.failed[..] {
        [Failed::BadName { path: bad, .. }, Failed::Invalid {
            name,
            error: DefinitionError::Invalid(p),
            ..
        }] => {
            assert!(bad.ends_with("-bad.yaml"), "{bad:?}");
            assert_eq!(name.as_str(), "a");
            assert_eq!(p[0].line, Some(2), "{p:?}");
        }
        other => panic!("{other:?}"),
    }
    // No init.d/ at all: nothing to load, not an error.
    let empty = load_all(&dirs(&tmp.path().join("none"))).unwrap();
    assert_eq!(empty.total(), 0);
}

/// Keys the file gives are known with their lines (what check and the script header step use).
#[test]
fn definition_knows_its_keys_and_their_lines() {
    let d = ok("# a comment\n\"description\": x\nexec: /bin/true\nenv:\n  requires: x\n");
    assert_eq!(d.keys.line("description"), Some(2));
    assert_eq!(d.keys.line("exec"), Some(3));
    assert!(d.keys.given("env"));
    assert!(
        !d.keys.given("requires"),
        "a nested key is not a top-level key"
    );
    let d = ok("\u{feff}requires: [a]\nexec: /bin/true\n");
    assert_eq!(d.keys.line("requires"), Some(1));
}

/// An account that does not resolve is reported with the file's other problems, in line order.
#[test]
fn account_problems_come_with_the_other_problems() {
    let p = problems("exec: /bin/true\nnice: 100\nuser: no-such-user-xyz\numask: 022\n");
    let lines: Vec<Option<usize>> = p.iter().map(|p| p.line).collect();
    assert_eq!(lines, [Some(2), Some(3), Some(4)], "{p:?}");
    assert!(p[1].message.contains("does not exist"), "{p:?}");
    // Validation alone looks nothing up.
    assert!(parse(
        Path::new("x.yaml"),
        &name(),
        "exec: /bin/true\nuser: no-such-user-xyz\n"
    )
    .is_ok());
}

/// The script header step: what the definition does not give comes from the INIT INFO block;
/// what it gives stays; a missing script is reported at the `script:` line.
#[test]
fn script_header_fills_what_the_file_does_not_give() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("demo");
    std::fs::write(
        &script,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: demo\n# Required-Start: $network db\n\
         # Should-Start: cache\n# Default-Start: 2 3\n# Short-Description: Demo\n### END INIT INFO\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        "description: mine\nscript: {}\nwants: []\n",
        script.display()
    );
    let mut d = ok(&text);
    resolve::script_header(&mut d).unwrap();
    assert_eq!(d.requires, [ServiceName::new("db").unwrap()]);
    assert!(d.wants.is_empty(), "given in the file: kept");
    assert_eq!(d.runlevels, ['2', '3']);
    assert_eq!(d.description.as_deref(), Some("mine"));
    let mut d = ok("# x\nscript: /no/such/script\n");
    let p = resolve::script_header(&mut d).unwrap_err();
    assert_eq!(p[0].line, Some(2), "{p:?}");
    assert!(p[0].message.contains("does not exist"), "{p:?}");
}

#[test]
fn env_file_is_a_path_or_a_list_with_optional_dashes() {
    let file = |path: &str, optional| EnvFile {
        path: path.into(),
        optional,
    };
    assert_eq!(ok("exec: /bin/true\n").env_files, []);
    assert_eq!(
        ok("exec: /bin/true\nenv_file: /etc/default/a\n").env_files,
        [file("/etc/default/a", false)]
    );
    assert_eq!(
        ok("exec: /bin/true\nenv_file: [/a, \"-/b\"]\n").env_files,
        [file("/a", false), file("/b", true)]
    );
    let p = problems("exec: /bin/true\n\nenv_file: [relative, /ok, \"-\", 3]\n");
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p.iter().all(|p| p.line == Some(3)), "{p:?}");
    assert!(p[0].message.contains("expected an absolute path"), "{p:?}");
    assert!(p[0].message.contains("\"relative\""), "{p:?}");
    first_problem_says(&[
        (
            "exec: /bin/true\nenv_file: {a: 1}\n",
            "`env_file`: expected a path or a list of paths",
        ),
        (
            "script: /etc/init.d/x\nenv_file: /a\n",
            "`env_file` cannot be used with `script`",
        ),
    ]);
}

#[test]
fn svc_yaml_sysv_dir_is_an_absolute_path_with_its_line_on_error() {
    let f = Path::new("/c/svc.yaml");
    let s = validate::settings(f, "default_runlevel: 2\nsysv_dir: /srv/sysv\n").unwrap();
    assert_eq!(s.sysv_dir, Some(PathBuf::from("/srv/sysv")));
    let e = validate::settings(f, "default_runlevel: 2\nsysv_dir: etc\n").unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(2));
    assert!(e[0].message.contains("absolute path"), "{}", e[0]);
    let e = validate::settings(f, "sysv_dirs: /etc\n").unwrap_err();
    assert!(e[0].message.contains("sysv_dir"), "{}", e[0]);
}
