//! The template as CloudFormation would deploy it for a set of parameter
//! values: the checks it makes first (every parameter has a value, values
//! among `AllowedValues`, the `Rules`), then the resources whose
//! `Condition` holds with every intrinsic resolved (`!Ref` of a resource is
//! its logical id, `!GetAtt` `Id.Attr` or a local ARN). The deploy checks
//! (`local/tests/deploy_checks.rs`) read IAM, alarms and topics from it.

use std::collections::{BTreeMap, HashMap};

use serde_yaml::Value;

use super::resolve::as_str;
use super::{err, resolver, rules, TemplateError};

/// What one deploy would create.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Every parameter's value (given, else its default).
    pub parameters: BTreeMap<String, String>,
    /// Logical id → the resource (`Type`, `Properties`, ...), resolved.
    pub resources: BTreeMap<String, serde_json::Value>,
}

impl Deployment {
    /// The resources of `kind` (`AWS::CloudWatch::Alarm`), by logical id.
    pub fn of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a serde_json::Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r["Type"] == kind)
    }
}

/// Renders `text` for the parameter values `given` (the others keep their
/// defaults), failing as CloudFormation would before creating anything.
pub fn render(text: &str, given: &HashMap<String, String>) -> Result<Deployment, TemplateError> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| TemplateError::Read {
        path: String::new(),
        reason: e.to_string(),
    })?;
    let empty = serde_yaml::Mapping::new();
    let mut parameters = BTreeMap::new();
    for (k, v) in doc
        .get("Parameters")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty)
    {
        let name = k.as_str().unwrap_or_default().to_string();
        let value = match (given.get(&name), v.get("Default").and_then(as_str)) {
            (Some(x), _) => x.clone(),
            (None, Some(d)) => d,
            (None, None) => {
                return Err(err(
                    "Parameters",
                    format!("Parameters: [{name}] must have values"),
                ))
            }
        };
        if let Some(allowed) = v.get("AllowedValues").and_then(Value::as_sequence) {
            if !allowed.iter().filter_map(as_str).any(|a| a == value) {
                return Err(err(
                    &name,
                    format!("`{value}` is not one of its AllowedValues"),
                ));
            }
        }
        parameters.insert(name, value);
    }
    let r = resolver(&doc, given, &empty)?;
    rules::check(&doc, &r)?;
    let mut resources = BTreeMap::new();
    for (id, body) in r.resources {
        let id = id.as_str().unwrap_or_default().to_string();
        if let Some(c) = body.get("Condition").and_then(Value::as_str) {
            if !r.condition(c, &id)? {
                continue;
            }
        }
        let Some(resolved) = r.resolve_tree(body, &id)? else {
            continue;
        };
        let json = serde_json::to_value(&resolved).map_err(|e| err(&id, e.to_string()))?;
        resources.insert(id, json);
    }
    Ok(Deployment {
        parameters,
        resources,
    })
}
