//! wsfn-local's developer endpoints check what they parse: the dev token
//! endpoint takes an object only (not an array read by position), with a
//! `sub` the handshake accepts and patterns that parse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{http, opts, Local};

#[tokio::test]
async fn the_token_endpoint_takes_only_a_valid_object() {
    let local = Local::start(opts()).await;
    let addr = local.running().addr;
    let (status, body) = http(addr, "POST", "/_wsfn/token", r#"{"sub":"alice","ttl":60}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string());
    for bad in [
        r#"["x", 60, ["*"], ["*"]]"#,
        r#"{"sub":"@server"}"#,
        r#"{"sub":"a","publish":["no spaces"]}"#,
        r#"{"sub":"a","ttl":0}"#,
        "not json",
    ] {
        let (status, body) = http(addr, "POST", "/_wsfn/token", bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].is_string(), "{bad}: {body}");
    }
}
