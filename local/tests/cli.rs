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

/// Every sample event through the real binary (`invoke --runtime-api`):
/// it answers, and a REPORT line like Lambda's follows.
#[test]
fn every_sample_event_runs_through_the_runtime_api() {
    let endpoint = std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT")
        .expect("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh");
    let mut files: Vec<String> = std::fs::read_dir(format!("{ROOT}/events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    for name in files {
        let function = match name.as_str() {
            n if n.starts_with("connect") => "ConnectFunction",
            n if n.starts_with("disconnect") => "DisconnectFunction",
            n if n.starts_with("message") => "MessageFunction",
            n if n == "publish.json" || n.starts_with("server-") => "PublishFunction",
            "fanout.json" => "FanoutFunction",
            other => panic!("events/{other}: which function?"),
        };
        let event = format!("events/{name}");
        let out = Command::new(EXE)
            .args(["invoke", function, "-e", &event, "--runtime-api"])
            .args(["--dynamodb-endpoint", &endpoint])
            .current_dir(ROOT)
            .env("JWT_SECRET", "sample-events-secret")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stdout} {stderr}");
        let answer: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}: {stdout}"));
        assert!(answer.is_object(), "{name}: {answer}");
        let report = stderr
            .lines()
            .find(|l| l.starts_with("REPORT Duration: "))
            .unwrap_or_else(|| panic!("{name}: no REPORT line in {stderr}"));
        assert!(
            report.contains("Max Memory Used: ") && report.contains("Init Duration: "),
            "{report}"
        );
    }
}

/// `invoke` shows the frames the function pushed: here the reply to a ping
/// from a connection this fresh store has never seen.
#[test]
fn invoke_shows_what_the_function_pushed() {
    let out = Command::new(EXE)
        .args([
            "invoke",
            "MessageFunction",
            "-e",
            "events/message-ping.json",
        ])
        .current_dir(ROOT)
        .env("JWT_SECRET", "sample-events-secret")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("pushed to L0SM9cOFvHcCIhw=: "))
        .unwrap_or_else(|| panic!("no pushed frame in {stderr}"));
    assert!(line.contains(r#""code":"unauthorized""#), "{line}");
}
