//! Intrinsic functions: `Ref`, `Sub`, `GetAtt`, `Join`, `Split` (where a
//! list is taken, such as a policy's `Resource`), and the conditional
//! ones (`If` with the template's `Conditions`: `Equals`, `Not`, `And`,
//! `Or`, `Condition`; `Ref AWS::NoValue` drops the value), short and long form.

use std::collections::HashMap;

use serde_yaml::Value;

use super::{err, TemplateError};

/// Resolves values of one template against its parameters.
pub(crate) struct Resolver<'a> {
    pub(crate) params: HashMap<String, String>,
    pub(crate) resources: &'a serde_yaml::Mapping,
    pub(crate) conditions: &'a serde_yaml::Mapping,
}

/// An intrinsic's name (without `!` or `Fn::`) and argument.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, a) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
                .then(|| (k.trim_start_matches("Fn::").to_string(), a))
        }
        _ => None,
    }
}

pub(crate) fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Resolver<'_> {
    /// Whether the named condition of the template's `Conditions` holds.
    pub(crate) fn condition(&self, name: &str, resource: &str) -> Result<bool, TemplateError> {
        let body = self
            .conditions
            .get(name)
            .ok_or_else(|| err(resource, format!("unknown condition `{name}`")))?;
        self.truth(body, resource)
    }

    /// A condition expression: `Equals`, `Not`, `And`, `Or`, `Condition`.
    pub(crate) fn truth(&self, v: &Value, resource: &str) -> Result<bool, TemplateError> {
        let (name, arg) =
            intrinsic(v).ok_or_else(|| err(resource, format!("not a condition: {v:?}")))?;
        let list = |arg: &Value| -> Result<Vec<Value>, TemplateError> {
            match arg {
                Value::Sequence(s) => Ok(s.clone()),
                _ => Err(err(resource, format!("!{name} needs a list"))),
            }
        };
        match name.as_str() {
            "Equals" => {
                let items = list(arg)?;
                let [a, b] = items.as_slice() else {
                    return Err(err(resource, "!Equals needs two values"));
                };
                Ok(self.resolve(a, resource)? == self.resolve(b, resource)?)
            }
            "Not" => match list(arg)?.as_slice() {
                [c] => Ok(!self.truth(c, resource)?),
                _ => Err(err(resource, "!Not needs one condition")),
            },
            "And" => list(arg)?
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.truth(c, resource)?)),
            "Or" => list(arg)?
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.truth(c, resource)?)),
            "Condition" => self.condition(&self.resolve(arg, resource)?, resource),
            other => Err(err(
                resource,
                format!("`{other}` is not a condition function"),
            )),
        }
    }

    /// Resolves a whole value (mappings and lists included): intrinsics
    /// become strings, `!If` picks its branch, `AWS::NoValue` is dropped.
    pub(crate) fn resolve_tree(
        &self,
        v: &Value,
        resource: &str,
    ) -> Result<Option<Value>, TemplateError> {
        if let Some((name, arg)) = intrinsic(v) {
            if name == "If" {
                return match arg {
                    Value::Sequence(s) if s.len() == 3 => {
                        let branch = if self.condition(&self.resolve(&s[0], resource)?, resource)? {
                            &s[1]
                        } else {
                            &s[2]
                        };
                        self.resolve_tree(branch, resource)
                    }
                    _ => Err(err(resource, "!If needs [condition, then, else]")),
                };
            }
            if name == "Split" {
                let Value::Sequence(s) = arg else {
                    return Err(err(resource, "!Split needs [delimiter, value]"));
                };
                let [delim, text] = s.as_slice() else {
                    return Err(err(resource, "!Split needs [delimiter, value]"));
                };
                let delim = self.resolve(delim, resource)?;
                let text = self.resolve(text, resource)?;
                return Ok(Some(Value::Sequence(
                    text.split(delim.as_str())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                )));
            }
            return Ok(self.resolve_opt(v, resource)?.map(Value::String));
        }
        Ok(Some(match v {
            Value::Mapping(m) => {
                let mut out = serde_yaml::Mapping::new();
                for (k, val) in m {
                    if let Some(val) = self.resolve_tree(val, resource)? {
                        out.insert(k.clone(), val);
                    }
                }
                Value::Mapping(out)
            }
            Value::Sequence(s) => Value::Sequence(
                s.iter()
                    .map(|x| self.resolve_tree(x, resource))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            other => other.clone(),
        }))
    }

    /// Resolves to a string, or `None` for `AWS::NoValue`.
    pub(crate) fn resolve_opt(
        &self,
        v: &Value,
        resource: &str,
    ) -> Result<Option<String>, TemplateError> {
        match intrinsic(v) {
            Some((name, _)) if name == "If" => match self.resolve_tree(v, resource)? {
                None => Ok(None),
                Some(x) => self
                    .resolve_opt(&x, resource)
                    .map(Some)
                    .map(Option::flatten),
            },
            Some((name, arg))
                if name == "Ref" && as_str(arg).as_deref() == Some("AWS::NoValue") =>
            {
                Ok(None)
            }
            _ => self.resolve(v, resource).map(Some),
        }
    }

    pub(crate) fn reference(&self, name: &str, resource: &str) -> Result<String, TemplateError> {
        if let Some(v) = self.params.get(name) {
            return Ok(v.clone());
        }
        let Some(r) = self.resources.get(name) else {
            return Err(err(resource, format!("!Ref to unknown `{name}`")));
        };
        // Tables resolve to their name, everything else to the logical id.
        Ok(r.get("Properties")
            .and_then(|p| p.get("TableName"))
            .and_then(as_str)
            .unwrap_or_else(|| name.to_string()))
    }

    pub(crate) fn get_att(
        &self,
        target: &str,
        attr: &str,
        resource: &str,
    ) -> Result<String, TemplateError> {
        if self.resources.get(target).is_none() {
            return Err(err(resource, format!("!GetAtt to unknown `{target}`")));
        }
        let kind = self.resources[target]
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(match (kind, attr) {
            ("AWS::Serverless::Function", "Arn") => {
                format!("arn:aws:lambda:local:000000000000:function:{target}")
            }
            ("AWS::DynamoDB::Table", "Arn") => {
                format!(
                    "arn:aws:dynamodb:local:000000000000:table/{}",
                    self.reference(target, resource)?
                )
            }
            _ => format!("{target}.{attr}"),
        })
    }

    fn sub(
        &self,
        text: &str,
        vars: &HashMap<String, String>,
        resource: &str,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| err(resource, "unclosed ${ in !Sub"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((target, attr)) = name.split_once('.') {
                out.push_str(&self.get_att(target, attr, resource)?);
            } else {
                out.push_str(&self.reference(name, resource)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves a scalar or intrinsic to a string (`AWS::NoValue`: empty).
    pub(crate) fn resolve(&self, v: &Value, resource: &str) -> Result<String, TemplateError> {
        if let Some(s) = as_str(v) {
            return Ok(s);
        }
        if matches!(v, Value::Null) {
            return Ok(String::new());
        }
        let Some((name, arg)) = intrinsic(v) else {
            return Err(err(resource, format!("cannot resolve {v:?} to a string")));
        };
        match name.as_str() {
            "If" => Ok(self.resolve_opt(v, resource)?.unwrap_or_default()),
            "Ref" if as_str(arg).as_deref() == Some("AWS::NoValue") => Ok(String::new()),
            "Ref" => self.reference(&self.resolve(arg, resource)?, resource),
            "GetAtt" => {
                let (target, attr) = match arg {
                    Value::Sequence(s) if s.len() == 2 => (
                        self.resolve(&s[0], resource)?,
                        self.resolve(&s[1], resource)?,
                    ),
                    other => {
                        let text = self.resolve(other, resource)?;
                        let (t, a) = text
                            .split_once('.')
                            .ok_or_else(|| err(resource, format!("bad !GetAtt `{text}`")))?;
                        (t.to_string(), a.to_string())
                    }
                };
                self.get_att(&target, &attr, resource)
            }
            "Sub" => match arg {
                Value::Sequence(s) if s.len() == 2 => {
                    let text = self.resolve(&s[0], resource)?;
                    let mut vars = HashMap::new();
                    if let Value::Mapping(m) = &s[1] {
                        for (k, v) in m {
                            vars.insert(
                                k.as_str().unwrap_or_default().to_string(),
                                self.resolve(v, resource)?,
                            );
                        }
                    }
                    self.sub(&text, &vars, resource)
                }
                other => self.sub(&self.resolve(other, resource)?, &HashMap::new(), resource),
            },
            "Join" => match arg {
                Value::Sequence(s) if s.len() == 2 => {
                    let delim = self.resolve(&s[0], resource)?;
                    let Value::Sequence(parts) = &s[1] else {
                        return Err(err(resource, "!Join needs a list of values"));
                    };
                    let parts = parts
                        .iter()
                        .map(|p| self.resolve(p, resource))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(parts.join(&delim))
                }
                _ => Err(err(resource, "!Join needs [delimiter, [values]]")),
            },
            other => Err(err(
                resource,
                format!("intrinsic `{other}` is not supported by wsfn-local"),
            )),
        }
    }
}
