//! Routes that API Gateway answers itself: a `MOCK` integration, its
//! integration responses and the route response, read from the template and
//! rendered as API Gateway does — the request template yields the status
//! code, the integration response whose key matches it renders the body, and
//! a route response sends that body to the client (a route without one is
//! one-way: nothing is sent). Mapping templates are evaluated for the subset
//! a template may use here: `$context` variables (`$context.x`, `${context.x}`,
//! `$!context.x`); anything else is refused when the template is loaded.

use serde_yaml::Value;

use super::resolve::Resolver;
use super::{err, TemplateError};

/// The `$context` variables wsfn-local can fill (API Gateway's WebSocket
/// mapping template reference).
pub const CONTEXT_VARIABLES: &[&str] = &[
    "apiId",
    "connectedAt",
    "connectionId",
    "domainName",
    "eventType",
    "extendedRequestId",
    "identity.sourceIp",
    "messageId",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "routeKey",
    "stage",
];

/// A route answered by API Gateway without a function.
#[derive(Debug, Clone, PartialEq)]
pub struct MockRoute {
    /// Logical id of the integration.
    pub integration: String,
    /// The request template the selection expression picks (`$default`).
    pub request_template: String,
    /// Integration responses: key (`$default` or `/NNN/`) and the response
    /// template their selection expression picks.
    pub responses: Vec<(String, String)>,
    /// A route response sends the rendered body to the client.
    pub two_way: bool,
}

/// Why a mock route could not answer (API Gateway logs it and answers the
/// client `Internal server error`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Execution failed due to configuration error: {0}")]
pub struct MockError(pub String);

impl MockRoute {
    /// The frame API Gateway sends the client, if any, for `context`
    /// (a `$context` variable name → its value).
    pub fn answer(
        &self,
        context: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, MockError> {
        let request = render(&self.request_template, context)?;
        let status = serde_json::from_str::<serde_json::Value>(&request)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
            .ok_or_else(|| {
                MockError(
                    "statusCode should be an integer which defined in request template".into(),
                )
            })?;
        let chosen = self
            .responses
            .iter()
            .find(|(key, _)| key.trim_matches('/') == status.to_string() && key.starts_with('/'))
            .or_else(|| self.responses.iter().find(|(key, _)| key == "$default"));
        let Some((_, template)) = chosen else {
            return Err(MockError(format!(
                "no integration response matches status {status}"
            )));
        };
        let body = render(template, context)?;
        Ok(self.two_way.then_some(body))
    }
}

/// One `$context` reference found in a template: the byte range it covers
/// and the variable's name.
fn references(template: &str) -> Result<Vec<(usize, usize, &str)>, String> {
    let mut found = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' if bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'#' || *c == b'*') =>
            {
                return Err("VTL directives (#set, #if, ...) are not emulated".into());
            }
            b'$' => {
                let mut start = i + 1;
                if bytes.get(start) == Some(&b'!') {
                    start += 1;
                }
                let braced = bytes.get(start) == Some(&b'{');
                if braced {
                    start += 1;
                }
                let rest = &template[start..];
                let Some(name_part) = rest.strip_prefix("context.") else {
                    let shown: String = template[i..].chars().take(24).collect();
                    return Err(format!("`{shown}`: only $context variables are emulated"));
                };
                let len = name_part
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'_')
                    .count();
                // A trailing dot is punctuation, not part of the name.
                let name = name_part[..len].trim_end_matches('.');
                let mut end = start + "context.".len() + name.len();
                if braced {
                    if bytes.get(end) != Some(&b'}') {
                        return Err(format!("unclosed ${{context.{name}"));
                    }
                    end += 1;
                }
                if !CONTEXT_VARIABLES.contains(&name) {
                    return Err(format!(
                        "$context.{name} is not emulated (known: {})",
                        CONTEXT_VARIABLES.join(", ")
                    ));
                }
                found.push((i, end, name));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(found)
}

/// Renders a mapping template: each `$context` reference replaced by its value.
pub(crate) fn render(
    template: &str,
    context: &dyn Fn(&str) -> Option<String>,
) -> Result<String, MockError> {
    let refs = references(template).map_err(MockError)?;
    let mut out = String::with_capacity(template.len() + 64);
    let mut at = 0;
    for (start, end, name) in refs {
        out.push_str(&template[at..start]);
        out.push_str(&context(name).unwrap_or_default());
        at = end;
    }
    out.push_str(&template[at..]);
    Ok(out)
}

/// The template a `TemplateSelectionExpression` picks: only the literal
/// `\$default` (or no expression with a single template) is emulated.
fn select_template(
    templates: Option<&Value>,
    expression: Option<String>,
    resource: &str,
    r: &Resolver<'_>,
) -> Result<String, TemplateError> {
    let map = templates
        .and_then(Value::as_mapping)
        .ok_or_else(|| err(resource, "a MOCK route needs its mapping templates"))?;
    let key = match expression.as_deref() {
        Some("\\$default") | Some("$default") => "$default".to_string(),
        None if map.len() == 1 => map
            .keys()
            .next()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Some(other) => {
            return Err(err(
                resource,
                format!("TemplateSelectionExpression `{other}` is not emulated (use \\$default)"),
            ))
        }
        None => {
            return Err(err(
                resource,
                "several templates need TemplateSelectionExpression \\$default",
            ))
        }
    };
    let value = map
        .get(key.as_str())
        .ok_or_else(|| err(resource, format!("no template under `{key}`")))?;
    let template = r.resolve(value, resource)?;
    references(&template).map_err(|why| err(resource, why))?;
    Ok(template)
}

/// Reads the mock route `route_id` (its `Target` is `integration`).
pub(super) fn parse(
    route_id: &str,
    integration: &str,
    resources: &serde_yaml::Mapping,
    r: &Resolver<'_>,
) -> Result<MockRoute, TemplateError> {
    let props = |id: &str| resources.get(id).and_then(|v| v.get("Properties"));
    let kind = |id: &str| {
        resources
            .get(id)
            .and_then(|v| v.get("Type"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let text = |id: &str, name: &str| -> Result<Option<String>, TemplateError> {
        props(id)
            .and_then(|p| p.get(name))
            .map(|v| r.resolve(v, id))
            .transpose()
    };
    let ip = props(integration);
    let request_template = select_template(
        ip.and_then(|p| p.get("RequestTemplates")),
        text(integration, "TemplateSelectionExpression")?,
        integration,
        r,
    )?;
    let refers_to = |id: &str, field: &str, target: &str| -> Result<bool, TemplateError> {
        Ok(text(id, field)?.as_deref() == Some(target))
    };
    let mut responses = Vec::new();
    let mut two_way = false;
    for id in resources.keys().filter_map(Value::as_str) {
        match kind(id).as_str() {
            "AWS::ApiGatewayV2::IntegrationResponse"
                if refers_to(id, "IntegrationId", integration)? =>
            {
                let key = text(id, "IntegrationResponseKey")?
                    .ok_or_else(|| err(id, "missing IntegrationResponseKey"))?;
                let numeric = key.len() > 2
                    && key.starts_with('/')
                    && key.ends_with('/')
                    && key[1..key.len() - 1].bytes().all(|b| b.is_ascii_digit());
                if key != "$default" && !numeric {
                    return Err(err(
                        id,
                        format!(
                            "IntegrationResponseKey `{key}` is not emulated ($default or /NNN/)"
                        ),
                    ));
                }
                let template = select_template(
                    props(id).and_then(|p| p.get("ResponseTemplates")),
                    text(id, "TemplateSelectionExpression")?,
                    id,
                    r,
                )?;
                responses.push((key, template));
            }
            "AWS::ApiGatewayV2::RouteResponse" if refers_to(id, "RouteId", route_id)? => {
                two_way = true;
            }
            _ => {}
        }
    }
    if two_way && text(route_id, "RouteResponseSelectionExpression")?.is_none() {
        return Err(err(
            route_id,
            "a route response needs RouteResponseSelectionExpression ($default)",
        ));
    }
    if responses.is_empty() {
        return Err(err(
            integration,
            "a MOCK integration needs an AWS::ApiGatewayV2::IntegrationResponse",
        ));
    }
    Ok(MockRoute {
        integration: integration.to_string(),
        request_template,
        responses,
        two_way,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(name: &str) -> Option<String> {
        match name {
            "connectionId" => Some("abc=".into()),
            "requestTimeEpoch" => Some("1700000000123".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_context_variables_in_every_form() {
        let out = render(
            r#"{"a":"$context.connectionId","b":${context.requestTimeEpoch},"c":"$!context.connectionId."}"#,
            &ctx,
        )
        .unwrap();
        assert_eq!(out, r#"{"a":"abc=","b":1700000000123,"c":"abc=."}"#);
    }

    #[test]
    fn refuses_what_it_cannot_emulate() {
        for bad in [
            "$input.json('$.id')",
            "#set($x = 1)",
            "$context.authorizer.principalId",
            "${context.connectionId",
            "$util.escapeJavaScript(x)",
        ] {
            assert!(render(bad, &ctx).is_err(), "{bad}");
        }
    }

    fn route(responses: &[(&str, &str)], request: &str, two_way: bool) -> MockRoute {
        MockRoute {
            integration: "I".into(),
            request_template: request.into(),
            responses: responses
                .iter()
                .map(|(k, t)| (k.to_string(), t.to_string()))
                .collect(),
            two_way,
        }
    }

    #[test]
    fn picks_the_response_by_status_then_default() {
        let r = route(
            &[("$default", "d"), ("/500/", "five")],
            r#"{"statusCode": 500}"#,
            true,
        );
        assert_eq!(r.answer(&ctx).unwrap().as_deref(), Some("five"));
        let r = route(
            &[("$default", "d"), ("/500/", "five")],
            r#"{"statusCode": 200}"#,
            true,
        );
        assert_eq!(r.answer(&ctx).unwrap().as_deref(), Some("d"));
        // One-way: rendered, nothing sent.
        let r = route(&[("$default", "d")], r#"{"statusCode": 200}"#, false);
        assert_eq!(r.answer(&ctx).unwrap(), None);
        // No integer statusCode: API Gateway's configuration error.
        let r = route(&[("$default", "d")], r#"{"statusCode": "200"}"#, true);
        assert!(r.answer(&ctx).is_err());
        let r = route(&[("/201/", "x")], r#"{"statusCode": 200}"#, true);
        assert!(r.answer(&ctx).is_err());
    }
}
