//! `svc init [RUNLEVEL] [-- COMMAND ARGS...]`: svc as PID 1 (see [`crate::init`]).
//!
//! Checks the arguments, finds its own executable for the svc children, passes on the global
//! flags it was given, prints init's events (failures on stderr, progress on stdout) and exits
//! with init's status, which may be any number (the main program's), not only an LSB code.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use super::Context;
use crate::cli::Cli;
use crate::exit::Code;
use crate::init::{self, Plan};
use crate::runlevel;

/// The global flags as given on init's command line, to pass on to its svc children.
#[derive(Debug, Clone, Default)]
pub struct Given {
    args: Vec<OsString>,
}

impl Given {
    pub fn of(cli: &Cli) -> Given {
        let mut args: Vec<OsString> = Vec::new();
        for (flag, value) in [
            ("--config-dir", &cli.config_dir),
            ("--state-dir", &cli.state_dir),
            ("--log-dir", &cli.log_dir),
            ("--sysv-dir", &cli.sysv_dir),
        ] {
            if let Some(v) = value {
                args.push(flag.into());
                args.push(v.clone().into_os_string());
            }
        }
        if cli.quiet {
            args.push("--quiet".into());
        }
        if cli.no_color {
            args.push("--no-color".into());
        }
        Given { args }
    }
}

pub fn run(ctx: &Context, given: &Given, level: Option<&str>, command: &[OsString]) -> Code {
    if let Some(l) = level {
        if runlevel::parse_level(l).is_none() {
            ctx.out
                .error(&format!("invalid runlevel {l:?}: expected 0-6 or S"));
            return Code::InvalidArgs;
        }
    }
    let svc = match std::env::current_exe() {
        Ok(p) => p,
        Err(_) => PathBuf::from("/proc/self/exe"),
    };
    let plan = Plan {
        svc,
        global_args: given.args.clone(),
        runlevel: level.map(str::to_string),
        main: command.to_vec(),
    };
    let mut report = |event: init::Event| {
        if event.is_failure() {
            ctx.out.error(&event.to_string());
        } else {
            ctx.out.line(&event.to_string());
        }
    };
    match init::run(plan, &mut report) {
        Ok(status) => {
            let _ = std::io::stdout().flush();
            // init's status is the main program's (any 0-255), which `Code` cannot carry.
            std::process::exit(status)
        }
        Err(e) => {
            ctx.out.error(&format!("init: {e}"));
            Code::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn init_passes_the_sysv_dir_on_to_its_svc_children() {
        let cli = Cli::try_parse_from(["svc", "--sysv-dir", "/srv/sysv", "-q", "init"]).unwrap();
        let args: Vec<String> = Given::of(&cli)
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["--sysv-dir", "/srv/sysv", "--quiet"]);
    }
}
