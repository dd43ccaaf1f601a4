//! What CloudFormation checks before it deploys (`Rules`: a failed assertion
//! stops the deploy with its description) and what each function is allowed
//! to do (its `Policies`, resolved).

use serde_yaml::Value;

use super::resolve::{as_str, Resolver};
use super::{err, TemplateError};

/// One resolved IAM policy statement of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Allow` or `Deny`.
    pub effect: String,
    /// Actions (`dynamodb:GetItem`, ...).
    pub actions: Vec<String>,
    /// Resource ARNs, resolved.
    pub resources: Vec<String>,
}

/// Evaluates the template's `Rules` as CloudFormation does before a deploy:
/// for each rule whose `RuleCondition` holds (or that has none), every
/// `Assert` must hold; the first that does not fails with its
/// `AssertDescription`.
pub(crate) fn check(doc: &Value, r: &Resolver<'_>) -> Result<(), TemplateError> {
    let Some(rules) = doc.get("Rules").and_then(Value::as_mapping) else {
        return Ok(());
    };
    for (name, rule) in rules {
        let name = name.as_str().unwrap_or_default();
        let applies = match rule.get("RuleCondition") {
            Some(c) => r.truth(c, name)?,
            None => true,
        };
        if !applies {
            continue;
        }
        let assertions = rule
            .get("Assertions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| err(name, "a rule needs Assertions"))?;
        for a in assertions {
            let assert = a
                .get("Assert")
                .ok_or_else(|| err(name, "an assertion needs Assert"))?;
            if !r.truth(assert, name)? {
                let why = a
                    .get("AssertDescription")
                    .and_then(as_str)
                    .unwrap_or_else(|| "assertion failed".into());
                return Err(err(name, format!("rule failed: {why}")));
            }
        }
    }
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(s)) => s.iter().filter_map(as_str).collect(),
        Some(other) => as_str(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// A function's inline policy statements (`Policies: - Statement: [...]`),
/// conditions applied and intrinsics resolved. Managed policies and SAM
/// policy templates are listed as a statement with their name as action.
pub(crate) fn statements(
    policies: Option<&Value>,
    r: &Resolver<'_>,
    id: &str,
) -> Result<Vec<Statement>, TemplateError> {
    let Some(policies) = policies else {
        return Ok(Vec::new());
    };
    let Some(Value::Sequence(items)) = r.resolve_tree(policies, id)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in items {
        match &item {
            Value::Mapping(m) if m.contains_key("Statement") => {
                for s in item
                    .get("Statement")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    out.push(Statement {
                        effect: s.get("Effect").and_then(as_str).unwrap_or_default(),
                        actions: strings(s.get("Action")),
                        resources: strings(s.get("Resource")),
                    });
                }
            }
            Value::Mapping(m) => {
                for (k, v) in m {
                    out.push(Statement {
                        effect: "Allow".into(),
                        actions: vec![as_str(k).unwrap_or_default()],
                        resources: strings(Some(v)),
                    });
                }
            }
            other => out.push(Statement {
                effect: "Allow".into(),
                actions: as_str(other).into_iter().collect(),
                resources: Vec::new(),
            }),
        }
    }
    Ok(out)
}
