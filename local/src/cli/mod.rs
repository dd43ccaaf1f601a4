//! The `wsfn-local` command line: serve (the default), `token`, `invoke`.

mod invoke;
mod serve;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Local API Gateway WebSocket emulator for wsfn, driven by template.yaml"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: serve::Serve,
}

#[derive(Subcommand)]
enum Command {
    /// Print a signed HS256 dev token (JWT_SECRET, or the dev secret).
    Token(token::TokenArgs),
    /// Run one function with an event file (the Docker-free `sam local invoke`).
    Invoke(invoke::InvokeArgs),
}

/// Parses the command line and runs what it asks for.
pub(crate) async fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token::token(args),
        Some(Command::Invoke(args)) => invoke::invoke(args).await,
        None => serve::serve(cli.serve).await,
    }
}
