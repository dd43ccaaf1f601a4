//! The built binaries through the Runtime API: init, warm duration, RSS, CPU per push.

use super::*;

#[derive(clap::Args)]
pub(super) struct FunctionsArgs {
    /// Virtual subscribers of the fan-out measurement.
    #[arg(long, default_value_t = 10000)]
    subscribers: usize,
    /// Injected management API latency per POST, ms.
    #[arg(long, default_value_t = 20)]
    push_latency_ms: u64,
    /// FANOUT_CONCURRENCY.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// DynamoDB Local (the processes cannot share the embedded store).
    #[arg(long)]
    dynamodb_endpoint: String,
    /// Where the function binaries are.
    #[arg(long, default_value = "target/release")]
    binaries: std::path::PathBuf,
    /// Run each process at Lambda's CPU share for its MemorySize (cgroup).
    #[arg(long)]
    cpu_share: bool,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

fn print_fanout(
    fan: &wsfn_bench::functions::FanoutRow,
    latency: Duration,
    subscribers: usize,
    concurrency: usize,
) {
    println!(
        "measured: wall {:.2} s, CPU {:.2} s = **{:.1} µs per push**, peak RSS {} MB; latency bound {:.2} s\n",
        fan.wall.as_secs_f64(),
        fan.cpu.as_secs_f64(),
        fan.cpu_us_per_push(),
        fan.peak_mb,
        (latency * (subscribers as u32) / (concurrency.max(1) as u32)).as_secs_f64()
    );
    println!("| MemorySize | vCPU share | projected wall | GB-s per 10,000 pushes |");
    println!("|---|---|---|---|");
    for mb in [256u32, 512, 1024, 1769] {
        let wall = fan.projected(mb);
        let per_10k =
            wall.as_secs_f64() * f64::from(mb) / 1024.0 * 10_000.0 / fan.delivered.max(1) as f64;
        println!(
            "| {mb} MB | {:.2} | {:.2} s | {:.3} |",
            f64::from(mb) / 1769.0,
            wall.as_secs_f64(),
            per_10k
        );
    }
}

pub(super) async fn functions(args: FunctionsArgs) -> ExitCode {
    let latency = Duration::from_millis(args.push_latency_ms);
    let (rows, fans) = match wsfn_bench::functions::functions(
        &args.template,
        &args.dynamodb_endpoint,
        args.binaries.clone(),
        args.subscribers,
        latency,
        args.concurrency,
        args.cpu_share,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wsfn-bench functions: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\n### The binaries through the Runtime API ({})\n",
        args.binaries.display()
    );
    println!("| function | init (spawn → first /next), median (max) of 5 | cold duration | warm duration (median of 9) | peak RSS |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let ms = |d: Option<&Duration>| d.copied().unwrap_or_default().as_secs_f64() * 1e3;
        println!(
            "| {} | {:.1} ms ({:.1} ms) | {:.1} ms | {:.1} ms | {} MB |",
            r.function,
            ms(r.inits.get(r.inits.len() / 2)),
            ms(r.inits.last()),
            r.cold.duration.as_secs_f64() * 1e3,
            r.warm.as_secs_f64() * 1e3,
            r.peak_mb
        );
    }
    let mut complete = true;
    for (label, fan) in &fans {
        println!(
            "\n### One fan-out in one {label} process: {} pushes, {} ms each, concurrency {}\n",
            fan.delivered, args.push_latency_ms, args.concurrency
        );
        print_fanout(fan, latency, args.subscribers, args.concurrency);
        complete &= fan.delivered as usize == args.subscribers;
    }
    if complete {
        ExitCode::SUCCESS
    } else {
        let got: Vec<u64> = fans.iter().map(|(_, f)| f.delivered).collect();
        eprintln!(
            "wsfn-bench functions: delivered {got:?} of {} each",
            args.subscribers
        );
        ExitCode::FAILURE
    }
}
