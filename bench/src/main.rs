//! `wsfn-bench`: fan-out latency/throughput and connect churn against a real
//! wsfn-local, embedded store or DynamoDB Local. Prints Markdown tables.
//! Run through `bash scripts/bench.sh` (starts DynamoDB Local, raises the
//! file limit, builds in release).

mod cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::run().await
}
