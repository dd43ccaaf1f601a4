use super::*;
use crate::channel::ChannelName;
use serde_json::json;

fn err(body: &str) -> FrameError {
    ClientFrame::parse(body).unwrap_err()
}

#[test]
fn parses_every_action() {
    let f = ClientFrame::parse(r#"{"action":"ping","id":"1"}"#).unwrap();
    assert_eq!(f.id.as_deref(), Some("1"));
    assert_eq!(f.action, Action::Ping);
    let f = ClientFrame::parse(
        r#"{"action":"subscribe","channel":"room:a","since":{"seq":3,"epoch":"e1"}}"#,
    )
    .unwrap();
    assert_eq!(
        f.action,
        Action::Subscribe {
            channel: ChannelName::parse("room:a").unwrap(),
            since: Some(Position {
                seq: 3,
                epoch: "e1".into()
            })
        }
    );
    let f =
        ClientFrame::parse(r#"{"action":"publish","channel":"room:a","data":{"x":[1]}}"#).unwrap();
    assert!(matches!(f.action, Action::Publish { ref data, .. } if data == &json!({"x":[1]})));
    let f = ClientFrame::parse(r#"{"action":"history","channel":"room:a"}"#).unwrap();
    assert!(matches!(
        f.action,
        Action::History {
            limit: 100,
            since: None,
            ..
        }
    ));
    let f = ClientFrame::parse(r#"{"action":"history","channel":"room:a","limit":5}"#).unwrap();
    assert!(matches!(f.action, Action::History { limit: 5, .. }));
    assert!(matches!(
        ClientFrame::parse(r#"{"action":"auth","token":"abc"}"#)
            .unwrap()
            .action,
        Action::Auth { .. }
    ));
    assert!(matches!(
        ClientFrame::parse(r#"{"action":"presence","channel":"x"}"#)
            .unwrap()
            .action,
        Action::Presence { .. }
    ));
    assert!(matches!(
        ClientFrame::parse(r#"{"action":"unsubscribe","channel":"x"}"#)
            .unwrap()
            .action,
        Action::Unsubscribe { .. }
    ));
}

#[test]
fn bad_frames_echo_string_id() {
    assert_eq!(err("not json").id, None);
    assert_eq!(err("[1,2]").id, None);
    let e = err(r#"{"id":"7","action":"nope"}"#);
    assert_eq!(e.id.as_deref(), Some("7"));
    assert!(e.message.contains("unknown action"));
    let e = err(r#"{"id":"8","action":"subscribe"}"#);
    assert_eq!(e.id.as_deref(), Some("8"));
    assert!(e.message.contains("channel"));
    let e = err(r#"{"id":"9","action":"subscribe","channel":"bad name"}"#);
    assert!(e.message.contains("bad channel name"));
    assert!(err(r#"{"action":"publish","channel":"a"}"#)
        .message
        .contains("data"));
    assert!(err(r#"{"action":"history","channel":"a","limit":0}"#)
        .message
        .contains("limit"));
    assert!(err(r#"{"action":"history","channel":"a","limit":101}"#)
        .message
        .contains("limit"));
    assert!(
        err(r#"{"action":"subscribe","channel":"a","since":{"seq":-1,"epoch":"x"}}"#)
            .message
            .contains("since")
    );
    assert!(err(r#"{"action":5}"#).message.contains("action"));
    assert!(err(r#"{"id":""}"#).message.contains("id"));
    let long = "x".repeat(65);
    let e = err(&format!(r#"{{"id":"{long}","action":"ping"}}"#));
    assert_eq!(e.id.as_deref(), Some(long.as_str()));
    assert!(err(r#"{"id":5,"action":"ping"}"#).id.is_none());
    // Frames the JSON parser gives up on still echo their id.
    let deep = format!(
        r#"{{"id":"d","action":"publish","data":{}0{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(err(&deep).id.as_deref(), Some("d"));
    assert_eq!(err(r#"{"id":"n","data":1e400}"#).id.as_deref(), Some("n"));
    assert_eq!(
        err(r#"{"id":"s","data":"\udc00"}"#).id.as_deref(),
        Some("s")
    );
}

#[test]
fn server_frames_round_trip_fixtures() {
    let fixtures = [
        json!({"type":"pong","id":"1","ts":5,"connection":"abc="}),
        json!({"type":"subscribed","channel":"a","seq":0,"epoch":"e","recovered":true}),
        json!({"type":"unsubscribed","channel":"a"}),
        json!({"type":"ack","id":"p","channel":"a","seq":2,"duplicate":false}),
        json!({"type":"message","channel":"a","seq":2,"epoch":"e","data":{"k":1},"from":"alice","ts":9,"id":"p"}),
        json!({"type":"history","channel":"a","epoch":"e","complete":true,"messages":[
            {"type":"message","channel":"a","seq":1,"epoch":"e","data":null,"from":"bob","ts":1}]}),
        json!({"type":"presence","channel":"a","members":[{"user":"alice","connections":2}],"complete":true}),
        json!({"type":"presence","channel":"a","members":[],"complete":false,"cursor":"c9="}),
        json!({"type":"authed","exp":100}),
        json!({"type":"reconnect","reason":"drain","after_ms":10}),
        json!({"type":"error","id":"x","code":"limit_exceeded","message":"m"}),
    ];
    for f in fixtures {
        let frame: ServerFrame = serde_json::from_value(f.clone()).unwrap();
        let back: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(back, f);
    }
}

#[test]
fn error_codes_on_the_wire() {
    let all = [
        (ErrorCode::BadRequest, "bad_request"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::TooLarge, "too_large"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::LimitExceeded, "limit_exceeded"),
        (ErrorCode::Internal, "internal"),
    ];
    for (code, wire) in all {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(wire));
        assert_eq!(
            serde_json::from_value::<ErrorCode>(json!(wire)).unwrap(),
            code
        );
    }
}
