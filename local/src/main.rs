//! `wsfn-local`: run the backend locally (`cargo run -p wsfn-local`), or mint
//! a dev token (`wsfn-local token --sub alice`).

mod cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::run().await
}
