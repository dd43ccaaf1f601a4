//! The `wsfn-local` binary's subcommands: `token` and `invoke`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_wsfn-local");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new(EXE);
    c.args(args).current_dir(ROOT).env_remove("JWT_SECRET");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn token_is_signed_with_the_dev_secret_and_carries_capabilities() {
    let (ok, out) = run(
        &[
            "token",
            "--sub",
            "alice",
            "--subscribe",
            "room:*",
            "--publish",
            "room:lobby",
        ],
        &[],
    );
    assert!(ok);
    let verifier = wsfn::auth::Verifier::new(
        wsfn::auth::JwtKey::hs256(wsfn::testkit::DEV_SECRET).unwrap(),
        None,
        None,
        0,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = rt.block_on(verifier.verify(out.trim())).unwrap();
    assert_eq!(
        (p.sub.as_str(), p.subscribe.clone(), p.publish.clone()),
        (
            "alice",
            vec!["room:*".to_string()],
            vec!["room:lobby".to_string()]
        )
    );
}

#[test]
fn invoke_runs_a_function_with_an_event_file() {
    let (ok, out) = run(
        &[
            "invoke",
            "ConnectFunction",
            "-e",
            "events/connect-subprotocol.json",
        ],
        &[("JWT_SECRET", "sample-events-secret")],
    );
    assert!(ok, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["statusCode"], 200);
    assert_eq!(r["headers"]["sec-websocket-protocol"], "wsfn.v1");
    // By route key, and with the dev secret the sample token is refused.
    let (ok, out) = run(
        &[
            "invoke",
            "$connect",
            "-e",
            "events/connect-subprotocol.json",
        ],
        &[],
    );
    assert!(ok, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["statusCode"], 401);
    let (ok, _) = run(&["invoke", "$connect", "-e", "events/missing.json"], &[]);
    assert!(!ok, "a missing event file fails");
}

#[test]
fn invoke_runs_the_publish_function_with_its_sample_event() {
    let (ok, out) = run(
        &["invoke", "PublishFunction", "-e", "events/publish.json"],
        &[],
    );
    assert!(ok, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        r["results"][0],
        serde_json::json!({"channel": "room:lobby", "seq": 1, "duplicate": false})
    );
    assert_eq!(r["results"][2]["error"]["code"], "bad_request");
}

#[test]
fn invoke_runs_the_fanout_function_with_its_sample_event() {
    let (ok, out) = run(
        &["invoke", "FanoutFunction", "-e", "events/fanout.json"],
        &[],
    );
    assert!(ok, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    // A fresh embedded store: nobody subscribed, nothing to push, no split.
    assert_eq!(
        r,
        serde_json::json!({"delivered": 0, "gone": 0, "failed": 0, "undelivered": 0, "shards": 0})
    );
}
