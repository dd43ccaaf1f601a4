//! `wsfn-bench`'s commands: the default suite (fan-out, churn, one hot
//! channel) and the subcommands, each in a file of its own.

mod big;
mod functions;
mod hooks;
mod push_cpu;
mod suite;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsfn_bench::{churn, fanout, gateway, hot, subscriber_process, Clients};
use wsfn_local::management::Faults;
use wsfn_local::Options;

use big::{big, BigArgs};
use functions::{functions, FunctionsArgs};
use hooks::{hooks, HooksArgs};
use push_cpu::{push_cpu, serve_virtual, PushCpuArgs};
use suite::Args;

#[derive(Parser)]
#[command(about = "wsfn fan-out and churn benchmark")]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,
    #[command(flatten)]
    args: Args,
}

#[derive(clap::Subcommand)]
enum Child {
    /// Big channels: one server publish to virtual subscribers, sharded.
    Big(BigArgs),
    /// What a publish hook adds to a publish's ack time (p50/p99).
    Hooks(HooksArgs),
    /// CPU per push of the management API client (this process only).
    PushCpu(PushCpuArgs),
    /// The built binaries through the Runtime API: init, warm duration,
    /// RSS, CPU per push and projected fan-out time per memory size.
    Functions(FunctionsArgs),
    /// Hours of churn and traffic against wsfn-local (a process) on
    /// DynamoDB Local: RSS, table items, lost messages (scripts/soak.sh).
    Soak(wsfn_bench::soak_cli::SoakCli),
    /// Internal: a wsfn-local with virtual subscribers, for push-cpu.
    ServeVirtual {
        #[arg(long, default_value = "template.yaml")]
        template: String,
        #[arg(long, default_value_t = 0)]
        push_latency_ms: u64,
    },
    /// Internal: hold subscriber sockets in a separate process.
    SubscribeClients {
        #[arg(long)]
        url: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        n: usize,
        #[arg(long)]
        wait_secs: u64,
    },
}

/// Parses the command line and runs what it asks for.
pub(crate) async fn run() -> ExitCode {
    let cli = Cli::parse();
    let child = match cli.child {
        Some(Child::Big(args)) => return big(args).await,
        Some(Child::Hooks(mut args)) => {
            // `scripts/bench.sh hooks …` passes the endpoint before the
            // subcommand on its DynamoDB Local run.
            args.dynamodb_endpoint = args.dynamodb_endpoint.or(cli.args.dynamodb_endpoint);
            return hooks(args).await;
        }
        Some(Child::PushCpu(args)) => return push_cpu(args).await,
        Some(Child::Functions(args)) => return functions(args).await,
        Some(Child::Soak(args)) => return wsfn_bench::soak_cli::run(args).await,
        Some(Child::ServeVirtual {
            template,
            push_latency_ms,
        }) => return serve_virtual(template, push_latency_ms).await,
        other => other,
    };
    if let Some(Child::SubscribeClients {
        url,
        channel,
        n,
        wait_secs,
    }) = child
    {
        return match subscriber_process(&url, &channel, n, Duration::from_secs(wait_secs)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("error {e}");
                ExitCode::FAILURE
            }
        };
    }
    suite::run(cli.args).await
}
