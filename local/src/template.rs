//! Reads the SAM template the way the local gateway needs it: the WEBSOCKET
//! API and its route selection expression, each route's function (route →
//! integration → function), parameters with defaults, each function's
//! environment (Globals merged) and the table definition. Intrinsics `!Ref`,
//! `!Sub`, `!GetAtt`, `!Join` (short and long form) are resolved; anything
//! else is an error naming the resource.

use std::collections::{BTreeMap, HashMap};

use serde_yaml::Value;

mod mock;
mod render;
mod resolve;
mod rules;

pub use mock::{MockError, MockRoute, CONTEXT_VARIABLES};
pub use render::{render, Deployment};

use resolve::{as_str, Resolver};
pub use rules::Statement;

/// A template the gateway cannot run, with the resource it failed on.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not readable or not YAML.
    #[error("cannot read template {path}: {reason}")]
    Read {
        /// File path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A resource is missing something or uses what is not supported.
    #[error("template resource `{resource}`: {reason}")]
    Resource {
        /// Logical id.
        resource: String,
        /// What is wrong.
        reason: String,
    },
}

pub(crate) fn err(resource: &str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Resource {
        resource: resource.to_string(),
        reason: reason.into(),
    }
}

/// One Lambda function behind a route.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Logical id (`ConnectFunction`).
    pub logical_id: String,
    /// Cargo binary (`Metadata.BuildProperties.Binary`): which handler runs it.
    pub binary: String,
    /// Environment from the template (Globals merged), intrinsics resolved;
    /// a variable whose value is `AWS::NoValue` is absent.
    pub env: BTreeMap<String, String>,
    /// Inline IAM policy statements, resolved.
    pub policies: Vec<Statement>,
    /// `FunctionName`, resolved, when the template sets one (the Invoke
    /// API finds the function by it too).
    pub name: Option<String>,
    /// `MemorySize` in MB (own, else Globals, else Lambda's 128).
    pub memory_mb: u32,
    /// `Timeout` (own, else Globals, else Lambda's 3 s).
    pub timeout: std::time::Duration,
}

/// The table the functions use.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Logical id; also its name locally unless `TableName` is set.
    pub logical_id: String,
    /// Resolved table name.
    pub name: String,
    /// TTL attribute, if enabled.
    pub ttl_attribute: Option<String>,
}

/// Everything the gateway serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSpec {
    /// Logical id of the API.
    pub api_id: String,
    /// Route selection expression as written (`$request.body.action`).
    pub route_selection_expression: String,
    /// Route key → function.
    pub routes: BTreeMap<String, FunctionSpec>,
    /// Route key → a `MOCK` integration API Gateway answers itself.
    pub mocks: BTreeMap<String, MockRoute>,
    /// Every function of the template by logical id, routed or not (the
    /// Lambda Invoke API reaches them all).
    pub functions: BTreeMap<String, FunctionSpec>,
    /// The DynamoDB table, if the template has one.
    pub table: Option<TableSpec>,
}

impl ApiSpec {
    /// The JSON path the selection expression reads (`["action"]`).
    pub fn selection_path(&self) -> Vec<String> {
        self.route_selection_expression
            .strip_prefix("$request.body.")
            .map(|p| p.split('.').map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// Parses the template at `path`; `overrides` replace parameter defaults.
pub fn load(path: &str, overrides: &HashMap<String, String>) -> Result<ApiSpec, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
        path: path.into(),
        reason: e.to_string(),
    })?;
    parse(&text, overrides).map_err(|e| match e {
        TemplateError::Read { reason, .. } => TemplateError::Read {
            path: path.into(),
            reason,
        },
        other => other,
    })
}

/// The resolver of a parsed template: its parameters (defaults, then
/// `overrides`), the pseudo parameters wsfn-local stands in for, its
/// resources and conditions.
pub(crate) fn resolver<'a>(
    doc: &'a Value,
    overrides: &HashMap<String, String>,
    empty: &'a serde_yaml::Mapping,
) -> Result<Resolver<'a>, TemplateError> {
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| err("Resources", "the template has no Resources"))?;
    let mut params: HashMap<String, String> = HashMap::from([
        ("AWS::Region".into(), "local".into()),
        ("AWS::AccountId".into(), "000000000000".into()),
        ("AWS::StackName".into(), "wsfn-local".into()),
        ("AWS::Partition".into(), "aws".into()),
        ("AWS::URLSuffix".into(), "amazonaws.com".into()),
    ]);
    for (k, v) in doc
        .get("Parameters")
        .and_then(Value::as_mapping)
        .unwrap_or(empty)
    {
        let name = k.as_str().unwrap_or_default().to_string();
        let default = v.get("Default").and_then(as_str).unwrap_or_default();
        params.insert(
            name.clone(),
            overrides.get(&name).cloned().unwrap_or(default),
        );
    }
    Ok(Resolver {
        params,
        resources,
        conditions: doc
            .get("Conditions")
            .and_then(Value::as_mapping)
            .unwrap_or(empty),
    })
}

/// Parses template text.
pub fn parse(text: &str, overrides: &HashMap<String, String>) -> Result<ApiSpec, TemplateError> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| TemplateError::Read {
        path: String::new(),
        reason: e.to_string(),
    })?;
    let empty = serde_yaml::Mapping::new();
    let r = resolver(&doc, overrides, &empty)?;
    let resources = r.resources;
    rules::check(&doc, &r)?;
    let kind = |id: &str| {
        resources
            .get(id)
            .and_then(|v| v.get("Type"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let props = |id: &str| resources.get(id).and_then(|v| v.get("Properties"));

    let apis: Vec<String> = resources
        .keys()
        .filter_map(Value::as_str)
        .filter(|id| {
            kind(id) == "AWS::ApiGatewayV2::Api"
                && props(id)
                    .and_then(|p| p.get("ProtocolType"))
                    .and_then(Value::as_str)
                    == Some("WEBSOCKET")
        })
        .map(str::to_string)
        .collect();
    let api_id = match apis.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(err(
                "Resources",
                "no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET",
            ))
        }
        _ => {
            return Err(err(
                &apis.join(","),
                "more than one WEBSOCKET API; wsfn-local serves one",
            ))
        }
    };
    let rse_value = props(&api_id)
        .and_then(|p| p.get("RouteSelectionExpression"))
        .ok_or_else(|| err(&api_id, "missing RouteSelectionExpression"))?;
    let route_selection_expression = r.resolve(rse_value, &api_id)?;
    if !route_selection_expression.starts_with("$request.body.") {
        return Err(err(&api_id, format!("RouteSelectionExpression `{route_selection_expression}` must be $request.body.<path>")));
    }

    let globals_env = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();

    let global_fn = doc.get("Globals").and_then(|g| g.get("Function")).cloned();
    // A number property of a function, else of Globals.Function.
    let number = |id: &str, name: &str| -> Result<Option<u64>, TemplateError> {
        let v = props(id)
            .and_then(|p| p.get(name))
            .or_else(|| global_fn.as_ref().and_then(|g| g.get(name)));
        match v {
            None => Ok(None),
            Some(v) => {
                let text = match v {
                    Value::Number(n) => n.to_string(),
                    other => r.resolve(other, id)?,
                };
                text.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| err(id, format!("{name} `{text}` is not a number")))
            }
        }
    };

    let function = |id: &str| -> Result<FunctionSpec, TemplateError> {
        if kind(id) != "AWS::Serverless::Function" {
            return Err(err(
                id,
                "routes must integrate with an AWS::Serverless::Function",
            ));
        }
        let binary = resources[id]
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| err(id, "missing Metadata.BuildProperties.Binary"))?
            .to_string();
        let mut env = BTreeMap::new();
        let own = props(id)
            .and_then(|p| p.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        for (k, v) in globals_env.iter().chain(own.iter()) {
            let name = k.as_str().unwrap_or_default().to_string();
            match r.resolve_opt(v, id)? {
                Some(value) => env.insert(name, value),
                None => env.remove(&name),
            };
        }
        let policies = rules::statements(props(id).and_then(|p| p.get("Policies")), &r, id)?;
        let name = match props(id).and_then(|p| p.get("FunctionName")) {
            Some(v) => r.resolve_opt(v, id)?,
            None => None,
        };
        Ok(FunctionSpec {
            logical_id: id.to_string(),
            binary,
            env,
            policies,
            name,
            memory_mb: number(id, "MemorySize")?.unwrap_or(128) as u32,
            timeout: std::time::Duration::from_secs(number(id, "Timeout")?.unwrap_or(3)),
        })
    };

    let mut routes = BTreeMap::new();
    let mut mocks = BTreeMap::new();
    for id in resources.keys().filter_map(Value::as_str) {
        if kind(id) != "AWS::ApiGatewayV2::Route" {
            continue;
        }
        let p = props(id).ok_or_else(|| err(id, "missing Properties"))?;
        let key = r.resolve(
            p.get("RouteKey")
                .ok_or_else(|| err(id, "missing RouteKey"))?,
            id,
        )?;
        let target = r.resolve(
            p.get("Target").ok_or_else(|| err(id, "missing Target"))?,
            id,
        )?;
        let integration = target
            .strip_prefix("integrations/")
            .ok_or_else(|| err(id, format!("Target `{target}` is not integrations/<id>")))?;
        if routes.contains_key(&key) || mocks.contains_key(&key) {
            return Err(err(
                id,
                format!("route key `{key}` is used by another route"),
            ));
        }
        let integration_type = props(integration)
            .and_then(|p| p.get("IntegrationType"))
            .map(|v| r.resolve(v, integration))
            .transpose()?;
        if integration_type.as_deref() == Some("MOCK") {
            mocks.insert(key, mock::parse(id, integration, resources, &r)?);
            continue;
        }
        let uri_value = props(integration)
            .and_then(|p| p.get("IntegrationUri"))
            .ok_or_else(|| {
                err(
                    integration,
                    "missing IntegrationUri (or not an integration)",
                )
            })?;
        let uri = r.resolve(uri_value, integration)?;
        let function_id = uri
            .split("function:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| {
                err(
                    integration,
                    format!("IntegrationUri `{uri}` names no Lambda function"),
                )
            })?;
        routes.insert(key, function(function_id)?);
    }
    if !routes.contains_key("$connect") && !routes.contains_key("$default") {
        return Err(err(&api_id, "no routes found"));
    }

    let mut functions = BTreeMap::new();
    for id in resources.keys().filter_map(Value::as_str) {
        if kind(id) == "AWS::Serverless::Function" {
            functions.insert(id.to_string(), function(id)?);
        }
    }

    let table = resources
        .keys()
        .filter_map(Value::as_str)
        .find(|id| kind(id) == "AWS::DynamoDB::Table")
        .map(|id| -> Result<TableSpec, TemplateError> {
            let ttl = props(id)
                .and_then(|p| p.get("TimeToLiveSpecification"))
                .filter(|t| t.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
                .and_then(|t| t.get("AttributeName"))
                .map(|v| r.resolve(v, id))
                .transpose()?;
            Ok(TableSpec {
                logical_id: id.to_string(),
                name: r.reference(id, id)?,
                ttl_attribute: ttl,
            })
        })
        .transpose()?;

    Ok(ApiSpec {
        api_id,
        route_selection_expression,
        routes,
        mocks,
        functions,
        table,
    })
}

#[cfg(test)]
mod tests;
