//! The deployed template rendered for each AuthMode, as CloudFormation
//! would: which values each function receives, what it may do, and which
//! parameter combinations fail the deploy (Rules) instead of the functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use wsfn_local::template::{load, ApiSpec, FunctionSpec, TemplateError};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
const PEM: &str = "-----BEGIN PUBLIC KEY-----\\nMFkw...\\n-----END PUBLIC KEY-----";

fn render(params: &[(&str, &str)]) -> Result<ApiSpec, TemplateError> {
    let o: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load(TEMPLATE, &o)
}

fn functions(spec: &ApiSpec) -> Vec<&FunctionSpec> {
    spec.routes.values().collect()
}

/// Resources a function may call `action` on.
fn allowed(f: &FunctionSpec, action: &str) -> Vec<String> {
    f.policies
        .iter()
        .filter(|s| s.effect == "Allow" && s.actions.iter().any(|a| a == action))
        .flat_map(|s| s.resources.clone())
        .collect()
}

#[test]
fn hs256_default_creates_a_secret_and_passes_only_its_arn() {
    let spec = render(&[]).unwrap();
    for f in functions(&spec) {
        assert_eq!(
            f.env.get("JWT_SECRET_ARN").map(String::as_str),
            Some("JwtSecret"),
            "{}",
            f.logical_id
        );
        assert!(
            !f.env.contains_key("JWT_SECRET"),
            "no plaintext secret in the environment"
        );
        assert!(!f.env.contains_key("JWT_PUBLIC_KEY"));
        assert_eq!(
            allowed(f, "secretsmanager:GetSecretValue"),
            vec!["JwtSecret"],
            "{}",
            f.logical_id
        );
    }
}

#[test]
fn hs256_with_an_existing_secret_reads_that_one_only() {
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn-AbCdEf";
    let spec = render(&[("JwtSecretArn", arn)]).unwrap();
    for f in functions(&spec) {
        assert_eq!(f.env["JWT_SECRET_ARN"], arn);
        assert_eq!(allowed(f, "secretsmanager:GetSecretValue"), vec![arn]);
    }
}

#[test]
fn public_key_mode_passes_the_key_and_no_secret_access() {
    let spec = render(&[("AuthMode", "public-key"), ("JwtPublicKey", PEM)]).unwrap();
    for f in functions(&spec) {
        assert_eq!(f.env["JWT_PUBLIC_KEY"], PEM);
        assert!(!f.env.contains_key("JWT_SECRET_ARN"));
        assert!(allowed(f, "secretsmanager:GetSecretValue").is_empty());
    }
}

#[test]
fn jwks_mode_from_a_cognito_pool_derives_url_and_issuer() {
    let spec = render(&[
        ("AuthMode", "jwks"),
        ("CognitoUserPoolId", "eu-west-1_AbC123"),
    ])
    .unwrap();
    for f in functions(&spec) {
        let pool = "https://cognito-idp.local.amazonaws.com/eu-west-1_AbC123";
        assert_eq!(
            f.env["JWT_JWKS_URL"],
            format!("{pool}/.well-known/jwks.json")
        );
        assert_eq!(f.env["JWT_ISSUER"], pool);
        assert!(!f.env.contains_key("JWT_SECRET_ARN") && !f.env.contains_key("JWT_PUBLIC_KEY"));
        assert!(allowed(f, "secretsmanager:GetSecretValue").is_empty());
    }
    let url = "https://example.auth0.com/.well-known/jwks.json";
    let spec = render(&[
        ("AuthMode", "jwks"),
        ("JwtJwksUrl", url),
        ("JwtIssuer", "https://example.auth0.com/"),
    ])
    .unwrap();
    for f in functions(&spec) {
        assert_eq!(f.env["JWT_JWKS_URL"], url);
        assert_eq!(f.env["JWT_ISSUER"], "https://example.auth0.com/");
    }
}

#[test]
fn a_missing_or_stray_value_fails_the_deploy() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("AuthMode", "jwks")],
            "needs CognitoUserPoolId or JwtJwksUrl",
        ),
        (
            &[
                ("AuthMode", "jwks"),
                ("JwtJwksUrl", "https://x/jwks"),
                ("CognitoUserPoolId", "eu-west-1_A"),
            ],
            "not both",
        ),
        (
            &[("JwtJwksUrl", "https://x/jwks")],
            "only used with AuthMode jwks",
        ),
        (&[("AuthMode", "public-key")], "needs JwtPublicKey"),
        (
            &[("JwtPublicKey", PEM)],
            "only used with AuthMode public-key",
        ),
        (
            &[
                ("AuthMode", "public-key"),
                ("JwtPublicKey", PEM),
                ("JwtSecretArn", "arn:x"),
            ],
            "only used with AuthMode hs256",
        ),
    ];
    for (params, expected) in cases {
        match render(params) {
            Err(e) => assert!(e.to_string().contains(expected), "{params:?}: {e}"),
            Ok(_) => panic!("{params:?} deployed"),
        }
    }
}

#[test]
fn each_function_may_do_what_its_store_calls_need() {
    let spec = render(&[]).unwrap();
    let table = "arn:aws:dynamodb:local:000000000000:table/ConnectionsTable";
    let need: [(&str, &[&str], bool); 3] = [
        // $connect: one transaction (Update, Put); at the limit it reads
        // holders, frees slots and removes gone connections, and asks the
        // management API (GetConnection).
        (
            "$connect",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:BatchWriteItem",
            ],
            true,
        ),
        (
            "$disconnect",
            &[
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            ],
            false,
        ),
        (
            "$default",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
            ],
            true,
        ),
    ];
    for (route, actions, manages) in need {
        let f = &spec.routes[route];
        for action in actions {
            assert_eq!(allowed(f, action), vec![table], "{route} {action}");
        }
        assert_eq!(
            !allowed(f, "execute-api:ManageConnections").is_empty(),
            manages,
            "{route}"
        );
        assert!(
            allowed(f, "dynamodb:Scan").is_empty(),
            "{route} never scans"
        );
    }
}
