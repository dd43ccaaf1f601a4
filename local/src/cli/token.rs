//! `wsfn-local token`: a signed HS256 dev token.

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub(super) struct TokenArgs {
    /// User id (`sub`).
    #[arg(long)]
    sub: String,
    /// Channel pattern the token may subscribe to (repeatable).
    #[arg(long)]
    subscribe: Vec<String>,
    /// Channel pattern the token may publish to (repeatable).
    #[arg(long)]
    publish: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Per-second rate limit override.
    #[arg(long)]
    rate: Option<f64>,
}

pub(super) fn token(args: TokenArgs) -> ExitCode {
    if args.sub.is_empty() || args.sub.starts_with('@') {
        eprintln!("wsfn-local token: --sub must be a user id, not empty and not beginning with `@` (reserved for the backend)");
        return ExitCode::FAILURE;
    }
    let secret = std::env::var("JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| wsfn::events::DEV_SECRET.to_string());
    let claims = wsfn::auth::TokenClaims {
        sub: args.sub,
        exp: wsfn::time::now_secs() + args.ttl,
        subscribe: args.subscribe,
        publish: args.publish,
        rate: args.rate,
        nbf: None,
        iss: std::env::var("JWT_ISSUER").ok().filter(|s| !s.is_empty()),
        aud: std::env::var("JWT_AUDIENCE").ok().filter(|s| !s.is_empty()),
        iat: Some(wsfn::time::now_secs()),
        info: None,
    };
    match wsfn::auth::sign_hs256(&secret, &claims) {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wsfn-local token: {e}");
            ExitCode::FAILURE
        }
    }
}
