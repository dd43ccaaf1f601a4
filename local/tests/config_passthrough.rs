//! wsfn-local passes exactly the configuration table's variables
//! (`wsfn::config::VARS`) from its own environment to the functions, over
//! what the template sets, and nothing else of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use wsfn::config::VARS;
use wsfn_local::invoker::function_env;
use wsfn_local::template::FunctionSpec;

#[test]
fn every_configuration_variable_and_nothing_else_passes_through() {
    let spec = FunctionSpec {
        logical_id: "MessageFunction".into(),
        binary: "message".into(),
        env: BTreeMap::from([("TABLE_NAME".to_string(), "from-template".to_string())]),
        policies: Vec::new(),
        name: None,
        memory_mb: 256,
        timeout: Duration::from_secs(10),
    };
    let process = |name: &str| Some(format!("process-{name}"));
    let (env, _) = function_env(&spec, &process, "http://127.0.0.1:3001/local");
    for v in VARS {
        assert_eq!(
            env.get(v.name).map(String::as_str),
            Some(format!("process-{}", v.name).as_str()),
            "{} is not passed through",
            v.name
        );
    }
    let passed: Vec<_> = env
        .iter()
        .filter(|(_, value)| value.starts_with("process-"))
        .map(|(k, _)| k.as_str())
        .filter(|k| !VARS.iter().any(|v| v.name == *k))
        .collect();
    assert!(
        passed.is_empty(),
        "passed but not configuration: {passed:?}"
    );
}
