//! Packaging (issue 6): `packaging/build-deb` builds a .deb of the test binary whose contents,
//! control fields and conffiles are checked with dpkg-deb; the package unpacked with `dpkg -x`
//! runs; both man pages render without a warning (man, groff -ww, lexgrog); the completion
//! scripts parse; `--version` names the commit; the inittab snippet is well formed and its
//! commands run.
//!
//! The tools come from dpkg, man-db and groff-base (`.ci/run` installs them). zsh and fish are
//! optional: their completion checks say when they are skipped.

use crate::util::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Building a package of a debug binary (stripping, compressing) takes a few seconds.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Every file the package must install (directories aside).
const FILES: &[&str] = &[
    "/usr/sbin/svc",
    "/usr/share/man/man8/svc.8.gz",
    "/usr/share/man/man5/svc.yaml.5.gz",
    "/usr/share/bash-completion/completions/svc",
    "/usr/share/zsh/vendor-completions/_svc",
    "/usr/share/fish/vendor_completions.d/svc.fish",
    "/etc/svc/hosts.allow",
    "/etc/svc/hosts.deny",
    "/etc/svc/svc.yaml",
    "/etc/logrotate.d/svc",
    "/usr/share/doc/svc/copyright",
];

/// The /etc/svc skeleton's directories.
const DIRS: &[&str] = &[
    "/etc/svc/init.d",
    "/etc/svc/runlevels/rc0.d",
    "/etc/svc/runlevels/rc1.d",
    "/etc/svc/runlevels/rc2.d",
    "/etc/svc/runlevels/rc3.d",
    "/etc/svc/runlevels/rc4.d",
    "/etc/svc/runlevels/rc5.d",
    "/etc/svc/runlevels/rc6.d",
    "/etc/svc/runlevels/rcS.d",
];

/// Runs a program (not svc) with a deadline, capturing both streams.
fn tool(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut c = Command::new(program);
    c.args(args).stdin(Stdio::null());
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut shown = vec![program.to_string()];
    shown.extend(args.iter().map(|a| a.to_string()));
    run_timeout(c, shown, TOOL_TIMEOUT)
}

/// Fails the test, saying what to install, when a required tool is missing.
#[track_caller]
fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(program).is_file();
    assert!(
        found,
        "{program} not found: install {package} (bash .ci/run does, as root)"
    );
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}

/// Runs packaging/build-deb on the test binary; returns the .deb and build-deb's output.
fn build_deb(out: &Path) -> (PathBuf, Run) {
    require("dpkg-deb", "dpkg");
    let script = format!("{REPO}/packaging/build-deb");
    let run = tool(&script, &["--binary", SVC, "--out", s(out)], &[]);
    run.ok();
    let deb = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("package: "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("build-deb printed no `package:` line:\n{}", run.stdout));
    assert!(deb.starts_with(out), "{} is not in --out", deb.display());
    assert!(deb.is_file(), "{} was not written", deb.display());
    (deb, run)
}

/// The commit `svc --version` must name: HEAD's short hash in a git checkout, else unknown.
fn expected_commit() -> String {
    if !Path::new(REPO).join(".git").exists() {
        return "unknown".into();
    }
    let run = tool("git", &["-C", REPO, "rev-parse", "--short", "HEAD"], &[]);
    if run.code != 0 {
        eprintln!("git rev-parse failed; expecting `unknown`: {}", run.stderr);
        return "unknown".into();
    }
    run.stdout.trim().to_string()
}

#[track_caller]
fn assert_version_line(run: &Run) {
    run.ok();
    let want = format!(
        "svc {} (git {})\n",
        env!("CARGO_PKG_VERSION"),
        expected_commit()
    );
    assert_eq!(run.stdout, want, "--version output");
}

/// `man -l`, `groff -ww` and `lexgrog` on a page (plain or gzipped): no warning, and the
/// NAME line `name - summary` recognised. Returns the rendered text.
#[track_caller]
fn assert_page_clean(page: &Path, name: &str, work: &Path) -> String {
    require("man", "man-db");
    require("lexgrog", "man-db");
    require("groff", "groff-base");
    let man = tool("man", &["--warnings", "-l", s(page)], &[("MANWIDTH", "80")]);
    man.ok();
    assert_eq!(man.stderr, "", "man --warnings -l {}", page.display());
    assert!(
        man.stdout.contains("NAME"),
        "rendered page:\n{}",
        man.stdout
    );
    assert!(man.stdout.contains("SYNOPSIS"), "rendered:\n{}", man.stdout);

    // groff reads no gzip: decompress into the work directory first.
    let plain = if page.extension().is_some_and(|e| e == "gz") {
        let z = tool("gzip", &["-dc", s(page)], &[]);
        z.ok();
        let p = work.join(format!("{name}.roff"));
        std::fs::write(&p, &z.stdout).unwrap();
        p
    } else {
        page.to_path_buf()
    };
    let groff = tool("groff", &["-ww", "-man", "-z", s(&plain)], &[]);
    groff.ok();
    assert_eq!(groff.stderr, "", "groff -ww -man -z {}", page.display());

    let lex = tool("lexgrog", &[s(page)], &[]);
    lex.ok();
    assert!(
        lex.stdout.contains(&format!("\"{name} - ")),
        "lexgrog did not recognise the NAME section of {}: {}",
        page.display(),
        lex.stdout
    );
    man.stdout
}

#[test]
fn deb_lists_every_file_with_fields_and_conffiles() {
    let out = tempfile::tempdir().unwrap();
    let (deb, build) = build_deb(out.path());
    let deb = s(&deb);

    // Contents: every file and directory, root-owned, the program executable.
    let list = tool("dpkg-deb", &["-c", deb], &[]);
    list.ok();
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for line in list.stdout.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() >= 6, "unexpected dpkg-deb -c line {line:?}");
        assert_eq!(cols[1], "root/root", "owner of {line:?}");
        let path = cols[5].trim_start_matches('.').trim_end_matches('/');
        if cols[0].starts_with('d') {
            dirs.insert(path.to_string());
        } else {
            if path == "/usr/sbin/svc" {
                assert_eq!(cols[0], "-rwxr-xr-x", "{line}");
            } else {
                assert_eq!(cols[0], "-rw-r--r--", "{line}");
            }
            files.insert(path.to_string());
        }
    }
    for f in FILES {
        assert!(
            files.contains(*f),
            "{f} missing from the package:\n{}",
            list.stdout
        );
    }
    for d in DIRS {
        assert!(
            dirs.contains(*d),
            "{d}/ missing from the package:\n{}",
            list.stdout
        );
    }

    // Control fields.
    let field = |name: &str| -> String {
        let r = tool("dpkg-deb", &["-f", deb, name], &[]);
        r.ok();
        r.stdout.trim().to_string()
    };
    assert_eq!(field("Package"), "svc");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    let arch = tool("dpkg", &["--print-architecture"], &[]);
    arch.ok();
    assert_eq!(field("Architecture"), arch.stdout.trim());
    assert!(!field("Maintainer").is_empty(), "Maintainer field");
    // The bash completion needs bash-completion to be loaded on demand (issue 10 item 19).
    let recommends = field("Recommends");
    for p in ["logrotate", "bash-completion"] {
        assert!(
            recommends.split(',').any(|r| r.trim() == p),
            "Recommends: {recommends}"
        );
    }
    assert!(
        field("Description").starts_with("SysV init-script style service manager\n"),
        "Description: {}",
        field("Description")
    );
    let size: u64 = field("Installed-Size")
        .parse()
        .expect("Installed-Size is a number of KiB");
    let binary_kib = std::fs::metadata(SVC).unwrap().len() / 1024;
    assert!(size > 0, "Installed-Size {size}");
    // The packaged binary is stripped, so it may be smaller than the test binary, but the
    // size must count it: more than the man pages and completions alone.
    assert!(
        size > 100,
        "Installed-Size {size} KiB (test binary {binary_kib} KiB)"
    );
    assert!(
        build
            .stdout
            .contains(&format!("installed size: {size} KiB\n")),
        "build-deb output does not state the installed size {size}:\n{}",
        build.stdout
    );
    assert!(
        build.stdout.contains("binary size: "),
        "build-deb output lacks the binary size:\n{}",
        build.stdout
    );

    // conffiles: exactly the files under /etc.
    let control = out.path().join("control");
    tool("dpkg-deb", &["-e", deb, s(&control)], &[]).ok();
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("DEBIAN/conffiles");
    let listed: BTreeSet<String> = conffiles.lines().map(str::to_string).collect();
    let etc: BTreeSet<String> = files
        .iter()
        .filter(|f| f.starts_with("/etc/"))
        .cloned()
        .collect();
    assert_eq!(listed, etc, "DEBIAN/conffiles:\n{conffiles}");
    assert_eq!(etc.len(), 4, "files under /etc: {etc:?}");
}

#[test]
fn unpacked_package_runs_and_its_pages_render_clean() {
    let out = tempfile::tempdir().unwrap();
    let (deb, _) = build_deb(out.path());
    let root = out.path().join("root");
    tool("dpkg", &["-x", s(&deb), s(&root)], &[]).ok();

    let svc = root.join("usr/sbin/svc");
    assert_version_line(&tool(s(&svc), &["--version"], &[]));

    let page8 = assert_page_clean(&root.join("usr/share/man/man8/svc.8.gz"), "svc", out.path());
    for cmd in ["start", "switch", "access-check", "completions"] {
        assert!(
            page8.contains(&format!("svc {cmd}")),
            "svc(8) lacks `svc {cmd}`:\n{page8}"
        );
    }
    let page5 = assert_page_clean(
        &root.join("usr/share/man/man5/svc.yaml.5.gz"),
        "svc.yaml",
        out.path(),
    );
    for key in [
        "log_max_size",
        "log_keep",
        "respawn",
        "socket",
        "umask",
        "oneshot",
        "stop_exec",
    ] {
        assert!(page5.contains(key), "svc.yaml(5) lacks {key}");
    }

    // The skeleton is a valid, empty configuration; its rule files hold only comments.
    let etc = root.join("etc/svc");
    let check = tool(
        s(&svc),
        &[
            "--config-dir",
            s(&etc),
            "--state-dir",
            s(&out.path().join("state")),
            "--log-dir",
            s(&out.path().join("log")),
            "check",
        ],
        &[],
    );
    check.ok();
    for f in ["hosts.allow", "hosts.deny", "svc.yaml"] {
        let text = std::fs::read_to_string(etc.join(f)).unwrap();
        assert!(
            text.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{f} holds more than comments:\n{text}"
        );
    }
    let settings = std::fs::read_to_string(etc.join("svc.yaml")).unwrap();
    assert!(
        settings.contains("#default_runlevel:"),
        "svc.yaml: {settings}"
    );

    // The packaged completions are the binary's own.
    let bash = root.join("usr/share/bash-completion/completions/svc");
    let packaged = std::fs::read_to_string(&bash).unwrap();
    let generated = tool(s(&svc), &["completions", "bash"], &[]);
    generated.ok();
    assert_eq!(packaged, generated.stdout, "packaged bash completion");
    tool("bash", &["-n", s(&bash)], &[]).ok();
}

#[test]
fn version_names_the_commit() {
    let run = tool(SVC, &["--version"], &[]);
    assert_version_line(&run);
    // `svc -V` is the same.
    assert_eq!(tool(SVC, &["-V"], &[]).stdout, run.stdout);
}

#[test]
fn generated_manpage_renders_clean_and_covers_every_command() {
    let sb = Sandbox::new();
    let run = tool(SVC, &["manpage"], &[]);
    run.ok();
    let page = sb.work.join("svc.8");
    std::fs::write(&page, &run.stdout).unwrap();
    let text = assert_page_clean(&page, "svc", &sb.work);
    assert!(
        run.stdout.starts_with(".TH SVC 8 "),
        "{}",
        &run.stdout[..80]
    );

    // Every command `svc --help` lists has its subsection, and every option of `svc switch
    // --help` is in it: the page comes from the same definitions.
    let help = tool(SVC, &["--help"], &[]);
    help.ok();
    let commands: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 10, "commands in --help: {commands:?}");
    for c in &commands {
        assert!(
            text.lines().any(|l| l.trim() == *c),
            "svc(8) has no section for `{c}`:\n{text}"
        );
        assert!(
            text.contains(&format!("svc {c}")),
            "svc(8) has no synopsis of `svc {c}`"
        );
    }
    let switch_help = tool(SVC, &["switch", "--help"], &[]);
    for opt in ["--dry-run", "--json", "--jobs"] {
        assert!(switch_help.stdout.contains(opt), "{}", switch_help.stdout);
        assert!(text.contains(opt), "svc(8) lacks {opt}");
    }
    assert!(text.contains("Alias: telinit"), "switch's alias:\n{text}");
    // The hidden command itself stays out of the page and of --help.
    assert!(!help.stdout.contains("manpage"), "{}", help.stdout);
    assert!(!text.lines().any(|l| l.trim() == "manpage"), "{text}");
}

#[test]
fn completions_are_generated_and_parse() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = tool(SVC, &["completions", shell], &[]);
        run.ok();
        assert!(
            run.stdout.contains("access-check") && run.stdout.contains("config-dir"),
            "{shell} completion lacks commands or options"
        );
        assert!(!run.stdout.contains("manpage"), "hidden command completed");
        let file = sb.work.join(format!("svc.{shell}"));
        std::fs::write(&file, &run.stdout).unwrap();
        let checker: &[&str] = match shell {
            "bash" => &["-n"],
            "zsh" => &["-n"],
            _ => &["--no-execute"],
        };
        if shell != "bash" && !installed(shell) {
            skip(
                &format!("{shell} syntax check of the {shell} completion"),
                &format!("{shell} is not installed"),
            );
            continue;
        }
        let mut args = checker.to_vec();
        args.push(s(&file));
        tool(shell, &args, &[]).ok();
    }
    // An unknown shell is a usage error.
    let bad = tool(SVC, &["completions", "tcsh"], &[]);
    bad.code(2);
    assert!(bad.stderr.contains("bash"), "{}", bad.stderr);
}

#[test]
fn inittab_snippet_is_well_formed_and_its_commands_run() {
    let text = std::fs::read_to_string(format!("{REPO}/packaging/inittab.snippet")).unwrap();
    let sb = Sandbox::new();
    let mut ids = BTreeSet::new();
    let mut levels = BTreeSet::new();
    let mut sysinit = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.splitn(4, ':').collect();
        assert_eq!(f.len(), 4, "not id:runlevels:action:process: {line}");
        let (id, runlevels, action, process) = (f[0], f[1], f[2], f[3]);
        assert!((1..=4).contains(&id.len()), "id {id:?}");
        assert!(ids.insert(id), "duplicate id {id}");
        // Debian's own inittab uses si and l0 ... l6: svc's lines must not collide with them.
        assert!(
            id != "si" && !(id.len() == 2 && id.starts_with('l')),
            "id {id} collides with Debian's inittab"
        );
        let argv: Vec<&str> = process.split_whitespace().collect();
        assert_eq!(argv[0], "/usr/sbin/svc", "{line}");
        match action {
            "sysinit" => {
                sysinit += 1;
                assert_eq!(runlevels, "", "{line}");
                assert_eq!(argv[1..], ["boot", "S"], "{line}");
            }
            "wait" => {
                assert_eq!(runlevels.len(), 1, "{line}");
                assert_eq!(argv[1..], ["switch", runlevels], "{line}");
                assert!(levels.insert(runlevels.to_string()), "{line}");
            }
            other => panic!("unexpected action {other}: {line}"),
        }
        // The command is one svc accepts: run it (as a dry run) against the sandbox.
        let mut args = argv[1..].to_vec();
        args.push("--dry-run");
        let r = run_timeout(
            {
                let mut c = sb.cmd(&args);
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                c
            },
            args.iter().map(|a| a.to_string()).collect(),
            TOOL_TIMEOUT,
        );
        r.ok();
    }
    assert_eq!(sysinit, 1, "one sysinit line");
    let want: BTreeSet<String> = (0..=6).map(|l| l.to_string()).collect();
    assert_eq!(levels, want, "one wait line per runlevel 0-6");
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 19: the completion scripts complete service names (of the configuration the
// line names) and runlevels, in bash, zsh and fish, run for real.

/// A configuration with services alpha-svc and beta-svc, and a directory holding `svc` (the
/// test binary) for the scripts to run, as an installed svc would be found in PATH. Returns
/// (sandbox, the completion scripts written into work/, PATH with the svc directory first).
fn completion_world() -> (Sandbox, String) {
    let sb = Sandbox::new();
    sb.service("alpha-svc", "exec: /bin/true\n");
    sb.service("beta-svc", "exec: /bin/true\n");
    // Not a service: ignored.
    std::fs::write(sb.config.join("init.d/README"), "x\n").unwrap();
    let bin = sb.work.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(SVC, bin.join("svc")).unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let run = tool(SVC, &["completions", shell], &[]);
        run.ok();
        let name = if shell == "zsh" {
            "zfunc/_svc".to_string()
        } else {
            format!("svc.{shell}")
        };
        let path = sb.work.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, run.stdout).unwrap();
    }
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    (sb, path)
}

/// What completing each line offers, one `[LABEL] candidates...` line per case.
fn offered(out: &str, label: &str) -> Vec<String> {
    let prefix = format!("[{label}]");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{out}"));
    line[prefix.len()..]
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

const LEVELS: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "S"];

#[test]
fn bash_completes_service_names_and_runlevels() {
    let (sb, path) = completion_world();
    let cfg = sb.config.display().to_string();
    // A configuration whose path needs quoting on a command line.
    let odd = sb.work.join("my conf 'x'");
    std::fs::create_dir_all(odd.join("init.d")).unwrap();
    std::fs::write(odd.join("init.d/gamma-svc.yaml"), "exec: /bin/true\n").unwrap();
    let odd = odd.display().to_string();
    let mark = sb.work.join("completion-ran-this");
    // Each case: a label, COMP_LINE, and COMP_WORDS as bash gives them (checked with an
    // interactive bash 5.2): the line split at COMP_WORDBREAKS (`=` included), each word as
    // typed, quotes and backslashes kept; assignments before the command are in neither (so
    // `SVC_CONFIG_DIR=DIR svc` cannot be seen). The function is the one `complete -p svc`
    // names, called as bash calls it.
    let double = format!("\"{odd}\"");
    let escaped = odd.replace(' ', "\\ ").replace('\'', "\\'");
    let single = format!("'{}'", odd.replace('\'', "'\\''"));
    let subst = format!("\"$(touch {})\"", mark.display());
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "double",
            format!("svc --config-dir {double} start "),
            vec![
                "svc".into(),
                "--config-dir".into(),
                double.clone(),
                "start".into(),
                "".into(),
            ],
        ),
        (
            "escaped",
            format!("svc stop --config-dir {escaped} "),
            vec![
                "svc".into(),
                "stop".into(),
                "--config-dir".into(),
                escaped.clone(),
                "".into(),
            ],
        ),
        (
            "single",
            format!("svc --config-dir={single} restart g"),
            vec![
                "svc".into(),
                "--config-dir".into(),
                "=".into(),
                single.clone(),
                "restart".into(),
                "g".into(),
            ],
        ),
        (
            "substitution",
            format!("svc --config-dir {subst} start "),
            vec![
                "svc".into(),
                "--config-dir".into(),
                subst.clone(),
                "start".into(),
                "".into(),
            ],
        ),
        (
            "flag",
            format!("svc --config-dir {cfg} start "),
            vec![
                "svc".into(),
                "--config-dir".into(),
                cfg.clone(),
                "start".into(),
                "".into(),
            ],
        ),
        (
            "prefix",
            format!("svc --config-dir={cfg} restart a"),
            vec![
                "svc".into(),
                "--config-dir".into(),
                "=".into(),
                cfg.clone(),
                "restart".into(),
                "a".into(),
            ],
        ),
        (
            "second",
            format!("svc stop --config-dir {cfg} alpha-svc "),
            vec![
                "svc".into(),
                "stop".into(),
                "--config-dir".into(),
                cfg.clone(),
                "alpha-svc".into(),
                "".into(),
            ],
        ),
        (
            "environment",
            "svc enable ".into(),
            vec!["svc".into(), "enable".into(), "".into()],
        ),
        (
            "switch",
            "svc switch ".into(),
            vec!["svc".into(), "switch".into(), "".into()],
        ),
        (
            "telinit",
            "svc -q telinit ".into(),
            vec!["svc".into(), "-q".into(), "telinit".into(), "".into()],
        ),
        (
            "address",
            format!("svc --config-dir {cfg} access-check alpha-svc "),
            vec![
                "svc".into(),
                "--config-dir".into(),
                cfg.clone(),
                "access-check".into(),
                "alpha-svc".into(),
                "".into(),
            ],
        ),
        (
            "option",
            format!("svc --config-dir {cfg} start --q"),
            vec![
                "svc".into(),
                "--config-dir".into(),
                cfg.clone(),
                "start".into(),
                "--q".into(),
            ],
        ),
        (
            "command",
            "svc swi".into(),
            vec!["svc".into(), "swi".into()],
        ),
    ];
    let mut script = String::from(
        "source \"$1\"\n\
         f=$(complete -p svc | sed -E 's/.* -F ([^ ]+) .*/\\1/')\n\
         try() {\n\
             local label=$1; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; shift 2\n\
             COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()\n\
             \"$f\" svc \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n\
             echo \"[$label] ${COMPREPLY[*]}\"\n\
         }\n",
    );
    let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    for (label, line, words) in &cases {
        let words: Vec<String> = words.iter().map(|w| q(w)).collect();
        script.push_str(&format!("try {label} {} {}\n", q(line), words.join(" ")));
    }
    let file = sb.work.join("svc.bash");
    let run = tool(
        "bash",
        &["--norc", "--noprofile", "-c", &script, "bash", s(&file)],
        &[("PATH", &path)],
    );
    run.ok();
    let out = &run.stdout;
    assert_eq!(offered(out, "flag"), ["alpha-svc", "beta-svc"], "{out}");
    assert_eq!(offered(out, "prefix"), ["alpha-svc"], "{out}");
    assert_eq!(offered(out, "second"), ["alpha-svc", "beta-svc"], "{out}");
    assert_eq!(offered(out, "double"), ["gamma-svc"], "{out}");
    assert_eq!(offered(out, "escaped"), ["gamma-svc"], "{out}");
    assert_eq!(offered(out, "single"), ["gamma-svc"], "{out}");
    // Text from the line is never run.
    assert_eq!(offered(out, "substitution"), Vec::<String>::new(), "{out}");
    assert!(!mark.exists(), "completion ran a command substitution");
    assert_eq!(offered(out, "switch"), LEVELS, "{out}");
    assert_eq!(offered(out, "telinit"), LEVELS, "{out}");
    // The second argument of access-check is an address: no names there.
    let address = offered(out, "address");
    assert!(!address.iter().any(|w| w.ends_with("-svc")), "{out}");
    assert_eq!(offered(out, "option"), ["--quiet"], "{out}");
    assert_eq!(offered(out, "command"), ["switch"], "{out}");

    // SVC_CONFIG_DIR in the environment of the shell.
    let run = tool(
        "bash",
        &["--norc", "--noprofile", "-c", &script, "bash", s(&file)],
        &[("PATH", &path), ("SVC_CONFIG_DIR", &cfg)],
    );
    run.ok();
    assert_eq!(
        offered(&run.stdout, "environment"),
        ["alpha-svc", "beta-svc"],
        "{}",
        run.stdout
    );
}

#[test]
fn fish_completes_service_names_and_runlevels() {
    if !installed("fish") {
        skip(
            "fish_completes_service_names_and_runlevels",
            "fish is not installed",
        );
        return;
    }
    let (sb, path) = completion_world();
    let cfg = sb.config.display().to_string();
    let cases = [
        ("flag", format!("svc --config-dir {cfg} start ")),
        ("assignment", format!("SVC_CONFIG_DIR={cfg} svc stop b")),
        ("switch", "svc switch ".to_string()),
        (
            "address",
            format!("svc --config-dir {cfg} access-check alpha-svc "),
        ),
    ];
    let mut script = format!("source {}\n", sb.work.join("svc.fish").display());
    for (label, line) in &cases {
        script.push_str(&format!(
            "echo [{label}] (complete -C '{line}' | string replace -r '\\t.*' '')\n"
        ));
    }
    let home = sb.work.display().to_string();
    let run = tool(
        "fish",
        &["--no-config", "-c", &script],
        &[("PATH", &path), ("HOME", &home), ("XDG_CONFIG_HOME", &home)],
    );
    run.ok();
    let out = &run.stdout;
    assert_eq!(offered(out, "flag"), ["alpha-svc", "beta-svc"], "{out}");
    assert_eq!(offered(out, "assignment"), ["beta-svc"], "{out}");
    assert_eq!(offered(out, "switch"), LEVELS, "{out}");
    assert!(
        !offered(out, "address").iter().any(|w| w.ends_with("-svc")),
        "{out}"
    );
}

/// zsh, interactive in a pseudo-terminal (zsh's own zpty module): compinit loads `_svc` from
/// fpath as an installed completion is loaded, and Tab lists the candidates.
#[test]
fn zsh_completes_service_names_and_runlevels() {
    if !installed("zsh") {
        skip(
            "zsh_completes_service_names_and_runlevels",
            "zsh is not installed",
        );
        return;
    }
    let (sb, path) = completion_world();
    let cfg = sb.config.display().to_string();
    // read_until waits for the terminal to be readable (zselect, 0.5 s at a time) until what it
    // read matches, at most 20 s: no fixed sleeps.
    let script = format!(
        r#"zmodload zsh/zpty zsh/zselect zsh/datetime
zpty z 'TERM=dumb zsh -f -i'
fd=$REPLY
read_until() {{
    local deadline=$(( EPOCHREALTIME + 20 )) chunk
    out=
    while (( EPOCHREALTIME < deadline )); do
        zselect -t 50 -r $fd
        while zpty -r -t z chunk; do out+=$chunk; done
        [[ $out == $~1 ]] && return 0
    done
    print -r -- "TIMEOUT waiting for $1: ${{(q)out}}"
    return 1
}}
zpty -w z 'PS1="%% "; fpath=({zfunc} $fpath); autoload -U compinit; compinit -u -D; print READY'
read_until '*READY*' || exit 1
zpty -w -n z 'svc --config-dir {cfg} start '$'\t'
read_until '*alpha-svc*beta-svc*' && print '[names] ok'
zpty -w -n z $'\C-u'
zpty -w -n z 'SVC_CONFIG_DIR={cfg} svc restart '$'\t'
read_until '*alpha-svc*beta-svc*' && print '[assignment] ok'
zpty -w -n z $'\C-u'
zpty -w -n z 'svc switch '$'\t'
read_until '*5*6*S*' && print '[levels] ok'
zpty -d z
"#,
        zfunc = sb.work.join("zfunc").display()
    );
    let home = sb.work.display().to_string();
    let run = tool(
        "zsh",
        &["-f", "-c", &script],
        &[("PATH", &path), ("HOME", &home), ("ZDOTDIR", &home)],
    );
    run.ok();
    for label in ["names", "assignment", "levels"] {
        assert!(
            run.stdout.contains(&format!("[{label}] ok")),
            "{label}:\n{}",
            run.stdout
        );
    }
}
