//! One function per command: the only layer that combines definitions, processes and output.

mod access_check;
mod action;
mod analyze;
mod check;
mod completions;
mod inetd;
pub mod init;
mod links;
mod logs;
mod lsb_script;
mod serve;
mod status;
mod switch;

use crate::cli::{Cli, Command};
use crate::definition::{self, Definition, DefinitionError};
use crate::exit::{Code, HasCode};
use crate::lifecycle::Lifecycle;
use crate::name::ServiceName;
use crate::output::Output;
use crate::paths::{DirFlags, Dirs};

/// What every command gets: directories, the lifecycle operations, the printer.
pub struct Context {
    pub dirs: Dirs,
    pub life: Lifecycle,
    pub out: Output,
}

impl Context {
    /// Loads a definition, printing why it cannot be loaded.
    fn load(&self, name: &ServiceName) -> Result<Definition, Code> {
        definition::load(&self.dirs, name).map_err(|e| self.report(name, e))
    }

    /// Every definition of init.d/ ([`definition::load_all`]); when the directory cannot be
    /// listed, says so and gives `code` back.
    fn load_all(&self, code: Code) -> Result<definition::Loaded, Code> {
        let (ok, failed) = self.load_all_map(code, |def| def)?;
        Ok(definition::Loaded { ok, failed })
    }

    /// [`definition::load_all_map`]: each definition turned into `then`'s answer as it loads.
    fn load_all_map<R: Send>(
        &self,
        code: Code,
        then: impl Fn(Definition) -> R + Sync,
    ) -> Result<(Vec<R>, Vec<definition::Failed>), Code> {
        definition::load_all_map(&self.dirs, then).map_err(|e| {
            self.out.error(&format!(
                "cannot read {}: {e}",
                self.dirs.init_d().display()
            ));
            code
        })
    }

    /// Prints why the definition of `name` cannot be loaded; its exit code.
    fn report(&self, name: &ServiceName, e: DefinitionError) -> Code {
        match &e {
            DefinitionError::Invalid(problems) => {
                self.out.error(&format!(
                    "{name}: invalid definition ({} problems)",
                    problems.len()
                ));
                for p in problems {
                    self.out.problem(&p.to_string());
                }
            }
            other => self.out.error(&other.to_string()),
        }
        e.code()
    }
}

/// Validates names before anything touches the file system: all or nothing, exit 2.
fn names(out: &Output, raw: &[String]) -> Result<Vec<ServiceName>, Code> {
    raw.iter()
        .map(|n| {
            ServiceName::new(n).map_err(|e| {
                out.error(&e.to_string());
                Code::InvalidArgs
            })
        })
        .collect()
}

/// Without `--sysv-dir` and `SVC_SYSV_DIR`: `sysv_dir` from svc.yaml (flag beats environment
/// beats svc.yaml, SPEC §9). A svc.yaml that cannot be read leaves no SysV directory, said on
/// stderr — except by `check`, `boot` and `serve`, which report svc.yaml's problems themselves, and the
/// completion helper.
fn sysv_from_settings(dirs: &mut Dirs, out: &Output, command: &Command) {
    if dirs.sysv.is_some() {
        return;
    }
    match definition::load_settings(dirs) {
        Ok(s) => dirs.sysv = s.sysv_dir,
        Err(problems) => {
            if matches!(
                command,
                Command::Check { .. }
                    | Command::Boot { .. }
                    | Command::Complete { .. }
                    | Command::Serve { .. }
            ) {
                return;
            }
            for p in problems {
                out.problem(&format!("{p} (sysv_dir not read)"));
            }
        }
    }
}

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Code {
    let out = Output::new(cli.quiet, cli.no_color);
    let init_flags = init::Given::of(&cli);
    let mut dirs = Dirs::resolve(&DirFlags {
        config: cli.config_dir,
        state: cli.state_dir,
        log: cli.log_dir,
        sysv: cli.sysv_dir,
    });
    sysv_from_settings(&mut dirs, &out, &cli.command);
    let ctx = Context {
        life: Lifecycle::new(dirs.clone()),
        dirs,
        out,
    };
    let with_names =
        |raw: &[String], f: &dyn Fn(&Context, &[ServiceName]) -> Code| match names(&ctx.out, raw) {
            Ok(n) => f(&ctx, &n),
            Err(c) => c,
        };
    match &cli.command {
        Command::Start { names } => with_names(names, &action::start),
        Command::Stop {
            names,
            with_dependents,
        } => with_names(names, &|ctx, n| action::stop(ctx, n, *with_dependents)),
        Command::Restart { names } => with_names(names, &action::restart),
        Command::TryRestart { names } => with_names(names, &action::try_restart),
        Command::Reload { names } => with_names(names, &action::reload),
        Command::ForceReload { names } => with_names(names, &action::force_reload),
        Command::Status {
            json,
            prometheus,
            names,
        } => with_names(names, &|ctx, n| match prometheus {
            true => status::prometheus(ctx, n),
            false => status::run(ctx, n, *json),
        }),
        Command::Check { no_host_checks } => check::run(&ctx, !no_host_checks),
        Command::Enable {
            name,
            levels,
            start,
            stop,
        } => with_names(std::slice::from_ref(name), &|ctx, n| {
            links::enable(ctx, &n[0], levels.as_deref(), *start, *stop)
        }),
        Command::Disable { name } => with_names(std::slice::from_ref(name), &|ctx, n| {
            links::disable(ctx, &n[0])
        }),
        Command::List { json, names } => with_names(names, &|ctx, n| links::list(ctx, n, *json)),
        Command::Switch { level, opts } => switch::switch(&ctx, level, opts),
        Command::Boot { level, opts } => switch::boot(&ctx, level.as_deref(), opts),
        Command::Runlevel => switch::show_runlevel(&ctx),
        Command::Logs {
            name,
            lines,
            follow,
        } => with_names(std::slice::from_ref(name), &|ctx, n| {
            logs::run(ctx, &n[0], *lines, *follow)
        }),
        Command::Completions { shell } => completions::completions(&ctx, *shell),
        Command::Manpage => completions::manpage(&ctx),
        Command::Complete { kind } => completions::candidates(&ctx, *kind),
        Command::Analyze {
            svg,
            json,
            transition,
            list,
        } => match list {
            true => analyze::list(&ctx, *json),
            false => analyze::run(&ctx, svg.as_deref(), *json, *transition),
        },
        Command::Inetd { daemon } => inetd::run(&ctx, *daemon),
        Command::Serve { listen } => serve::run(&ctx, listen.as_deref()),
        Command::Supervise { name } => with_names(std::slice::from_ref(name), &|ctx, n| match ctx
            .load(&n[0])
        {
            Ok(def) => ctx.life.supervise(&def),
            Err(c) => c,
        }),
        Command::Init { level, command } => init::run(&ctx, &init_flags, level.as_deref(), command),
        Command::LsbScript { install, names } => {
            with_names(names, &|ctx, n| lsb_script::run(ctx, install.as_deref(), n))
        }
        Command::AccessCheck { name, address } => {
            with_names(std::slice::from_ref(name), &|ctx, n| {
                access_check::run(ctx, &n[0], address)
            })
        }
    }
}
