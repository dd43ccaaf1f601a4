//! wsfn's SigV4 for management API calls signs exactly as the `aws-sigv4`
//! crate (the SDK's signer) does for the same request: same canonical URI
//! for ids with `=`, `+`, `/`, `-`, `_`, with and without a session token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use wsfn::sigv4::{amz_date, authorization, sha256_hex, uri_encode, Request, SigningKey};

fn reference(host: &str, path: &str, secs: u64, token: Option<&str>, body: &[u8]) -> String {
    let creds = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_string),
        None,
        "test",
    );
    let identity: Identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("execute-api")
        .time(UNIX_EPOCH + Duration::from_secs(secs))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new(
        "POST",
        format!("https://{host}{path}"),
        [("host", host)].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (_, signature) = sign(req, &params).unwrap().into_parts();
    signature
}

#[test]
fn signs_like_the_sdk() {
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    let secs = 1_795_887_343;
    let date = amz_date(secs);
    let key = SigningKey::derive(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &date[..8],
        "eu-west-1",
        "execute-api",
    );
    let body = br#"{"type":"message","seq":1}"#;
    for id in ["L0SM9cOFvHcCIhw=", "GKrc-cWoIAMCJvA=", "a+b/c_d=", "plain"] {
        for token in [None, Some("FwoGZXIvYXdzEJr//////////wEaD")] {
            let path = format!("/prod/@connections/{}", uri_encode(id));
            let ours = authorization(
                &key,
                "AKIDEXAMPLE",
                &Request {
                    method: "POST",
                    host,
                    path: &path,
                    amz_date: &date,
                    session_token: token,
                    body_sha256: &sha256_hex(body),
                },
            );
            let theirs = reference(host, &path, secs, token, body);
            assert!(
                ours.ends_with(&format!("Signature={theirs}")),
                "{id} token={token:?}: {ours} vs {theirs}"
            );
        }
    }
}
