use clap::Parser;
use publish_artifact::cli::{Cli, Command};
use publish_artifact::commands;
use std::process::ExitCode;

fn main() -> ExitCode {
    publish_artifact::logging::init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Seal(args) => commands::seal::run(args),
        Command::Open(args) => commands::open::run(args),
        Command::Selftest => commands::selftest::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
