//! Capabilities from an identity provider's standard claims. Cognito access
//! tokens cannot carry custom claims, and most providers put authorization in
//! `scope`/`scp` or groups, so `ROLE_CAPABILITIES` maps role names to channel
//! patterns, and roles are read from `scope` (space-separated), `scp` (a
//! list, as Okta writes it), `cognito:groups`, and the claim named by
//! `JWT_ROLES_CLAIM` (a string or a list, e.g. an Auth0 namespaced claim).
//! What a role grants is added to the token's own `subscribe`/`publish`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::channel::Pattern;

/// What one role grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Patterns the role may subscribe to.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// Patterns the role may publish to.
    #[serde(default)]
    pub publish: Vec<String>,
}

/// Role name → grants, and where roles are read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap {
    roles: HashMap<String, Grants>,
    claim: Option<String>,
}

impl RoleMap {
    /// From `ROLE_CAPABILITIES` (JSON: `{"role": {"subscribe": [..],
    /// "publish": [..]}}`) and `JWT_ROLES_CLAIM`; every pattern is checked.
    pub fn parse(json: Option<&str>, claim: Option<String>) -> Result<Self, String> {
        let roles: HashMap<String, Grants> = match json {
            None => HashMap::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                format!("expected {{\"role\": {{\"subscribe\": [..], \"publish\": [..]}}}}: {e}")
            })?,
        };
        for (role, g) in &roles {
            for p in g.subscribe.iter().chain(&g.publish) {
                Pattern::parse(p).map_err(|e| format!("role `{role}`: `{p}`: {e}"))?;
            }
        }
        Ok(Self { roles, claim })
    }

    /// Whether any role is mapped.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The roles a token's claims carry.
    pub(crate) fn roles_of(&self, claims: &HashMap<String, Value>) -> Vec<String> {
        let mut out = Vec::new();
        let mut take = |v: Option<&Value>| match v {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(list)) => {
                out.extend(list.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        };
        take(claims.get("scope"));
        take(claims.get("scp"));
        take(claims.get("cognito:groups"));
        if let Some(name) = &self.claim {
            take(claims.get(name));
        }
        out
    }

    /// Adds what the token's roles grant to its explicit capabilities.
    pub fn grant(
        &self,
        claims: &HashMap<String, Value>,
        subscribe: &mut Vec<String>,
        publish: &mut Vec<String>,
    ) {
        if self.roles.is_empty() {
            return;
        }
        for role in self.roles_of(claims) {
            if let Some(g) = self.roles.get(&role) {
                for p in &g.subscribe {
                    if !subscribe.contains(p) {
                        subscribe.push(p.clone());
                    }
                }
                for p in &g.publish {
                    if !publish.contains(p) {
                        publish.push(p.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn roles_from_scope_scp_groups_and_a_named_claim() {
        let map = RoleMap::parse(
            Some(
                r#"{"chat/read": {"subscribe": ["room:*"]},
                     "writers": {"publish": ["room:*"]},
                     "admin": {"subscribe": ["*"], "publish": ["*"]},
                     "ops": {"subscribe": ["ops:*"]}}"#,
            ),
            Some("https://example.com/roles".into()),
        )
        .unwrap();
        let c = claims(json!({
            "scope": "openid chat/read",
            "cognito:groups": ["writers"],
            "https://example.com/roles": ["ops"],
            "scp": ["unknown"]
        }));
        let (mut sub, mut publ) = (vec!["user:x".to_string()], vec![]);
        map.grant(&c, &mut sub, &mut publ);
        assert_eq!(sub, vec!["user:x", "room:*", "ops:*"]);
        assert_eq!(publ, vec!["room:*"]);
        // Nothing mapped: nothing granted.
        let (mut sub, mut publ) = (vec![], vec![]);
        map.grant(&claims(json!({"scope": "openid"})), &mut sub, &mut publ);
        assert!(sub.is_empty() && publ.is_empty());
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(RoleMap::parse(Some("[]"), None).is_err());
        assert!(RoleMap::parse(Some(r#"{"r": {"subscribe": ["bad pattern"]}}"#), None).is_err());
        assert!(
            RoleMap::parse(Some(r#"{"r": {"subscribe": ["a"], "admin": true}}"#), None).is_err()
        );
    }
}
