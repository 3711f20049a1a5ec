//! Environment files and expansion in arguments (SPEC §8.4, §8.5; docs/services.md,
//! "Environment files" and "Expansion in arguments"): `env_file` read at every start, its
//! syntax, precedence over `env:`, optional files, bad lines and missing files (exit 6, nothing
//! started), trust as root, a FIFO never blocking; `${NAME}` and `$NAME` in `args`, every other
//! `$` left to the program, `svc check`'s warning; and a real daemon configured Debian-style
//! through `$DAEMON_OPTS`.

use crate::util::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// A daemon that writes its arguments (one per line, each in brackets) to work/NAME.args and
/// the variables `vars` (`NAME=[value]`) to work/NAME.vars, then waits for TERM. Returns the
/// definition text up to (not including) `args`.
fn recorder(sb: &Sandbox, name: &str, vars: &[&str]) -> String {
    let w = sb.work.display();
    let printed: String = vars
        .iter()
        .map(|v| format!("printf '%s=[%s]\\n' {v} \"${v}\" >> {w}/{name}.vars.tmp\n"))
        .collect();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\n: > {w}/{name}.vars.tmp\n{printed}mv {w}/{name}.vars.tmp {w}/{name}.vars\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > {w}/{name}.args.tmp\nmv {w}/{name}.args.tmp {w}/{name}.args\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    format!("exec: {}\n", script.display())
}

/// Starts NAME and returns (its recorded environment, its recorded arguments); stops it.
#[track_caller]
fn run_recorder(sb: &Sandbox, name: &str) -> (String, String) {
    for ext in ["vars", "args"] {
        let _ = std::fs::remove_file(sb.work.join(format!("{name}.{ext}")));
    }
    sb.svc(["start", name]).ok();
    let args = sb.work.join(format!("{name}.args"));
    wait_for_file(&args, WAIT);
    let env = std::fs::read_to_string(sb.work.join(format!("{name}.vars"))).unwrap();
    let args = std::fs::read_to_string(args).unwrap();
    sb.svc(["stop", name]).ok();
    (env, args)
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path.to_path_buf()
}

/// The syntax of §8.4: comments, blank lines, `export`, bare (trimmed), single-quoted
/// (literal) and double-quoted (four escapes) values.
#[test]
fn env_file_syntax_reaches_the_program() {
    let sb = Sandbox::new();
    let file = write(
        &sb.work.join("app.env"),
        "# a comment\n\n   # an indented one\nBARE=  two words  \nexport EXPORTED=yes\nSINGLE='$HOME \"x\" \\n'\nDOUBLE=\"a \\\"q\\\" \\\\ \\$HOME\"\nEMPTY=\n",
    );
    let def = recorder(
        &sb,
        "app",
        &["BARE", "EXPORTED", "SINGLE", "DOUBLE", "EMPTY"],
    );
    sb.service("app", &format!("{def}env_file: {}\n", file.display()));
    let (env, _) = run_recorder(&sb, "app");
    assert_eq!(
        env,
        "BARE=[two words]\nEXPORTED=[yes]\nSINGLE=[$HOME \"x\" \\n]\nDOUBLE=[a \"q\" \\ $HOME]\nEMPTY=[]\n"
    );
}

/// A `\n` escape in double quotes is a newline in the value.
#[test]
fn a_newline_escape_makes_a_two_line_value() {
    let sb = Sandbox::new();
    let file = write(&sb.work.join("nl.env"), "TWO=\"one\\ntwo\"\n");
    let def = recorder(&sb, "nl", &["TWO"]);
    sb.service("nl", &format!("{def}env_file: [{}]\n", file.display()));
    let (env, _) = run_recorder(&sb, "nl");
    assert_eq!(env, "TWO=[one\ntwo]\n");
}

/// Precedence, lowest first: svc's base environment, `env:`, the files in order; a `-` file
/// that is missing is skipped; the files are read again at every start.
#[test]
fn files_override_env_in_order_and_are_read_at_every_start() {
    let sb = Sandbox::new();
    let first = write(
        &sb.work.join("first.env"),
        "PORT=1111\nLANG=de_DE.UTF-8\nBOTH=first\n",
    );
    let second = write(&sb.work.join("second.env"), "BOTH=second\n");
    let missing = sb.work.join("missing.env");
    let def = recorder(&sb, "app", &["PORT", "KEPT", "LANG", "BOTH"]);
    sb.service(
        "app",
        &format!(
            "{def}env: {{ PORT: \"80\", KEPT: default, BOTH: env }}\nenv_file:\n  - {}\n  - \"-{}\"\n  - {}\n",
            first.display(),
            missing.display(),
            second.display()
        ),
    );
    let (env, _) = run_recorder(&sb, "app");
    assert_eq!(
        env,
        "PORT=[1111]\nKEPT=[default]\nLANG=[de_DE.UTF-8]\nBOTH=[second]\n"
    );

    // Editing the file and starting again takes effect.
    write(&first, "PORT=2222\n");
    let (env, _) = run_recorder(&sb, "app");
    assert_eq!(
        env,
        "PORT=[2222]\nKEPT=[default]\nLANG=[C.UTF-8]\nBOTH=[second]\n"
    );
}

/// Nothing of the service is running, and `status` says it is stopped.
#[track_caller]
fn nothing_started(sb: &Sandbox, name: &str) {
    assert!(!sb.work.join(format!("{name}.args")).exists(), "{name} ran");
    assert!(procs_with_arg(&sb.work.join(format!("{name}.sh"))).is_empty());
    sb.svc(["status", name]).code(3);
}

/// A bad line fails the start with exit 6 naming the file and line; nothing is started. Each
/// kind of bad line of §8.4.
#[test]
fn a_bad_line_names_file_and_line_and_starts_nothing() {
    let sb = Sandbox::new();
    let def = recorder(&sb, "app", &[]);
    for (text, line, words) in [
        (
            "# ok\nA=1\nno equals here\n",
            3,
            "expected KEY=VALUE (no `=` on the line)",
        ),
        ("A='open\n", 1, "unterminated 'quoted' value"),
        ("\nA=\"open\n", 2, "unterminated \"quoted\" value"),
        ("1BAD=x\n", 1, "\"1BAD\" is not a variable name"),
        ("A B=x\n", 1, "\"A B\" is not a variable name"),
        ("A='x' y\n", 1, "text after the closing '"),
    ] {
        let file = write(&sb.work.join("bad.env"), text);
        sb.service("app", &format!("{def}env_file: {}\n", file.display()));
        sb.svc(["start", "app"])
            .code(6)
            .stderr_has(&format!("{}:{line}: {words}", file.display()))
            .stderr_has("app was not started");
        nothing_started(&sb, "app");
    }
}

/// A missing file without `-` is an error (exit 6) naming it; nothing is started. A FIFO in its
/// place fails at once instead of blocking.
#[test]
fn a_missing_file_or_a_fifo_fails_with_exit_6() {
    let sb = Sandbox::new();
    let def = recorder(&sb, "app", &[]);
    let missing = sb.work.join("missing.env");
    sb.service("app", &format!("{def}env_file: {}\n", missing.display()));
    sb.svc(["start", "app"])
        .code(6)
        .stderr_has(&format!("env_file {} does not exist", missing.display()));
    nothing_started(&sb, "app");

    let fifo = sb.work.join("fifo.env");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    sb.service("app", &format!("{def}env_file: {}\n", fifo.display()));
    sb.svc(["start", "app"])
        .code(6)
        .stderr_has(&format!("cannot read env_file {}", fifo.display()));
    nothing_started(&sb, "app");
}

/// As root an env file must pass the trust rules: one that others may write is refused.
#[test]
fn as_root_a_file_others_may_write_is_refused() {
    if skip_unless_root("as_root_a_file_others_may_write_is_refused") {
        return;
    }
    let sb = Sandbox::new();
    let def = recorder(&sb, "app", &["A"]);
    let file = write(&sb.work.join("open.env"), "A=1\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    sb.service("app", &format!("{def}env_file: {}\n", file.display()));
    sb.svc(["start", "app"])
        .code(6)
        .stderr_has(&format!("refusing {}", file.display()));
    nothing_started(&sb, "app");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (env, _) = run_recorder(&sb, "app");
    assert_eq!(env, "A=[1]\n");
}

/// `env_file` is checked like every key: a relative path is a definition error at its line.
#[test]
fn a_relative_env_file_is_a_definition_error() {
    let sb = Sandbox::new();
    let def = recorder(&sb, "app", &[]);
    sb.service("app", &format!("{def}\nenv_file: default/app\n"));
    let file = sb.config.join("init.d/app.yaml");
    sb.svc(["start", "app"]).code(6).stderr_has(&format!(
        "{}:3: `env_file`: expected an absolute path",
        file.display()
    ));
    sb.svc(["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}:3:", file.display()));
}

/// §8.5: `${NAME}` anywhere, `$NAME` as a whole argument split at blanks (an empty value gives
/// no argument), every other `$` form and undefined names left as written; `exec` never.
#[test]
fn arguments_are_expanded_with_the_final_environment() {
    let sb = Sandbox::new();
    let file = write(
        &sb.work.join("app.env"),
        "OPTS=\"-a  -b\t--c=d\"\nEMPTY=\nPORT=8080\n",
    );
    let def = recorder(&sb, "app", &[]);
    sb.service(
        "app",
        &format!(
            "{def}env: {{ PORT: \"1\", NAME: demo }}\nenv_file: {}\nargs: [\"--port=${{PORT}}\", \"${{NAME}}-${{PORT}}\", \"$OPTS\", \"$EMPTY\", \"x$OPTS\", \"$$\", \"$!\", \"$1\", \"$(id)\", \"$UNDEF\", \"${{UNDEF}}\", \"${{PORT:-9}}\", \"${{EMPTY}}\", \"$HOME\"]\n",
            file.display()
        ),
    );
    let (_, args) = run_recorder(&sb, "app");
    assert_eq!(
        args,
        "[--port=8080]\n[demo-8080]\n[-a]\n[-b]\n[--c=d]\n[x$OPTS]\n[$$]\n[$!]\n[$1]\n[$(id)]\n[$UNDEF]\n[${UNDEF}]\n[${PORT:-9}]\n[]\n[/]\n"
            .replace("[/]", &format!("[{}]", home_of_root_or_me())),
    );
}

/// HOME svc gives a service without `user:`: the home of the user svc runs as.
fn home_of_root_or_me() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "getent passwd $(id -u) | cut -d: -f6"])
        .output()
        .unwrap();
    let home = String::from_utf8(out.stdout).unwrap().trim().to_string();
    if home.is_empty() {
        "/".into()
    } else {
        home
    }
}

/// `$$`, `$!` and undefined names reach an `sh -c` argument untouched, so the shell expands
/// them itself; `${X}` defined by the file is svc's.
#[test]
fn shell_code_in_sh_c_keeps_its_dollars() {
    let sb = Sandbox::new();
    let out = sb.work.join("sh.out");
    let file = write(&sb.work.join("sh.env"), "X=from-file\n");
    let code = format!(
        "sleep 1000 & echo \"pid=$$ bg=$! undef=[$UNDEF_SVC_TEST] x=${{X}} xs=$X\" > {o}.tmp; mv {o}.tmp {o}; wait",
        o = out.display()
    );
    sb.service(
        "shell",
        &format!(
            "exec: /bin/sh\nargs: [\"-c\", {code:?}, {}]\nenv_file: {}\n",
            sb.work.display(),
            file.display()
        ),
    );
    sb.svc(["start", "shell"]).ok();
    wait_for_file(&out, WAIT);
    let text = std::fs::read_to_string(&out).unwrap();
    let pid = sb.pid("shell");
    let bg: i32 = text
        .split("bg=")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        text,
        format!("pid={pid} bg={bg} undef=[] x=from-file xs=from-file\n")
    );
    assert_ne!(bg, pid);
    sb.svc(["stop", "shell"]).ok();
}

/// `svc check` warns (exit 0) about `${NAME}` and whole `$NAME` that neither `env:`, the env
/// files nor svc's own environment define, at the line of `args`; the others are quiet. With
/// host checks, a missing or bad env file is a problem, as `start` would refuse it.
#[test]
fn check_warns_about_undefined_names_and_reports_bad_files() {
    let sb = Sandbox::new();
    let file = write(&sb.work.join("app.env"), "FROMFILE=1\n");
    let def = recorder(&sb, "app", &[]);
    sb.service(
        "app",
        &format!(
            "{def}env: {{ FROMENV: x }}\nenv_file: [{}, \"-{}/gone.env\"]\nargs: [\"${{TYPO}}\", \"$ALSO\", \"x$NOT_WHOLE\", \"${{FROMFILE}}\", \"$FROMENV\", \"${{HOME}}\", \"$SVC_STATE_DIR\", \"$$\"]\n",
            file.display(),
            sb.work.display()
        ),
    );
    let yaml = sb.config.join("init.d/app.yaml");
    let r = sb.svc(["check"]);
    r.ok().stdout_has("no problems");
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 2, "{}", r.stderr);
    for (warning, written) in warnings.iter().zip(["${TYPO}", "$ALSO"]) {
        assert!(
            warning.starts_with(&format!(
                "{}:4: warning: `args`: {written}:",
                yaml.display()
            )),
            "{warning}"
        );
        assert!(warning.contains("passed on as written"), "{warning}");
    }

    write(&file, "FROMFILE=1\nbroken\n");
    sb.svc(["check"]).code(6).stderr_has(&format!(
        "{}:3: `env_file`: {}:2:",
        yaml.display(),
        file.display()
    ));
    std::fs::remove_file(&file).unwrap();
    sb.svc(["check"]).code(6).stderr_has("does not exist");
    sb.svc(["check", "--no-host-checks"]).ok();
}

/// A real daemon configured the Debian way: python3's HTTP server, its bind address, port and
/// directory in `DAEMON_OPTS` of an env file, passed as `$DAEMON_OPTS`; a GET is answered.
#[test]
fn a_daemon_takes_its_options_from_daemon_opts() {
    let sb = Sandbox::new();
    let port = free_port();
    std::fs::write(sb.work.join("hello.txt"), "hello from svc\n").unwrap();
    let file = write(
        &sb.work.join("web.default"),
        &format!(
            "# options for the web server\nexport DAEMON_OPTS=\"--bind 127.0.0.1 --directory {} {port}\"\n",
            sb.work.display()
        ),
    );
    sb.service(
        "web",
        &format!(
            "exec: /usr/bin/python3\nargs: [\"-m\", \"http.server\", \"$DAEMON_OPTS\"]\nenv_file: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 20\n",
            file.display()
        ),
    );
    sb.svc(["start", "web"]).ok();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /hello.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("hello from svc\n"), "{answer}");
    sb.svc(["stop", "web"]).ok();
}

/// A supervised (`respawn:`) service gets the same environment and expansion; a bad line fails
/// its start with exit 6 and leaves no supervisor behind.
#[test]
fn a_supervised_service_reads_its_env_files_too() {
    let sb = Sandbox::new();
    let file = write(&sb.work.join("sup.env"), "OPTS=\"-x -y\"\nA=from-file\n");
    let def = recorder(&sb, "sup", &["A"]);
    sb.service(
        "sup",
        &format!(
            "{def}respawn: {{}}\nenv_file: {}\nargs: [\"$OPTS\", \"${{A}}\"]\n",
            file.display()
        ),
    );
    let (env, args) = run_recorder(&sb, "sup");
    assert_eq!(env, "A=[from-file]\n");
    assert_eq!(args, "[-x]\n[-y]\n[from-file]\n");

    write(&file, "OPTS='unterminated\n");
    let _ = std::fs::remove_file(sb.work.join("sup.args"));
    sb.svc(["start", "sup"]).code(6).stderr_has(&format!(
        "{}:1: unterminated 'quoted' value",
        file.display()
    ));
    nothing_started(&sb, "sup");
    assert!(
        procs_with_arg(&sb.config).is_empty(),
        "a supervisor was left"
    );
}
