//! What svc generates about itself from its clap definitions ([`crate::cli`]): the svc(8)
//! manual page and the bash, zsh and fish completion scripts (which also complete service
//! names and runlevels: [`values`]).
//!
//! Both are built from the same `Command` that parses the command line, so they never drift from
//! `--help`: a new flag appears in the page and the completions without anyone editing them.
//! The page is clap_mangen's NAME, SYNOPSIS and OPTIONS, then a COMMANDS section with
//! one subsection per visible command (its synopsis, help text and options, rendered by
//! clap_mangen too), then hand-written EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO sections
//! for what clap does not know. Everything here renders into a buffer; printing is the caller's.

use std::io::{self, Write};

use clap::{CommandFactory, ValueEnum};
use clap_mangen::Man;

use crate::cli::Cli;

mod values;

/// The shells `svc completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What `svc __complete` lists for the completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Candidates {
    /// The service names of `init.d/`.
    Services,
    /// 0 to 6 and S.
    Runlevels,
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = without_hidden_commands(Cli::command());
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut cmd, "svc", &mut buf);
    values::extend(shell, &String::from_utf8_lossy(&buf), &cmd).into_bytes()
}

/// The command line less its hidden commands, which clap_complete would otherwise offer.
/// clap cannot remove a subcommand, so the root is rebuilt from its parts (before `build`, its
/// arguments are only the declared ones; `--help` and `--version` are added again).
fn without_hidden_commands(cmd: clap::Command) -> clap::Command {
    let mut root = clap::Command::new("svc")
        .version(crate::cli::VERSION)
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        root = root.about(about.clone());
    }
    root
}

/// The svc(8) manual page, as roff.
pub fn manpage() -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    write_manpage(&mut buf).expect("rendering into memory");
    ascii_roff(&String::from_utf8_lossy(&buf)).into_bytes()
}

fn write_manpage(w: &mut Vec<u8>) -> io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = Man::new(cmd.clone());
    // Written here rather than by clap_mangen, which leaves an empty date unquoted and so
    // shifts the footer fields.
    writeln!(
        w,
        ".TH SVC 8 \"{}\" \"svc {}\" \"System Administration\"",
        env!("SVC_GIT_DATE"),
        escape_text(crate::cli::VERSION)
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
    w.write_all(STATIC_SECTIONS.as_bytes())?;
    Ok(())
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

const COMMANDS_INTRO: &str = r#"Global options (above) are accepted before or after the command.
Where a command takes several names, the exit status is the first non\-zero one in argument
order.
"#;

const STATIC_SECTIONS: &str = r#".SH EXIT STATUS
Exit codes follow the LSB init script conventions.
For \fBstatus\fR:
.TP
.B 0
running
.TP
.B 1
dead, and the PID file exists
.TP
.B 3
not running
.TP
.B 4
unknown (for example, no such service)
.PP
For every other command:
.TP
.B 0
success
.TP
.B 1
generic failure (\fBaccess\-check\fR: the client is denied)
.TP
.B 2
invalid arguments
.TP
.B 3
unimplemented (\fBreload\fR of a service without \fBreload_signal\fR)
.TP
.B 4
insufficient privilege
.TP
.B 5
not installed: no such service, or its program is missing
.TP
.B 6
not configured: an invalid definition or runlevel directory
.TP
.B 7
not running (\fBreload\fR)
.SH ENVIRONMENT
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
given none (else 3).
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
