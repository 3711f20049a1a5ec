//! The command line (SPEC §6): commands, flags and their help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A SysV init-script style service manager.
#[derive(Debug, Parser)]
#[command(name = "svc", version, about, long_about = None)]
pub struct Cli {
    /// Configuration directory [env: SVC_CONFIG_DIR] [default: /etc/svc as root, else ~/.config/svc]
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Runtime state directory [env: SVC_STATE_DIR] [default: /run/svc as root, else $XDG_RUNTIME_DIR/svc or /tmp/svc-$UID]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log directory [env: SVC_LOG_DIR] [default: /var/log/svc as root, else ~/.local/state/svc/log]
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never colour the output (also: NO_COLOR in the environment)
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start services (and the services they require)
    Start {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop services
    Stop {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop then start services (starts them even if they were stopped)
    Restart {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Restart services that are running; do nothing for the others
    TryRestart {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send services their reload_signal (exit 3 if none is defined, 7 if not running)
    Reload {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Reload services that define reload_signal, restart the others
    ForceReload {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Show whether services run (all services when no name is given)
    Status {
        /// Print a JSON array for scripts
        #[arg(long)]
        json: bool,
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Validate every definition and report all problems at once
    Check,
}
