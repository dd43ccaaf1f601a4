//! Parsing the server API's operations: one object per call, named by its
//! only key, every field checked (an unknown one is refused, so a typo never
//! turns into a default).

use serde_json::{Map, Value};

use crate::auth::MAX_SUB_BYTES;
use crate::channel::ChannelName;
use crate::protocol::{Action, ClientFrame, Position};

/// The operations, by the key that names each.
pub const OPS: [&str; 6] = [
    "disconnect",
    "revoke",
    "subscribe",
    "unsubscribe",
    "presence",
    "history",
];

/// Longest `reason` of a `disconnect`.
pub const MAX_REASON_CHARS: usize = 256;
/// Longest connection id accepted (API Gateway's are 16 characters).
const MAX_CONNECTION_ID: usize = 128;

/// Whose connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// Every live connection of a user.
    User(String),
    /// One connection.
    Connection(String),
}

/// One parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Disconnect {
        target: Target,
        code: u16,
        reason: String,
        reconnect: bool,
    },
    Revoke {
        user: String,
        before: Option<u64>,
    },
    Subscribe {
        user: String,
        channel: ChannelName,
    },
    Unsubscribe {
        user: String,
        channel: ChannelName,
    },
    Presence {
        channel: ChannelName,
        cursor: Option<String>,
    },
    History {
        channel: ChannelName,
        since: Option<Position>,
        limit: u32,
    },
}

fn only(body: &Map<String, Value>, op: &str, allowed: &[&str]) -> Result<(), String> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "`{op}` takes {}; `{}` is not one of them",
            allowed.join(", "),
            k.chars().take(64).collect::<String>()
        )),
        None => Ok(()),
    }
}

fn user(body: &Map<String, Value>, op: &str) -> Result<String, String> {
    match body.get("user") {
        Some(Value::String(u))
            if !u.is_empty() && u.len() <= MAX_SUB_BYTES && !u.starts_with('@') =>
        {
            Ok(u.clone())
        }
        Some(_) => Err(format!(
            "`{op}.user` must be a user's sub (1-{MAX_SUB_BYTES} bytes, not beginning with `@`)"
        )),
        None => Err(format!("`{op}` needs `user`")),
    }
}

fn channel(body: &Map<String, Value>, op: &str) -> Result<ChannelName, String> {
    match body.get("channel") {
        Some(Value::String(c)) => {
            ChannelName::parse(c).map_err(|e| format!("`{op}.channel`: bad channel name: {e}"))
        }
        Some(_) => Err(format!("`{op}.channel` must be a string")),
        None => Err(format!("`{op}` needs `channel`")),
    }
}

fn connection(v: &Value) -> Result<String, String> {
    match v {
        Value::String(c)
            if !c.is_empty()
                && c.len() <= MAX_CONNECTION_ID
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=+/_-".contains(&b)) =>
        {
            Ok(c.clone())
        }
        _ => Err("`disconnect.connection` must be a connection id".into()),
    }
}

fn disconnect(body: &Map<String, Value>) -> Result<Op, String> {
    only(
        body,
        "disconnect",
        &["user", "connection", "code", "reason", "reconnect"],
    )?;
    let target = match (body.get("user"), body.get("connection")) {
        (Some(_), None) => Target::User(user(body, "disconnect")?),
        (None, Some(c)) => Target::Connection(connection(c)?),
        _ => return Err("`disconnect` takes either `user` or `connection`".into()),
    };
    let code = match body.get("code") {
        None | Some(Value::Null) => 4000,
        Some(v) => match v.as_u64() {
            Some(c @ 4000..=4999) => c as u16,
            _ => return Err("`disconnect.code` must be an integer from 4000 to 4999".into()),
        },
    };
    let reason = match body.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(r)) if r.chars().count() <= MAX_REASON_CHARS => r.clone(),
        Some(_) => {
            return Err(format!(
                "`disconnect.reason` must be a string of at most {MAX_REASON_CHARS} characters"
            ))
        }
    };
    let reconnect = match body.get("reconnect") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`disconnect.reconnect` must be true or false".into()),
    };
    Ok(Op::Disconnect {
        target,
        code,
        reason,
        reconnect,
    })
}

/// `presence` and `history` take what the client actions take: the client
/// frame parser checks them, so both APIs refuse the same things.
fn read(name: &str, body: &Map<String, Value>) -> Result<Op, String> {
    let allowed: &[&str] = if name == "presence" {
        &["channel", "cursor"]
    } else {
        &["channel", "since", "limit"]
    };
    only(body, name, allowed)?;
    let mut frame = body.clone();
    frame.insert("action".into(), Value::String(name.into()));
    let parsed = ClientFrame::parse(&Value::Object(frame).to_string())
        .map_err(|e| format!("`{name}`: {}", e.message))?;
    match parsed.action {
        Action::Presence { channel, cursor } => Ok(Op::Presence { channel, cursor }),
        Action::History {
            channel,
            since,
            limit,
        } => Ok(Op::History {
            channel,
            since,
            limit,
        }),
        _ => Err(format!("`{name}` could not be read")),
    }
}

/// Parses `{"<op>": {...}}`.
pub(super) fn parse(name: &str, body: &Value) -> Result<Op, String> {
    let Value::Object(body) = body else {
        return Err(format!("`{name}` must be an object"));
    };
    match name {
        "disconnect" => disconnect(body),
        "revoke" => {
            only(body, "revoke", &["user", "before"])?;
            let before = match body.get("before") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or("`revoke.before` must be unix seconds (a non-negative integer)")?,
                ),
            };
            Ok(Op::Revoke {
                user: user(body, "revoke")?,
                before,
            })
        }
        "subscribe" | "unsubscribe" => {
            only(body, name, &["user", "channel"])?;
            let (user, channel) = (user(body, name)?, channel(body, name)?);
            Ok(if name == "subscribe" {
                Op::Subscribe { user, channel }
            } else {
                Op::Unsubscribe { user, channel }
            })
        }
        "presence" | "history" => read(name, body),
        other => Err(format!(
            "unknown operation `{}`",
            other.chars().take(64).collect::<String>()
        )),
    }
}
