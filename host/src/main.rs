use clap::Parser;
use publish_artifact::cli::{Cli, Command, version_text};
use publish_artifact::commands;
use std::process::ExitCode;

fn main() -> ExitCode {
    publish_artifact::logging::init();
    let cli = Cli::parse();
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
        Some(Command::Attest(command)) => commands::attest::run(command),
        Some(Command::Image(command)) => commands::image::run(command),
        Some(Command::Selftest) => commands::selftest::run(),
        Some(Command::Guest(command)) => commands::guest::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
