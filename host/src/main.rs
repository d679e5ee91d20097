use clap::Parser;
use publish_artifact::cli::{Cli, Command, version_text};
use publish_artifact::{commands, interrupt};
use std::process::ExitCode;
use std::time::Duration;

/// The static musl builds' allocator (host/Cargo.toml says why).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line; in a Woodpecker plugin step (no arguments at all) the
/// `command` setting, `PLUGIN_COMMAND`, names the subcommand (`promote`):
/// a plugin's image has one entrypoint, and publishing stays its default.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut arguments: Vec<_> = std::env::args_os().collect();
    if arguments.len() == 1
        && let Some(command) = std::env::var_os("PLUGIN_COMMAND").filter(|c| !c.is_empty())
    {
        arguments.push(command);
    }
    arguments
}

fn main() -> ExitCode {
    publish_artifact::logging::init();
    let cli = Cli::parse_from(arguments());
    if let Err(err) = interrupt::install() {
        tracing::warn!("{err}: a signal will end the process without cleaning up");
    }
    let result = match &cli.command {
        _ if cli.print_version || cli.publish.asks_for_version() => {
            println!("publish-artifact {}", version_text());
            Ok(())
        }
        None => commands::publish::run(&cli.publish),
        Some(Command::Publish(args)) => commands::publish::run(args),
        Some(Command::Seal(args)) => commands::seal::run(args),
        Some(Command::Open(args)) => commands::open::run(args),
        Some(Command::Fetch(args)) => commands::fetch::run(args),
        Some(Command::Verify(args)) => commands::verify::run(args),
        Some(Command::Promote(args)) => commands::promote::run(args),
        Some(Command::Attest(command)) => commands::attest::run(command),
        Some(Command::Image(command)) => commands::image::run(command),
        Some(Command::Sbom(args)) => commands::sbom::run(args),
        Some(Command::Cleanup(args)) => commands::cleanup::run(args),
        Some(Command::Selftest) => commands::selftest::run(),
        Some(Command::Guest(command)) => commands::guest::run(command),
    };
    let code = match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {failure}");
            // Whatever a command failed with after a signal, the signal is
            // why: the caller sees 128 + its number, as for a process the
            // signal had ended.
            match interrupt::received() {
                Some(signal) => signal.exit_code(),
                None => failure.class.exit_code(),
            }
        }
    };
    interrupt::exit_within(Duration::from_secs(5), code);
    ExitCode::from(code)
}
