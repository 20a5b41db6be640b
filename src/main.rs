//! The `luma` binary: `luma [server] [--config FILE] [--<setting> VALUE ...]`.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};
use luma::config::{Config, SETTINGS};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload};

#[global_allocator]
static GLOBAL: luma::memory::Allocator = luma::memory::Allocator;

/// One flag per setting of the config table, so the two can never disagree.
fn server_args(cmd: Command) -> Command {
    let cmd = cmd.arg(
        Arg::new("config")
            .long("config")
            .value_name("FILE")
            .help("Redis-style config file (`name value` lines); flags override it"),
    );
    SETTINGS.iter().fold(cmd, |cmd, s| {
        let help = if s.default.is_empty() {
            s.doc.to_string()
        } else {
            format!("{} [default: {}]", s.doc, s.default)
        };
        cmd.arg(
            Arg::new(s.name)
                .long(s.name)
                .value_name("VALUE")
                .help(help)
                // `--http-port -1` (off) is a value, not an unknown flag `-1`.
                .allow_negative_numbers(true)
                .action(ArgAction::Set),
        )
    })
}

fn cli() -> Command {
    server_args(
        Command::new("luma")
            .version(env!("CARGO_PKG_VERSION"))
            .about("Luma: KV, vectors, SQL and events behind the Redis protocol")
            .args_conflicts_with_subcommands(true),
    )
    .subcommand(server_args(
        Command::new("server").about("Run the server (the default)"),
    ))
}

fn build_config(matches: &ArgMatches) -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(file) = matches.get_one::<String>("config") {
        config.load_file(&PathBuf::from(file))?;
    }
    for s in SETTINGS {
        if let Some(value) = matches.get_one::<String>(s.name) {
            config
                .set(s.name, value)
                .map_err(|e| format!("--{} {value}: {e}", s.name))?;
        }
    }
    Ok(config)
}

fn main() {
    luma::memory::init();
    let matches = cli().get_matches();
    let matches = matches.subcommand_matches("server").unwrap_or(&matches);
    let config = match build_config(matches) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let (filter, reload_handle) = reload::Layer::new(config.loglevel.filter());
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_target(false))
        .init();
    let options = luma::StartOptions {
        handle_signals: true,
        log_reload: Some(Box::new(move |level: luma::config::LogLevel| {
            let _ = reload_handle.modify(|f| *f = level.filter());
        })),
    };
    tracing::info!(
        "Luma {} starting, data folder {}",
        env!("CARGO_PKG_VERSION"),
        config.dir.display()
    );
    match luma::start(config, options) {
        Ok(server) => server.wait(),
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(1);
        }
    }
}
