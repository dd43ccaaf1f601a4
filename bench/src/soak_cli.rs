//! `wsfn-bench soak`: the soak's options, its run and its Markdown report
//! (`scripts/soak.sh` runs it for 30 minutes).

use std::process::ExitCode;
use std::time::Duration;

use crate::soak::{soak, SoakArgs, SoakReport};

/// The soak's options.
#[derive(Debug, clap::Args)]
pub struct SoakCli {
    /// DynamoDB Local.
    #[arg(long)]
    dynamodb_endpoint: String,
    /// The wsfn-local binary (built in release next to this one).
    #[arg(long, default_value = "target/release/wsfn-local")]
    wsfn_local: std::path::PathBuf,
    /// Minutes of churn and traffic.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Minutes before RSS is taken as the reference.
    #[arg(long, default_value_t = 5.0)]
    warmup_minutes: f64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 60)]
    sample_secs: u64,
    /// Long-lived subscribers.
    #[arg(long, default_value_t = 20)]
    subscribers: usize,
    /// Channels.
    #[arg(long, default_value_t = 4)]
    channels: usize,
    /// Publishes a second of the long-lived publisher.
    #[arg(long, default_value_t = 10.0)]
    publish_rate: f64,
    /// Short-lived clients at a time.
    #[arg(long, default_value_t = 4)]
    churners: usize,
    /// Seconds between dropped long-lived connections.
    #[arg(long, default_value_t = 20)]
    drop_every_secs: u64,
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Runs the soak and prints its tables; fails when a message was lost,
/// something of a connection was left or the items did not come back.
pub async fn run(c: SoakCli) -> ExitCode {
    let warmup = Duration::from_secs_f64(c.warmup_minutes * 60.0);
    let args = SoakArgs {
        wsfn_local: c.wsfn_local,
        dynamodb_endpoint: c.dynamodb_endpoint,
        duration: Duration::from_secs_f64(c.minutes * 60.0),
        warmup,
        sample: Duration::from_secs(c.sample_secs.max(1)),
        subscribers: c.subscribers.max(1),
        channels: c.channels.max(1),
        publish_rate: c.publish_rate,
        churners: c.churners,
        drop_every: Duration::from_secs(c.drop_every_secs.max(1)),
    };
    let report = match soak(args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    print(&report, warmup);
    let ok = report.lost == 0
        && report.connection_items_end == 0
        && report.live_items_end == report.baseline;
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print(r: &SoakReport, warmup: Duration) {
    let functions: Vec<String> = r
        .samples
        .iter()
        .flat_map(|s| s.functions_kib.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "\n| minute | wsfn-local RSS MiB | {} | items (live) | acked |",
        functions
            .iter()
            .map(|f| format!("{f} MiB"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|{}---|---|", "---|".repeat(functions.len()));
    for s in &r.samples {
        let per: Vec<String> = functions
            .iter()
            .map(|f| s.functions_kib.get(f).map_or("-".into(), |k| mib(*k)))
            .collect();
        println!(
            "| {:.1} | {} | {} | {} ({}) | {} |",
            s.at.as_secs_f64() / 60.0,
            mib(s.gateway_kib),
            per.join(" | "),
            s.items,
            s.live_items,
            s.acked
        );
    }
    let after: Vec<_> = r.samples.iter().filter(|s| s.at >= warmup).collect();
    if let (Some(first), Some(last)) = (after.first(), after.last()) {
        println!(
            "\nwsfn-local RSS from minute {:.1} to the end: {} → {} MiB (peak {} MiB)",
            first.at.as_secs_f64() / 60.0,
            mib(first.gateway_kib),
            mib(last.gateway_kib),
            mib(after.iter().map(|s| s.gateway_kib).max().unwrap_or(0))
        );
    }
    println!(
        "acked {} publishes, lost {}; {} short-lived connections, {} dropped long-lived ones; \
         items of connections at the end: {}; live items at the end: {} (baseline {})",
        r.acked, r.lost, r.churned, r.drops, r.connection_items_end, r.live_items_end, r.baseline
    );
}
