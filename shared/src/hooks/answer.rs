//! What a hook may answer, validated: anything else is a malformed answer
//! (the action fails closed with `unavailable`).

use serde_json::{Map, Value};

use crate::auth::MAX_INFO_BYTES;
use crate::channel::{ChannelName, Pattern};
use crate::protocol::ErrorCode;

/// A hook's refusal, passed to the client as that error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `forbidden`, `unauthorized`, `bad_request`, `rate_limited` or
    /// `limit_exceeded`.
    pub code: ErrorCode,
    /// For the client (at most 256 characters).
    pub message: String,
}

/// What a `connect` hook granted the connection, for its whole life.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectGrant {
    /// The member's public data (replaces the token's `info`).
    pub info: Option<Value>,
    /// Subscribe patterns added to the token's.
    pub subscribe: Vec<String>,
    /// Publish patterns added to the token's.
    pub publish: Vec<String>,
    /// Channels subscribed at connect (server-side subscriptions).
    pub channels: Vec<ChannelName>,
}

/// Longest refusal message passed on.
const MAX_MESSAGE_CHARS: usize = 256;
/// At most this many patterns or channels in a connect answer.
const MAX_LIST: usize = 100;

fn object(v: Value, allowed: &[&str]) -> Result<Map<String, Value>, String> {
    let Value::Object(m) = v else {
        return Err("the answer is not a JSON object".into());
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown field `{k}` in the answer"));
    }
    Ok(m)
}

fn refusal(m: &Map<String, Value>) -> Result<Refusal, String> {
    let code = match m.get("code") {
        None => ErrorCode::Forbidden,
        Some(Value::String(c)) => match c.as_str() {
            "forbidden" => ErrorCode::Forbidden,
            "unauthorized" => ErrorCode::Unauthorized,
            "bad_request" => ErrorCode::BadRequest,
            "rate_limited" => ErrorCode::RateLimited,
            "limit_exceeded" => ErrorCode::LimitExceeded,
            other => return Err(format!("`code` `{other}` is not one a hook may give")),
        },
        Some(_) => return Err("`code` must be a string".into()),
    };
    let message = match m.get("message") {
        None => "refused by the application".to_string(),
        Some(Value::String(s)) => s.chars().take(MAX_MESSAGE_CHARS).collect(),
        Some(_) => return Err("`message` must be a string".into()),
    };
    Ok(Refusal { code, message })
}

/// `{"allow": bool, ...}`: the refusal, or the object for the caller to
/// read its grants from.
fn decision(v: Value, allowed: &[&str]) -> Result<Result<Map<String, Value>, Refusal>, String> {
    let mut fields = vec!["allow", "code", "message"];
    fields.extend_from_slice(allowed);
    let m = object(v, &fields)?;
    match m.get("allow") {
        Some(Value::Bool(true)) => Ok(Ok(m)),
        Some(Value::Bool(false)) => Ok(Err(refusal(&m)?)),
        _ => Err("`allow` (true or false) is required".into()),
    }
}

fn strings(m: &Map<String, Value>, field: &str) -> Result<Vec<String>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= MAX_LIST => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{field}` must hold strings"))
            })
            .collect(),
        Some(_) => Err(format!("`{field}` must be an array of at most {MAX_LIST}")),
    }
}

/// A `connect` answer.
pub fn connect(v: Value) -> Result<Result<ConnectGrant, Refusal>, String> {
    let m = match decision(v, &["info", "subscribe", "publish", "channels"])? {
        Ok(m) => m,
        Err(r) => return Ok(Err(r)),
    };
    let info = match m.get("info") {
        None | Some(Value::Null) => None,
        Some(i @ Value::Object(_)) if i.to_string().len() <= MAX_INFO_BYTES => Some(i.clone()),
        Some(_) => {
            return Err(format!(
                "`info` must be an object of at most {MAX_INFO_BYTES} bytes"
            ))
        }
    };
    let patterns = |field: &str| -> Result<Vec<String>, String> {
        let ps = strings(&m, field)?;
        for p in &ps {
            Pattern::parse(p).map_err(|e| format!("`{field}`: `{p}` is not a pattern: {e}"))?;
        }
        Ok(ps)
    };
    let subscribe = patterns("subscribe")?;
    let publish = patterns("publish")?;
    let channels = strings(&m, "channels")?
        .iter()
        .map(|c| ChannelName::parse(c).map_err(|e| format!("`channels`: `{c}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ok(ConnectGrant {
        info,
        subscribe,
        publish,
        channels,
    }))
}

/// A `subscribe` answer.
pub fn subscribe(v: Value) -> Result<Result<(), Refusal>, String> {
    Ok(decision(v, &[])?.map(|_| ()))
}

/// A `publish` answer: `Some(data)` replaces the payload.
pub fn publish(v: Value) -> Result<Result<Option<Value>, Refusal>, String> {
    Ok(decision(v, &["data"])?.map(|mut m| m.remove("data")))
}

/// An `rpc` answer: `{"data": any}` or `{"error": {"code", "message"}}`.
pub fn rpc(v: Value) -> Result<Result<Value, Refusal>, String> {
    let mut m = object(v, &["data", "error"])?;
    match (m.remove("data"), m.remove("error")) {
        (Some(data), None) => Ok(Ok(data)),
        (None, Some(Value::Object(e))) => {
            if let Some(k) = e
                .keys()
                .find(|k| !["code", "message"].contains(&k.as_str()))
            {
                return Err(format!("unknown field `{k}` in `error`"));
            }
            Ok(Err(refusal(&e)?))
        }
        (None, Some(_)) => Err("`error` must be an object".into()),
        _ => Err("exactly one of `data` and `error` is required".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connect_answers() {
        let g = connect(
            json!({"allow": true, "info": {"n": "Al"}, "subscribe": ["room:*"],
            "channels": ["room:1"]}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(g.info, Some(json!({"n": "Al"})));
        assert_eq!(g.subscribe, vec!["room:*"]);
        assert_eq!(g.channels, vec![ChannelName::parse("room:1").unwrap()]);
        let r = connect(json!({"allow": false, "code": "unauthorized", "message": "who?"}))
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (r.code, r.message.as_str()),
            (ErrorCode::Unauthorized, "who?")
        );
        for bad in [
            json!({"allow": "yes"}),
            json!({"allowed": true}),
            json!({"allow": true, "info": "x"}),
            json!({"allow": true, "info": {"x": "y".repeat(2000)}}),
            json!({"allow": true, "subscribe": ["a b"]}),
            json!({"allow": true, "channels": ["a b"]}),
            json!({"allow": false, "code": "internal"}),
            json!([]),
        ] {
            assert!(connect(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_and_rpc_answers() {
        assert_eq!(publish(json!({"allow": true})).unwrap(), Ok(None));
        assert_eq!(
            publish(json!({"allow": true, "data": {"t": "***"}})).unwrap(),
            Ok(Some(json!({"t": "***"})))
        );
        assert_eq!(
            publish(json!({"allow": false})).unwrap().unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert!(subscribe(json!({"allow": true, "data": 1})).is_err());
        assert_eq!(rpc(json!({"data": [1]})).unwrap(), Ok(json!([1])));
        assert_eq!(
            rpc(json!({"error": {"code": "bad_request", "message": "no"}}))
                .unwrap()
                .unwrap_err()
                .code,
            ErrorCode::BadRequest
        );
        assert!(rpc(json!({})).is_err());
        assert!(rpc(json!({"data": 1, "error": {}})).is_err());
        assert!(rpc(json!({"error": "x"})).is_err());
    }
}
