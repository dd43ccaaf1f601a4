//! `wsfn-cli`: subscribe to and publish on a wsfn stage from a terminal
//! (wsfn-client underneath). Tokens: `--token`, `WSFN_TOKEN`, or
//! `--dev-user NAME` for a dev token from wsfn-local's local-only endpoint.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use wsfn_client::{Client, Event, Options, TokenSource};

#[derive(Parser)]
#[command(version, about = "Subscribe and publish on a wsfn stage")]
struct Cli {
    /// Stage URL.
    #[arg(long, env = "WSFN_URL", default_value = "ws://127.0.0.1:3001")]
    url: String,
    /// A JWT.
    #[arg(long, env = "WSFN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Fetch dev tokens for this user from wsfn-local (POST /_wsfn/token on the URL's host).
    #[arg(long, conflicts_with = "token")]
    dev_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print each message of the channels as one JSON line, in order, across reconnects.
    Subscribe {
        /// Channels.
        #[arg(required = true)]
        channels: Vec<String>,
        /// Exit after this many messages (all channels).
        #[arg(long)]
        count: Option<usize>,
    },
    /// Publish JSON data (each argument one message; `-` reads lines from stdin).
    Publish {
        /// Channel.
        channel: String,
        /// JSON values (a value that is not JSON is sent as a string).
        #[arg(required = true)]
        data: Vec<String>,
    },
    /// Print one page of history.
    History {
        /// Channel.
        channel: String,
    },
    /// Print the channel's members.
    Presence {
        /// Channel.
        channel: String,
    },
}

fn parse(data: &str) -> serde_json::Value {
    serde_json::from_str(data).unwrap_or_else(|_| serde_json::Value::String(data.to_string()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let token = match (&cli.token, &cli.dev_user) {
        (Some(t), _) => TokenSource::fixed(t.clone()),
        (None, Some(user)) => {
            TokenSource::wsfn_local_dev(&cli.url, user, Duration::from_secs(3600))
        }
        (None, None) => {
            eprintln!("wsfn-cli: a token is needed: --token, WSFN_TOKEN or --dev-user");
            return ExitCode::FAILURE;
        }
    };
    let client = Client::connect(cli.url.clone(), Options::new(token));
    let mut events = client.events();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                Event::Error(e) => eprintln!("wsfn-cli: {e}"),
                Event::State(s) => eprintln!("wsfn-cli: {s:?}"),
                Event::Disconnected {
                    code,
                    reason,
                    reconnect: false,
                } => eprintln!("wsfn-cli: disconnected by the server: {code} {reason}"),
                other => eprintln!("wsfn-cli: {other:?}"),
            }
        }
    });
    let result = run(&client, cli.command).await;
    client.close();
    tokio::time::sleep(Duration::from_millis(50)).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsfn-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(client: &Client, command: Command) -> Result<(), wsfn_client::Error> {
    match command {
        Command::Subscribe { channels, count } => {
            let mut subs = Vec::new();
            for c in &channels {
                subs.push(client.subscribe(c).await?);
                eprintln!("wsfn-cli: subscribed to {c}");
            }
            let mut all = futures::stream::select_all(subs);
            let mut n = 0;
            while let Some(m) = all.next().await {
                println!("{}", serde_json::to_string(&m).unwrap_or_default());
                n += 1;
                if count.is_some_and(|c| n >= c) {
                    break;
                }
            }
        }
        Command::Publish { channel, data } => {
            let mut values: Vec<serde_json::Value> = Vec::new();
            for d in data {
                if d == "-" {
                    let mut input = String::new();
                    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut input);
                    values.extend(input.lines().filter(|l| !l.is_empty()).map(parse));
                } else {
                    values.push(parse(&d));
                }
            }
            for v in values {
                let ack = client.publish(&channel, v).await?;
                println!("{}", serde_json::to_string(&ack).unwrap_or_default());
            }
        }
        Command::History { channel } => {
            client
                .wait_for(wsfn_client::State::Connected, Duration::from_secs(10))
                .await;
            let page = client.history(&channel, None, None).await?;
            println!("{}", serde_json::to_string(&page).unwrap_or_default());
        }
        Command::Presence { channel } => {
            client
                .wait_for(wsfn_client::State::Connected, Duration::from_secs(10))
                .await;
            for m in client.presence(&channel).await? {
                println!("{}", serde_json::to_string(&m).unwrap_or_default());
            }
        }
    }
    Ok(())
}
