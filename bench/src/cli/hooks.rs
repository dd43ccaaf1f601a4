//! What a publish hook adds to a publish's ack time.

use super::*;

#[derive(clap::Args)]
pub(super) struct HooksArgs {
    /// Sequential publishes measured per configuration.
    #[arg(long, default_value_t = 500)]
    n: usize,
    #[arg(long, default_value = "template.yaml")]
    template: String,
    /// DynamoDB Local instead of the embedded store.
    #[arg(long, value_name = "URL")]
    pub(super) dynamodb_endpoint: Option<String>,
}

pub(super) async fn hooks(args: HooksArgs) -> ExitCode {
    let mut base = Options::new(args.template);
    base.dynamodb_endpoint = args.dynamodb_endpoint.clone();
    let store = if args.dynamodb_endpoint.is_some() {
        "DynamoDB Local"
    } else {
        "embedded"
    };
    match wsfn_bench::hooks::hook_latency(&base, args.n).await {
        Ok(rows) => {
            println!("\n### Publish with a hook ({store} store)\n");
            println!("| publish hook | publishes | p50 ack ms | p99 ack ms | hook calls |");
            println!("|---|---|---|---|---|");
            for r in &rows {
                println!(
                    "| {} | {} | {:.2} | {:.2} | {} |",
                    r.hook, r.n, r.p50_ms, r.p99_ms, r.hook_calls
                );
            }
            if let Some((plain, hooked)) = rows.split_first() {
                for h in hooked {
                    println!(
                        "\nadded by the {} hook: p50 {:.2} ms, p99 {:.2} ms",
                        h.hook,
                        h.p50_ms - plain.p50_ms,
                        h.p99_ms - plain.p99_ms
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error {e}");
            ExitCode::FAILURE
        }
    }
}
