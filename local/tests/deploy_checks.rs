//! What the first real deploy meets, checked on the rendered template (as
//! CloudFormation would create it), `samconfig.toml` and the README's
//! deploy commands: the architecture built is the one deployed, alarms can
//! reach someone, ARN parameters have patterns, the account-wide logging
//! role outlives the stack, and a plain `sam deploy` after each documented
//! override still passes the Rules and keeps the override.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use serde_json::Value;
use wsfn_local::template::{render, Deployment};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap()
}

/// `Key=Value Key2="Value 2"` as SAM splits `parameter_overrides`.
fn overrides(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("Key=Value");
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"').expect("closing quote");
                (&q[..end], &q[end + 1..])
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        out.insert(key.trim().to_string(), value.to_string());
        rest = next.trim();
    }
    out
}

/// The `parameter_overrides` one command of one samconfig environment gets
/// (its own section, else the environment's global one).
fn samconfig_overrides(env: &str, command: &str) -> HashMap<String, String> {
    let config: toml::Table = read("samconfig.toml").parse().unwrap();
    let section = |name: &str| {
        config
            .get(env)
            .and_then(|e| e.get(name))
            .and_then(|c| c.get("parameters"))
            .and_then(|p| p.get("parameter_overrides"))
            .and_then(|o| o.as_str())
            .map(str::to_string)
    };
    overrides(
        &section(command)
            .or_else(|| section("global"))
            .unwrap_or_default(),
    )
}

fn deploy(params: &HashMap<String, String>) -> Deployment {
    render(&read("template.yaml"), params).unwrap_or_else(|e| panic!("{params:?}: {e}"))
}

fn given(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut p = samconfig_overrides("default", "deploy");
    for (k, v) in pairs {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

#[test]
fn the_architecture_built_is_the_one_deployed() {
    let config: toml::Table = read("samconfig.toml").parse().unwrap();
    for env in config.keys().filter(|k| *k != "version") {
        let build = samconfig_overrides(env, "build");
        let deploy = samconfig_overrides(env, "deploy");
        let arch = build.get("Architecture");
        assert!(
            arch.is_some(),
            "samconfig [{env}]: sam build names no Architecture"
        );
        assert_eq!(
            arch,
            deploy.get("Architecture"),
            "samconfig [{env}]: build and deploy differ"
        );
    }
    // A deploy that names none fails instead of picking one for binaries
    // built for the other.
    let e = render(&read("template.yaml"), &HashMap::new()).unwrap_err();
    assert!(
        e.to_string().contains("[Architecture] must have values"),
        "{e}"
    );
    // The README's commands pair their environments.
    let readme = read("README.md");
    for line in readme
        .lines()
        .filter(|l| l.contains("sam build --config-env"))
    {
        let env = line
            .split("--config-env ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            line.contains(&format!("sam deploy --config-env {env}")),
            "{line}"
        );
    }
}

/// The documented `sam deploy --parameter-overrides …` commands.
fn documented_overrides() -> Vec<HashMap<String, String>> {
    let readme = read("README.md");
    let v: Vec<_> = readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sam deploy --parameter-overrides "))
        .map(overrides)
        .collect();
    assert!(v.len() >= 2, "the README documents overrides");
    v
}

#[test]
fn a_plain_deploy_after_each_documented_override_passes_and_keeps_it() {
    for cli in documented_overrides() {
        assert!(
            cli.contains_key("Architecture"),
            "{cli:?}: a command-line list replaces samconfig's, name Architecture"
        );
        // First deploy with the defaults, then the documented override (its
        // list replaces samconfig's; the rest keep their previous values).
        let first = deploy(&given(&[]));
        let mut stack: HashMap<String, String> = first.parameters.into_iter().collect();
        stack.extend(cli.clone());
        let after = deploy(&stack);
        // Then a plain `sam deploy`: samconfig's list, previous values for the rest.
        let mut plain: HashMap<String, String> = after.parameters.into_iter().collect();
        plain.extend(samconfig_overrides("default", "deploy"));
        let again = deploy(&plain);
        for (k, v) in &cli {
            assert_eq!(&again.parameters[k], v, "a plain deploy changed {k}");
        }
    }
}

#[test]
fn alarms_can_reach_someone() {
    let d = deploy(&given(&[("AlarmEmail", "ops@example.com")]));
    let alarms: Vec<_> = d.of_type("AWS::CloudWatch::Alarm").collect();
    assert!(alarms.len() >= 8, "{} alarms", alarms.len());
    for (id, a) in &alarms {
        assert_eq!(
            a["Properties"]["AlarmActions"],
            serde_json::json!(["AlarmTopic"]),
            "{id}"
        );
    }
    let topic = &d.resources["AlarmTopic"]["Properties"];
    let key = topic["KmsMasterKeyId"].as_str().unwrap();
    assert!(
        !key.starts_with("alias/aws/"),
        "an AWS managed key cannot grant CloudWatch: {key}"
    );
    let grants = |policy: &Value, service: &str, action: &str| {
        policy["Statement"].as_array().unwrap().iter().any(|s| {
            s["Effect"] == "Allow"
                && s["Principal"]["Service"] == service
                && match &s["Action"] {
                    Value::String(a) => a == action,
                    Value::Array(list) => list.iter().any(|a| a == action),
                    _ => false,
                }
        })
    };
    let key_policy = &d.resources[key]["Properties"]["KeyPolicy"];
    for action in ["kms:Decrypt", "kms:GenerateDataKey*"] {
        assert!(
            grants(key_policy, "cloudwatch.amazonaws.com", action),
            "{action}"
        );
    }
    let (_, topic_policy) = d
        .of_type("AWS::SNS::TopicPolicy")
        .find(|(_, p)| p["Properties"]["Topics"] == serde_json::json!(["AlarmTopic"]))
        .expect("a policy for the alarm topic");
    assert!(grants(
        &topic_policy["Properties"]["PolicyDocument"],
        "cloudwatch.amazonaws.com",
        "sns:Publish"
    ));
    // Pushes are watched in every function that pushes.
    let pushed = serde_json::to_string(&d.resources["PushFailuresAlarm"]).unwrap();
    for f in ["message", "publish", "fanout"] {
        assert!(pushed.contains(&format!("\"Value\":\"{f}\"")), "{f}");
    }
    // Without an address: no topic, no key, alarms without actions.
    let d = deploy(&given(&[]));
    assert!(!d.resources.contains_key("AlarmTopic") && !d.resources.contains_key("AlarmTopicKey"));
    for (id, a) in d.of_type("AWS::CloudWatch::Alarm") {
        assert!(a["Properties"].get("AlarmActions").is_none(), "{id}");
    }
}

#[test]
fn arn_parameters_have_patterns_that_refuse_partial_arns() {
    let template: serde_yaml::Value = serde_yaml::from_str(&read("template.yaml")).unwrap();
    let params = template["Parameters"].as_mapping().unwrap();
    let cases: HashMap<&str, (&str, &[&str])> = HashMap::from([
        (
            "JwtSecretArn",
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn/jwt-AbC123",
                &[
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn/jwt",
                    "wsfn/jwt",
                ][..],
            ),
        ),
        (
            "JwtSecretKmsKeyArn",
            (
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                &["alias/wsfn", "1234abcd-12ab-34cd-56ef-1234567890ab"][..],
            ),
        ),
        (
            "HookSecretArn",
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn/hooks-AbC123",
                &[
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn/hooks",
                    "wsfn/hooks",
                ][..],
            ),
        ),
        (
            "HookFunctionArns",
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:a,arn:aws:lambda:eu-west-1:123456789012:function:b:live",
                &[
                    "app-authz",
                    "arn:aws:lambda:eu-west-1:123456789012:function:a,b",
                    "arn:aws:lambda:eu-west-1:123456789012:function:a,",
                ][..],
            ),
        ),
        (
            "CertificateArn",
            (
                "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab",
                &["example.com"][..],
            ),
        ),
    ]);
    let arn_params: Vec<&str> = params
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| k.ends_with("Arn") || k.ends_with("Arns"))
        .collect();
    assert_eq!(arn_params.len(), cases.len(), "{arn_params:?}");
    for name in arn_params {
        let pattern = params[name]["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no AllowedPattern"));
        let re = regex::Regex::new(pattern).unwrap();
        let (good, bad) = cases[name];
        assert!(re.is_match(good) && re.is_match(""), "{name}: {good}");
        for b in bad {
            assert!(!re.is_match(b), "{name} accepts {b}");
        }
    }
}

#[test]
fn the_account_logging_role_outlives_the_stack_or_is_left_alone() {
    let d = deploy(&given(&[]));
    for id in ["ApiGatewayAccount", "ApiGatewayCloudWatchRole"] {
        assert_eq!(d.resources[id]["DeletionPolicy"], "Retain", "{id}");
        assert_eq!(d.resources[id]["UpdateReplacePolicy"], "Retain", "{id}");
    }
    let d = deploy(&given(&[("ApiGatewayAccountRole", "existing")]));
    assert_eq!(d.of_type("AWS::ApiGateway::Account").count(), 0);
    assert!(!d.resources.contains_key("ApiGatewayCloudWatchRole"));
    // Nothing depends on a resource that is not there.
    for (id, r) in &d.resources {
        for dep in r["DependsOn"].as_array().into_iter().flatten() {
            assert!(
                d.resources.contains_key(dep.as_str().unwrap()),
                "{id} → {dep}"
            );
        }
    }
}

#[test]
fn route_changes_reach_the_stage_and_reservations_fit_any_account() {
    let d = deploy(&given(&[("MessageReservedConcurrency", "50")]));
    assert_eq!(d.of_type("AWS::ApiGatewayV2::Deployment").count(), 0);
    let (_, stage) = d.of_type("AWS::ApiGatewayV2::Stage").next().unwrap();
    assert_eq!(stage["Properties"]["AutoDeploy"], true);
    let reserved: Vec<&String> = d
        .of_type("AWS::Serverless::Function")
        .filter(|(_, f)| {
            f["Properties"]
                .get("ReservedConcurrentExecutions")
                .is_some()
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(reserved, vec!["MessageFunction"]);
}

/// Every README deploy command before the first that needs an account runs
/// in `scripts/deploy-check.sh` (which `.ci/run` calls) as written.
#[test]
fn the_readme_deploy_commands_run_in_ci() {
    let readme = read("README.md");
    let section = &readme[readme.find("## Deploying").unwrap()..];
    let block = section
        .split("```sh")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let script = read("scripts/deploy-check.sh");
    let mut checked = 0;
    for line in block.lines() {
        let command = line.split(" # ").next().unwrap().trim();
        if command.starts_with("aws configure") {
            break;
        }
        for part in command.split("&&").map(str::trim).filter(|p| !p.is_empty()) {
            assert!(
                script.lines().any(|l| l.contains(part)),
                "scripts/deploy-check.sh does not run `{part}`"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} commands");
}
