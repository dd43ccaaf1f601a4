//! Every environment variable wsfn reads, as one table: its name, default,
//! bounds and meaning. The table drives the parser (defaults and bounds are
//! read from it), wsfn-local's pass-through of the process environment to
//! the functions, and the table in `docs/protocol.md` §4 (a test renders it
//! from here and fails when the document differs).

use super::ConfigError;

/// One environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: &'static str,
    /// Its default as documented: a number, `unset`, `required`, ….
    pub default: &'static str,
    /// Inclusive bounds of a whole-number variable.
    pub bounds: Option<(u64, u64)>,
    /// What it sets.
    pub meaning: &'static str,
}

const fn text(name: &'static str, default: &'static str, meaning: &'static str) -> Var {
    Var {
        name,
        default,
        bounds: None,
        meaning,
    }
}

const fn num(
    name: &'static str,
    default: &'static str,
    min: u64,
    max: u64,
    meaning: &'static str,
) -> Var {
    Var {
        name,
        default,
        bounds: Some((min, max)),
        meaning,
    }
}

pub(crate) const TABLE_NAME: Var = text("TABLE_NAME", "required", "the DynamoDB table");
pub(crate) const JWT_SECRET: Var = text(
    "JWT_SECRET",
    "one key required where tokens are verified (`$connect`, `$default`); not read elsewhere",
    "HS256 secret",
);
pub(crate) const JWT_SECRET_ARN: Var = text(
    "JWT_SECRET_ARN",
    "unset",
    "a Secrets Manager secret holding the HS256 secret, read at cold start instead of `JWT_SECRET`",
);
pub(crate) const JWT_PUBLIC_KEY: Var = text(
    "JWT_PUBLIC_KEY",
    "unset",
    "RS256/ES256 public key (PEM; `\\n` escapes allowed), instead of `JWT_SECRET`",
);
pub(crate) const JWT_JWKS_URL: Var = text(
    "JWT_JWKS_URL",
    "unset",
    "an identity provider's JWKS (https, or http on a loopback host), instead of `JWT_SECRET`",
);
pub(crate) const JWT_ISSUER: Var = text("JWT_ISSUER", "unset", "required and checked when set");
pub(crate) const JWT_AUDIENCE: Var = text("JWT_AUDIENCE", "unset", "required and checked when set");
pub(crate) const JWT_LEEWAY_SECONDS: Var = num(
    "JWT_LEEWAY_SECONDS",
    "30",
    0,
    3600,
    "clock skew allowed on `exp`/`nbf`",
);
pub(crate) const ROLE_CAPABILITIES: Var = text(
    "ROLE_CAPABILITIES",
    "unset",
    "capabilities per role, a JSON object (§1, roles)",
);
pub(crate) const JWT_ROLES_CLAIM: Var = text(
    "JWT_ROLES_CLAIM",
    "unset",
    "the claim holding a token's roles (§1, roles)",
);
pub(crate) const ALLOWED_ORIGINS: Var =
    text("ALLOWED_ORIGINS", "`*`", "comma list of exact origins");
pub(crate) const MAX_CONNECTIONS_PER_USER: Var = num(
    "MAX_CONNECTIONS_PER_USER",
    "10",
    1,
    100_000,
    "live connections per user (§1)",
);
pub(crate) const MAX_MESSAGE_BYTES: Var = num(
    "MAX_MESSAGE_BYTES",
    "32768",
    64,
    126_976,
    "largest client frame, and a publish's data (§3)",
);
pub(crate) const MAX_SUBSCRIPTIONS_PER_CONNECTION: Var = num(
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "100",
    1,
    10_000,
    "subscriptions per connection, the personal channel not counted (§3)",
);
pub(crate) const RATE_LIMIT_PER_SECOND: Var = num(
    "RATE_LIMIT_PER_SECOND",
    "20",
    1,
    100_000,
    "frames per second per connection, sustained (§3)",
);
pub(crate) const RATE_LIMIT_BURST: Var = num(
    "RATE_LIMIT_BURST",
    "40",
    1,
    1_000_000,
    "frames per connection at once (§3)",
);
pub(crate) const HISTORY_TTL_SECONDS: Var = num(
    "HISTORY_TTL_SECONDS",
    "600",
    1,
    31_536_000,
    "how long a message stays in history",
);
pub(crate) const HISTORY_MAX: Var = num(
    "HISTORY_MAX",
    "1000",
    0,
    1_000_000,
    "messages kept per channel",
);
pub(crate) const IDEMPOTENCY_TTL_SECONDS: Var = num(
    "IDEMPOTENCY_TTL_SECONDS",
    "300",
    1,
    31_536_000,
    "how long a publish `id` is remembered",
);
pub(crate) const MANAGEMENT_ENDPOINT: Var = text(
    "MANAGEMENT_ENDPOINT",
    "`https://{domainName}/{stage}`",
    "the management API (http:// or https://); needed behind custom domains and locally",
);
pub(crate) const FANOUT_CONCURRENCY: Var = num(
    "FANOUT_CONCURRENCY",
    "64",
    1,
    1024,
    "pushes in flight per invocation",
);
pub(crate) const FANOUT_FUNCTION: Var = text("FANOUT_FUNCTION", "unset (nothing is sharded)", "name or ARN of the function that pushes the shards of a big channel ([design.md](design.md#big-channels))");
pub(crate) const FANOUT_SHARD_SIZE: Var = num(
    "FANOUT_SHARD_SIZE",
    "5000",
    10,
    1_000_000,
    "subscribers one invocation pushes itself before handing the rest out",
);
pub(crate) const METRICS_NAMESPACE: Var = text(
    "METRICS_NAMESPACE",
    "`wsfn`",
    "CloudWatch namespace of the EMF metrics (not one starting with `AWS/`)",
);
pub(crate) const PRESENCE_EVENTS: Var = text(
    "PRESENCE_EVENTS",
    "unset (none)",
    "channel patterns (comma list) whose subscribers get `join`/`leave` (§8)",
);
pub(crate) const EPHEMERAL_CHANNELS: Var = text(
    "EPHEMERAL_CHANNELS",
    "unset (none)",
    "channel patterns (comma list) that take ephemeral publishes (§9)",
);
pub(crate) const REVOKE_TTL_SECONDS: Var = num(
    "REVOKE_TTL_SECONDS",
    "86400",
    1,
    31_536_000,
    "how long a `revoke` holds (§7)",
);
pub(crate) const HOOKS: Var = text(
    "HOOKS",
    "unset (no hook, no call)",
    "the application's hooks, a JSON object (§10)",
);
pub(crate) const HOOK_TIMEOUT_MS: Var = num(
    "HOOK_TIMEOUT_MS",
    "3000",
    1,
    10_000,
    "how long a hook may take before the action is refused `unavailable`",
);
pub(crate) const HOOK_SECRET: Var = text(
    "HOOK_SECRET",
    "required when a hook calls a URL",
    "at least 16 characters; signs HTTP hook requests",
);
pub(crate) const HOOK_SECRET_ARN: Var = text(
    "HOOK_SECRET_ARN",
    "unset",
    "a Secrets Manager secret holding `HOOK_SECRET`, read at cold start",
);
pub(crate) const HOOK_FUNCTIONS: Var = text("HOOK_FUNCTIONS", "unset", "set by the template: the Lambda functions IAM lets the hooks invoke; a Lambda target outside it stops start-up");
pub(crate) const EVENT_BUS: Var = text(
    "EVENT_BUS",
    "unset (no events)",
    "EventBridge bus name or ARN receiving the events of §11",
);
pub(crate) const EVENT_MESSAGE_CHANNELS: Var = text(
    "EVENT_MESSAGE_CHANNELS",
    "unset (none)",
    "channel patterns (comma list) whose messages are also events",
);

/// Every variable wsfn reads, in the order `docs/protocol.md` §4 lists them.
pub const VARS: &[Var] = &[
    TABLE_NAME,
    JWT_SECRET,
    JWT_SECRET_ARN,
    JWT_PUBLIC_KEY,
    JWT_JWKS_URL,
    JWT_ISSUER,
    JWT_AUDIENCE,
    JWT_LEEWAY_SECONDS,
    ROLE_CAPABILITIES,
    JWT_ROLES_CLAIM,
    ALLOWED_ORIGINS,
    MAX_CONNECTIONS_PER_USER,
    MAX_MESSAGE_BYTES,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    RATE_LIMIT_PER_SECOND,
    RATE_LIMIT_BURST,
    HISTORY_TTL_SECONDS,
    HISTORY_MAX,
    IDEMPOTENCY_TTL_SECONDS,
    MANAGEMENT_ENDPOINT,
    FANOUT_CONCURRENCY,
    FANOUT_FUNCTION,
    FANOUT_SHARD_SIZE,
    METRICS_NAMESPACE,
    PRESENCE_EVENTS,
    EPHEMERAL_CHANNELS,
    REVOKE_TTL_SECONDS,
    HOOKS,
    HOOK_TIMEOUT_MS,
    HOOK_SECRET,
    HOOK_SECRET_ARN,
    HOOK_FUNCTIONS,
    EVENT_BUS,
    EVENT_MESSAGE_CHANNELS,
];

/// The environment as the parser reads it: only through the table's
/// variables, empty values as unset.
pub(crate) struct Env<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The variable's value, if set and not blank.
    pub(crate) fn get(&self, var: &Var) -> Option<String> {
        (self.0)(var.name).filter(|v| !v.trim().is_empty())
    }

    /// A whole-number variable: its default when unset, refused (naming
    /// it) when it does not parse or lies outside its bounds.
    pub(crate) fn num<T: TryFrom<u64>>(&self, var: &Var) -> Result<T, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            var: var.name,
            reason,
        };
        let (min, max) = var
            .bounds
            .ok_or_else(|| invalid("not a whole-number variable".into()))?;
        let v = match self.get(var) {
            None => var
                .default
                .parse::<u64>()
                .map_err(|_| invalid(format!("default `{}` is not a number", var.default)))?,
            Some(raw) => {
                let raw = raw.trim();
                let v: u64 = raw
                    .parse()
                    .map_err(|_| invalid(format!("`{raw}` is not a whole number")))?;
                if v < min || v > max {
                    return Err(invalid(format!("{v} is outside {min}..={max}")));
                }
                v
            }
        };
        T::try_from(v).map_err(|_| invalid(format!("{v} does not fit")))
    }
}
