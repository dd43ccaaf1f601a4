//! The deployed template rendered for each AuthMode, as CloudFormation
//! would: which values each function receives, what it may do, and which
//! parameter combinations fail the deploy (Rules) instead of the functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use wsfn::functions::Function;
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

fn kind(f: &FunctionSpec) -> Function {
    Function::from_binary(&f.binary).expect("a wsfn function")
}

/// The functions that verify tokens: they alone get the key.
fn functions(spec: &ApiSpec) -> Vec<&FunctionSpec> {
    let v: Vec<&FunctionSpec> = spec
        .functions
        .values()
        .filter(|f| kind(f).verifies_tokens())
        .collect();
    assert_eq!(v.len(), 2, "connect and message");
    v
}

/// The functions that verify no tokens: no key, no secret, in any mode.
fn keyless(spec: &ApiSpec) {
    for f in spec
        .functions
        .values()
        .filter(|f| !kind(f).verifies_tokens())
    {
        for var in [
            "JWT_SECRET_ARN",
            "JWT_PUBLIC_KEY",
            "JWT_JWKS_URL",
            "JWT_ISSUER",
            "ROLE_CAPABILITIES",
        ] {
            assert!(!f.env.contains_key(var), "{} gets {var}", f.logical_id);
        }
        assert!(
            allowed(f, "secretsmanager:GetSecretValue").is_empty(),
            "{} may read the secret",
            f.logical_id
        );
        assert!(allowed(f, "kms:Decrypt").is_empty(), "{}", f.logical_id);
    }
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
    keyless(&spec);
}

#[test]
fn hs256_with_an_existing_secret_reads_that_one_only() {
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn-AbCdEf";
    let spec = render(&[("JwtSecretArn", arn)]).unwrap();
    for f in functions(&spec) {
        assert_eq!(f.env["JWT_SECRET_ARN"], arn);
        assert_eq!(allowed(f, "secretsmanager:GetSecretValue"), vec![arn]);
        assert!(allowed(f, "kms:Decrypt").is_empty(), "AWS managed key");
    }
    keyless(&spec);
    // A secret under a customer managed key: the verifying functions may
    // decrypt through Secrets Manager with that key, and only them.
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let spec = render(&[("JwtSecretArn", arn), ("JwtSecretKmsKeyArn", key)]).unwrap();
    for f in functions(&spec) {
        assert_eq!(allowed(f, "kms:Decrypt"), vec![key]);
    }
    keyless(&spec);
}

#[test]
fn public_key_mode_passes_the_key_and_no_secret_access() {
    let spec = render(&[("AuthMode", "public-key"), ("JwtPublicKey", PEM)]).unwrap();
    for f in functions(&spec) {
        assert_eq!(f.env["JWT_PUBLIC_KEY"], PEM);
        assert!(!f.env.contains_key("JWT_SECRET_ARN"));
        assert!(allowed(f, "secretsmanager:GetSecretValue").is_empty());
    }
    keyless(&spec);
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
    keyless(&spec);
}

#[test]
fn a_missing_or_stray_value_fails_the_deploy() {
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";
    let cases: [(&[(&str, &str)], &str); 8] = [
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
        (
            &[("JwtSecretKmsKeyArn", key)],
            "JwtSecretKmsKeyArn is the key of your own secret",
        ),
        (
            &[
                ("AuthMode", "public-key"),
                ("JwtPublicKey", PEM),
                ("JwtSecretKmsKeyArn", key),
            ],
            "JwtSecretKmsKeyArn is the key of your own secret",
        ),
    ];
    for (params, expected) in cases {
        match render(params) {
            Err(e) => assert!(e.to_string().contains(expected), "{params:?}: {e}"),
            Ok(_) => panic!("{params:?} deployed"),
        }
    }
}

/// Each function's IAM policy grants exactly its table
/// (`wsfn::functions::Function::actions`, which `shared/tests/iam.rs`
/// checks against the calls the code makes), on exactly its resources; the
/// secret and its key are granted by mode (the tests above).
#[test]
fn each_function_may_do_exactly_what_its_table_says() {
    let spec = render(&[]).unwrap();
    let table = "arn:aws:dynamodb:local:000000000000:table/ConnectionsTable";
    let connections = "arn:aws:execute-api:local:000000000000:WebSocketApi/prod/*/@connections/*";
    let fanout = "arn:aws:lambda:local:000000000000:function:wsfn-local-fanout";
    assert_eq!(spec.functions.len(), Function::ALL.len());
    for f in spec.functions.values() {
        let mut granted: Vec<String> = f
            .policies
            .iter()
            .filter(|s| s.effect == "Allow")
            .flat_map(|s| s.actions.clone())
            .filter(|a| a != "secretsmanager:GetSecretValue" && a != "kms:Decrypt")
            .collect();
        granted.sort();
        granted.dedup();
        let want: Vec<String> = kind(f).actions().into_iter().map(str::to_string).collect();
        assert_eq!(
            granted, want,
            "{}: template (left) vs table (right)",
            f.logical_id
        );
        for action in &granted {
            let on = allowed(f, action);
            let expected = match action.split(':').next() {
                Some("dynamodb") => table,
                Some("execute-api") => connections,
                Some("lambda") => fanout,
                _ => panic!("{}: unexpected {action}", f.logical_id),
            };
            assert_eq!(on, vec![expected], "{} {action}", f.logical_id);
        }
    }
}

/// With hooks, `$connect` and `$default` get `HOOKS` and may invoke exactly
/// the hook functions named and read the hook secret; nothing else changes,
/// and contradicting hook parameters fail the deploy.
#[test]
fn hooks_grant_exactly_their_functions_and_secret() {
    let a = "arn:aws:lambda:eu-west-1:123456789012:function:app-authz";
    let b = "arn:aws:lambda:eu-west-1:123456789012:function:app-rpc";
    let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hooks-AbC123";
    let hooks =
        r#"{"subscribe": "app-authz", "rpc": "app-rpc", "publish": "https://app.example.com/p"}"#;
    let arns = format!("{a},{b}");
    let spec = render(&[
        ("Hooks", hooks),
        ("HookFunctionArns", &arns),
        ("HookSecretArn", secret),
        ("HookTimeoutMs", "1500"),
    ])
    .unwrap();
    for f in spec.functions.values() {
        let hooked = kind(f).verifies_tokens();
        let invoke: Vec<String> = allowed(f, "lambda:InvokeFunction")
            .into_iter()
            .filter(|r| r.contains(":function:app-"))
            .collect();
        let secrets = allowed(f, "secretsmanager:GetSecretValue");
        if hooked {
            assert_eq!(f.env.get("HOOKS").map(String::as_str), Some(hooks));
            assert_eq!(f.env.get("HOOK_FUNCTIONS"), Some(&arns));
            assert_eq!(
                f.env.get("HOOK_SECRET_ARN").map(String::as_str),
                Some(secret)
            );
            assert_eq!(
                f.env.get("HOOK_TIMEOUT_MS").map(String::as_str),
                Some("1500")
            );
            assert_eq!(
                invoke,
                vec![a.to_string(), b.to_string()],
                "{}",
                f.logical_id
            );
            assert!(secrets.contains(&secret.to_string()), "{}", f.logical_id);
        } else {
            assert!(!f.env.contains_key("HOOKS"), "{}", f.logical_id);
            assert!(invoke.is_empty() && !secrets.contains(&secret.to_string()));
        }
    }
    // No hooks: no hook variable, no hook permission (the table test above).
    let plain = render(&[]).unwrap();
    assert!(plain
        .functions
        .values()
        .all(|f| !f.env.contains_key("HOOKS")
            && !f.env.contains_key("HOOK_SECRET_ARN")
            && !f.env.contains_key("HOOK_FUNCTIONS")));
    for (params, expected) in [
        (vec![("Hooks", hooks)], "Hooks needs HookFunctionArns"),
        (vec![("HookFunctionArns", a)], "only used with Hooks"),
        (vec![("HookSecretArn", secret)], "only used with Hooks"),
    ] {
        match render(&params) {
            Err(e) => assert!(e.to_string().contains(expected), "{params:?}: {e}"),
            Ok(_) => panic!("{params:?} deployed"),
        }
    }
}

/// With an event bus, the functions that cause events get `EVENT_BUS` and
/// may `PutEvents` on exactly that bus; without one, nothing.
#[test]
fn an_event_bus_is_granted_to_exactly_the_functions_that_send() {
    let bus = "arn:aws:events:local:000000000000:event-bus/app-events";
    let spec = render(&[
        ("EventBus", "app-events"),
        ("EventMessageChannels", "room:*"),
    ])
    .unwrap();
    for f in spec.functions.values() {
        let sends = kind(f) != Function::Fanout;
        assert_eq!(
            f.env.get("EVENT_BUS").map(String::as_str),
            Some("app-events")
        );
        assert_eq!(
            f.env.get("EVENT_MESSAGE_CHANNELS").map(String::as_str),
            Some("room:*")
        );
        let put = allowed(f, "events:PutEvents");
        if sends {
            assert_eq!(put, vec![bus.to_string()], "{}", f.logical_id);
        } else {
            assert!(put.is_empty(), "{}", f.logical_id);
        }
    }
    let plain = render(&[]).unwrap();
    for f in plain.functions.values() {
        assert!(!f.env.contains_key("EVENT_BUS"), "{}", f.logical_id);
        assert!(
            allowed(f, "events:PutEvents").is_empty(),
            "{}",
            f.logical_id
        );
    }
    match render(&[("EventMessageChannels", "room:*")]) {
        Err(e) => assert!(e.to_string().contains("needs EventBus"), "{e}"),
        Ok(_) => panic!("message events without a bus deployed"),
    }
}
