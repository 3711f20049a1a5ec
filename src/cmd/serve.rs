//! `svc serve` (SPEC §10): reads the `serve:` settings, opens the listeners and answers with
//! the [`backend::Local`] backend until SIGTERM or SIGINT.
//!
//! Exit codes: 6 when svc.yaml is invalid (a plain-text password among its problems, each
//! named with file and line) or TCP is asked for without `serve.username` and
//! `serve.password`; 2 for a `--listen` that is not `HOST:PORT`; 1 when it cannot listen —
//! another `svc serve` answering on `<state>/svc.sock` among the reasons; 0 after SIGTERM or
//! SIGINT, the socket removed.
//!
//! Like `svc inetd` it names itself (`svc-serve`), says `READY=1` when `NOTIFY_SOCKET` asks,
//! and gives back its start-up memory once it listens.

mod backend;

use std::sync::Arc;

use super::Context;
use crate::definition::{self, parse_host_port};
use crate::exit::{Code, HasCode};
use crate::serve::auth::Credentials;
use crate::serve::server::{Config, Server};
use crate::serve::Backend;

pub fn run(ctx: &Context, listen: Option<&str>) -> Code {
    let _ = nix::sys::prctl::set_name(c"svc-serve");
    let settings_file = ctx.dirs.config.join("svc.yaml");
    let settings = match definition::load_settings(&ctx.dirs) {
        Ok(s) => s,
        Err(problems) => {
            ctx.out.error(&format!(
                "serve: {} is not valid ({} problem(s)); nothing is served",
                settings_file.display(),
                problems.len()
            ));
            for p in problems {
                ctx.out.problem(&p.to_string());
            }
            return Code::NotConfigured;
        }
    };
    if let Some(l) = listen {
        if parse_host_port(l).is_none() {
            ctx.out.error(&format!(
                "serve: --listen {l}: expected HOST:PORT ([ADDR]:PORT for IPv6)"
            ));
            return Code::InvalidArgs;
        }
    }
    let serve = settings.serve;
    let tcp = match listen.map(String::from).or(serve.listen) {
        None => None,
        Some(addr) => match (serve.username, serve.password) {
            (Some(username), Some(password)) => Some((addr, Credentials { username, password })),
            _ => {
                ctx.out.error(&format!(
                    "serve: TCP ({addr}) needs credentials: set serve.username and \
                     serve.password (`{{SHA}}` or `{{SHA256}}` + the hex digest) in {}",
                    settings_file.display()
                ));
                return Code::NotConfigured;
            }
        },
    };
    if let Err(e) = ctx.dirs.ensure_state() {
        ctx.out.error(&format!(
            "serve: cannot use the state directory {}: {e}",
            ctx.dirs.state.display()
        ));
        return Code::Failure;
    }
    let config = Config {
        socket: ctx.dirs.state.join("svc.sock"),
        tcp,
    };
    let server = match Server::open(config) {
        Ok(s) => s,
        Err(e) => {
            ctx.out.error(&format!("serve: {e}"));
            return e.code();
        }
    };
    let backend: Arc<dyn Backend + Send> = Arc::new(backend::Local::new(ctx.dirs.clone()));
    ctx.out
        .line(&format!("svc serve: listening on {}", server.describe()));
    super::inetd::notify_ready();
    // Listening: what reading the settings and setting up needed can go.
    crate::process::memory::shed_startup_pages();
    match server.run(backend) {
        Ok(()) => Code::Success,
        Err(e) => {
            ctx.out.error(&format!("serve: {e}"));
            e.code()
        }
    }
}
