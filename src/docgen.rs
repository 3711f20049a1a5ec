//! What svc generates about itself from a clap `Command`: the svc(8) manual page and the bash,
//! zsh and fish completion scripts (which also complete service names and runlevels:
//! `values`).
//!
//! Both take the `Command` that parses the command line as their input (the binary passes
//! `Cli::command()`), so they never drift from `--help`: a new flag appears in the page and the
//! completions without anyone editing them, and this module needs nothing of `crate::cli` but
//! the [`Shell`] value set. The page is clap_mangen's NAME, SYNOPSIS and OPTIONS, then a
//! COMMANDS section with one subsection per visible command (its synopsis, help text and
//! options, rendered by clap_mangen too), then EXIT STATUS rendered from the one table of LSB
//! codes ([`crate::exit::TABLE`]), and hand-written ENVIRONMENT, FILES and SEE ALSO sections
//! for what clap does not know. Everything here renders into a buffer; printing is the caller's.

use std::fmt::Write as _;
use std::io::{self, Write};

use clap_mangen::Man;

pub use crate::cli::Shell;
use crate::exit::TABLE;

mod values;

#[cfg(test)]
mod repo_docs;

/// The completion script for `shell`, completing the commands and options of `cmd`.
pub fn completions(cmd: &clap::Command, shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = without_hidden_commands(cmd);
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut cmd, "svc", &mut buf);
    values::extend(shell, &String::from_utf8_lossy(&buf), &cmd).into_bytes()
}

/// The command line less its hidden commands, which clap_complete would otherwise offer.
/// clap cannot remove a subcommand, so the root is rebuilt from its parts (before `build`, its
/// arguments are only the declared ones; `--help` and `--version` are added again).
fn without_hidden_commands(cmd: &clap::Command) -> clap::Command {
    let mut root = clap::Command::new(cmd.get_name().to_owned())
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(version) = cmd.get_version() {
        root = root.version(version.to_owned());
    }
    if let Some(about) = cmd.get_about() {
        root = root.about(about.clone());
    }
    root
}

/// The svc(8) manual page of `cmd`, as roff.
pub fn man_page(cmd: &clap::Command) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    write_man_page(&mut buf, cmd).expect("rendering into memory");
    ascii_roff(&String::from_utf8_lossy(&buf)).into_bytes()
}

fn write_man_page(w: &mut Vec<u8>, cmd: &clap::Command) -> io::Result<()> {
    let mut cmd = cmd.clone();
    cmd.build();
    let man = Man::new(cmd.clone());
    // Written here rather than by clap_mangen, which leaves an empty date unquoted and so
    // shifts the footer fields.
    writeln!(
        w,
        ".TH {} 8 \"{}\" \"{} {}\" \"System Administration\"",
        escape_text(&cmd.get_name().to_uppercase()),
        env!("SVC_GIT_DATE"),
        escape_text(cmd.get_name()),
        escape_text(cmd.get_version().unwrap_or_default())
    )?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    w.write_all(DESCRIPTION.as_bytes())?;
    man.render_options_section(w)?;
    w.write_all(b".SH COMMANDS\n")?;
    w.write_all(COMMANDS_INTRO.as_bytes())?;
    // clap's generated `help` command is left out: `svc help` is `svc --help`.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_command(w, sub)?;
    }
    write_exit_status(w)?;
    w.write_all(STATIC_SECTIONS.as_bytes())?;
    Ok(())
}

/// EXIT STATUS: the `status` column, then the action column of [`TABLE`].
fn write_exit_status(w: &mut Vec<u8>) -> io::Result<()> {
    w.write_all(EXIT_STATUS_INTRO.as_bytes())?;
    for m in TABLE.iter() {
        if let Some(status) = m.status {
            writeln!(w, ".TP\n.B {}\n{}", m.code.as_i32(), escape_text(status))?;
        }
    }
    w.write_all(b".PP\nFor every other command:\n")?;
    for m in TABLE.iter() {
        writeln!(w, ".TP\n.B {}\n{}", m.code.as_i32(), escape_text(m.action))?;
    }
    Ok(())
}

/// The same table in Markdown, as `docs/commands.md` shows it (a unit test keeps the two equal).
pub fn exit_status_markdown() -> String {
    let mut out = String::from("| code | `status` | every other command |\n|---|---|---|\n");
    for m in TABLE.iter() {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            m.code.as_i32(),
            m.status.unwrap_or("—"),
            m.action
        );
    }
    out
}

/// Replaces every character outside ASCII (help text may hold `…` or `—`) by groff's
/// `\[uXXXX]` escape: groff reads its input as Latin-1 unless told otherwise, and would warn
/// about, and garble, UTF-8 bytes.
fn ascii_roff(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}

/// One command's subsection: synopsis, help text, aliases and its own options (the global
/// ones and `--help` are hidden there: they are listed once, under OPTIONS).
fn write_command(w: &mut Vec<u8>, sub: &clap::Command) -> io::Result<()> {
    let mut own = sub.clone();
    let shared: Vec<String> = sub
        .get_arguments()
        .filter(|a| a.is_global_set() || a.get_id() == "help")
        .map(|a| a.get_id().as_str().to_owned())
        .collect();
    for id in shared {
        own = own.mut_arg(id, |a| a.hide(true));
    }
    let has_args = own.get_arguments().any(|a| !a.is_hide_set());
    let man = Man::new(own);
    writeln!(w, ".SS {}", quoted(sub.get_name()))?;
    let mut synopsis = Vec::new();
    man.render_synopsis_section(&mut synopsis)?;
    write_without_headings(w, &synopsis)?;
    let help = sub.get_long_about().or_else(|| sub.get_about());
    if let Some(help) = help {
        w.write_all(b".PP\n")?;
        for line in help.to_string().lines().filter(|l| !l.trim().is_empty()) {
            writeln!(w, "{}", escape_text(line))?;
        }
    }
    let aliases: Vec<&str> = sub.get_all_aliases().collect();
    if !aliases.is_empty() {
        writeln!(
            w,
            ".PP\nAlias: \\fB{}\\fR.",
            escape_text(&aliases.join(", "))
        )?;
    }
    if has_args {
        let mut options = Vec::new();
        man.render_options_section(&mut options)?;
        w.write_all(b".PP\n")?;
        write_without_headings(w, &options)?;
    }
    Ok(())
}

/// Copies clap_mangen's output of one section without its `.SH` heading, so it can sit inside
/// a command's `.SS`.
fn write_without_headings(w: &mut Vec<u8>, roff: &[u8]) -> io::Result<()> {
    for line in String::from_utf8_lossy(roff).lines() {
        if !line.starts_with(".SH") {
            writeln!(w, "{line}")?;
        }
    }
    Ok(())
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", escape_text(s))
}

/// Escapes help text for a roff text line: backslashes, hyphens (so they stay ASCII minus in
/// UTF-8 output and can be searched for) and a leading control character.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    if s.starts_with('.') || s.starts_with('\'') {
        out.push_str("\\&");
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c => out.push(c),
        }
    }
    out
}

const DESCRIPTION: &str = r#".SH DESCRIPTION
\fBsvc\fR starts, stops, checks and restarts daemons described by small YAML files, one per
service, in the \fIinit.d/\fR directory of its configuration (see \fBsvc.yaml\fR(5)).
It launches every program detached and in a clean process state, records which process it
launched (not only a PID), and never signals a process that is not the service.
Runlevel directories (\fIrunlevels/rc0.d\fR \(en \fIrc6.d\fR, \fIrcS.d\fR) of \fBS\fINN\fBNAME\fR
and \fBK\fINN\fBNAME\fR entries order the boot, as in System V init; \fBsvc inetd\fR is an
xinetd\-style super daemon for on\-demand services, guarded by \fBhosts_access\fR(5) rules.
.PP
Results go to standard output, errors to standard error prefixed with \(lqsvc: \(rq.
Colour is used only on a terminal, never with \fBNO_COLOR\fR set or \fB\-\-no\-color\fR.
No command prompts: every command is safe to run from a script or at boot.
"#;

const EXIT_STATUS_INTRO: &str = r#".SH EXIT STATUS
Exit codes follow the LSB init script conventions.
Where a command takes several names, the exit status is the first non\-zero one in argument
order; every name is still acted on.
.PP
For \fBstatus\fR:
"#;

const COMMANDS_INTRO: &str = r#"Global options (above) are accepted before or after the command.
Where a command takes several names, the exit status is the first non\-zero one in argument
order.
"#;

const STATIC_SECTIONS: &str = r#".SH ENVIRONMENT
.TP
.B SVC_CONFIG_DIR
Configuration directory, overridden by \fB\-\-config\-dir\fR.
.TP
.B SVC_STATE_DIR
Runtime state directory, overridden by \fB\-\-state\-dir\fR.
.TP
.B SVC_LOG_DIR
Log directory, overridden by \fB\-\-log\-dir\fR.
.TP
.B SVC_SYSV_DIR
A SysV system's directory whose \fIinit.d\fR scripts and \fIrcN.d\fR directories svc runs,
overridden by \fB\-\-sysv\-dir\fR; it overrides \fBsysv_dir\fR in \fIsvc.yaml\fR.
.TP
.B NO_COLOR
When set and not empty, output is never coloured.
.TP
.BR XDG_CONFIG_HOME ", " XDG_RUNTIME_DIR ", " XDG_STATE_HOME
The defaults of the three directories for a user other than root.
.SH FILES
The defaults when running as root; a flag beats the environment, which beats the default.
.TP
.I /etc/svc/init.d/NAME.yaml
Service definitions, see \fBsvc.yaml\fR(5).
.TP
.IR /etc/svc/runlevels/rc0.d " \(en " rc6.d ", " rcS.d
Runlevel entries \fBS\fINN\fBNAME\fR and \fBK\fINN\fBNAME\fR, relative symbolic links to
\fI../../init.d/NAME.yaml\fR made by \fBsvc enable\fR.
.TP
.IR /etc/svc/hosts.allow ", " /etc/svc/hosts.deny
Access rules of the super daemon, in \fBhosts_access\fR(5) syntax; the daemon name is the
service's NAME.
.TP
.I /etc/svc/svc.yaml
Optional global settings: \fBdefault_runlevel\fR, the runlevel \fBsvc boot\fR enters when
given none (else 3); \fBsysv_dir\fR, a SysV system's directory (\fI/etc\fR) whose
\fIinit.d\fR scripts and \fIrcN.d\fR directories svc runs, see \fBsvc.yaml\fR(5).
.TP
.I /run/svc/
Runtime state: \fINAME.pid\fR, the identity records \fINAME.state\fR, locks, the current
runlevel record \fIrunlevel\fR, \fItimeline.json\fR (and \fItimeline.1.json\fR \(en
\fItimeline.4.json\fR, the transitions before it) for \fBsvc analyze\fR, and \fIinetd.pid\fR.
.TP
.I /var/log/svc/NAME.log
A service's standard output and standard error, appended.
.TP
.I /var/log/svc/secure
One line per access decision of \fBsvc inetd\fR.
.SH SEE ALSO
\fBsvc.yaml\fR(5), \fBhosts_access\fR(5), \fBinittab\fR(5), \fBinit\fR(8),
\fBstart\-stop\-daemon\fR(8), \fBlogrotate\fR(8)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line that is not svc's: docgen documents whatever it is given.
    fn other() -> clap::Command {
        clap::Command::new("demo")
            .version("1.2")
            .about("A demo")
            .arg(clap::Arg::new("verbose").long("verbose").global(true))
            .subcommand(clap::Command::new("run").about("Run it"))
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn the_page_documents_the_command_it_is_given() {
        let page = String::from_utf8(man_page(&other())).unwrap();
        assert!(page.contains("\"demo 1.2\""), "{page}");
        assert!(page.contains(".SS \"run\""), "{page}");
        assert!(!page.contains("secret"), "{page}");
    }

    #[test]
    fn completions_leave_hidden_commands_out() {
        let script = String::from_utf8(completions(&other(), Shell::Bash)).unwrap();
        assert!(script.contains("run"), "{script}");
        assert!(!script.contains("secret"), "{script}");
    }

    #[test]
    fn exit_status_comes_from_the_table() {
        let page = String::from_utf8(man_page(&other())).unwrap();
        let section =
            &page[page.find(".SH EXIT STATUS").unwrap()..page.find(".SH ENVIRONMENT").unwrap()];
        for m in TABLE.iter() {
            assert!(section.contains(&escape_text(m.action)), "{m:?}");
            if let Some(status) = m.status {
                assert!(section.contains(&escape_text(status)), "{m:?}");
            }
        }
    }

    /// docs/commands.md shows the exit codes as [`exit_status_markdown`] renders them, so the
    /// table is written once (in `crate::exit`) and the documentation cannot drift from it.
    #[test]
    fn the_documented_exit_table_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let table = exit_status_markdown();
        assert!(
            doc.contains(&table),
            "{path} lacks the exit code table; paste this in its place:\n{table}"
        );
    }
}
