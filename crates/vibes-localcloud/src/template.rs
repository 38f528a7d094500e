//! Enough of CloudFormation's template language to complete what moto's CloudFormation skips:
//! a template's resources and outputs, and the values of `Ref`, `Fn::Sub`, `Fn::Base64`,
//! `Fn::If` with `Fn::Equals`/`Fn::Not` conditions, over the stack's parameters and the
//! physical ids of the resources moto made.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// moto's account; the runner only ever speaks to moto.
pub const ACCOUNT_ID: &str = "123456789012";

pub struct Template {
    root: Value,
}

/// What names resolve to while evaluating: the stack's parameters (with the template's
/// defaults filled in) and the physical id of each resource.
pub struct Scope<'a> {
    pub stack_name: &'a str,
    pub region: &'a str,
    pub parameters: BTreeMap<String, String>,
    pub physical: BTreeMap<String, String>,
}

impl Template {
    pub fn parse(body: &str) -> Result<Template, String> {
        // JSON is YAML too.
        let root: Value = serde_yaml_ng::from_str(body).map_err(|e| e.to_string())?;
        Ok(Template { root })
    }

    /// Logical id → resource type.
    pub fn resources(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(Value::Mapping(m)) = self.root.get("Resources") {
            for (k, v) in m {
                if let (Some(name), Some(ty)) = (k.as_str(), v.get("Type").and_then(Value::as_str))
                {
                    out.insert(name.to_string(), ty.to_string());
                }
            }
        }
        out
    }

    /// A resource's `DeletionPolicy` (`Retain`, `Delete`, `Snapshot`), if it names one.
    pub fn deletion_policy(&self, resource: &str) -> Option<String> {
        self.root
            .get("Resources")?
            .get(resource)?
            .get("DeletionPolicy")
            .and_then(scalar)
    }

    pub fn property(&self, resource: &str, path: &[&str]) -> Option<&Value> {
        let mut v = self
            .root
            .get("Resources")?
            .get(resource)?
            .get("Properties")?;
        for p in path {
            v = v.get(p)?;
        }
        Some(v)
    }

    /// Output name → its `Value` expression.
    pub fn outputs(&self) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        if let Some(Value::Mapping(m)) = self.root.get("Outputs") {
            for (k, v) in m {
                if let (Some(name), Some(value)) = (k.as_str(), v.get("Value")) {
                    out.push((name.to_string(), value));
                }
            }
        }
        out
    }

    /// The parameters as given, with the template's defaults for the rest.
    pub fn parameters_with_defaults(
        &self,
        given: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(Value::Mapping(m)) = self.root.get("Parameters") {
            for (k, v) in m {
                if let (Some(name), Some(d)) = (k.as_str(), v.get("Default")) {
                    if let Some(d) = scalar(d) {
                        out.insert(name.to_string(), d);
                    }
                }
            }
        }
        out.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    fn condition(&self, name: &str, scope: &Scope) -> Result<bool, String> {
        let c = self
            .root
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| format!("no condition {name}"))?;
        self.truth(c, scope)
    }

    fn truth(&self, v: &Value, scope: &Scope) -> Result<bool, String> {
        let (f, arg) = function(v).ok_or("a condition must be a function")?;
        match f {
            "Fn::Equals" => {
                let items = arg.as_sequence().ok_or("Fn::Equals takes a list")?;
                let [a, b] = items.as_slice() else {
                    return Err("Fn::Equals takes two values".into());
                };
                Ok(self.eval(a, scope)? == self.eval(b, scope)?)
            }
            "Fn::Not" => {
                let items = arg.as_sequence().ok_or("Fn::Not takes a list")?;
                Ok(!self.truth(items.first().ok_or("Fn::Not of nothing")?, scope)?)
            }
            "Condition" => self.condition(arg.as_str().ok_or("Condition takes a name")?, scope),
            other => Err(format!("{other} is not supported in conditions")),
        }
    }

    /// The string a value stands for.
    pub fn eval(&self, v: &Value, scope: &Scope) -> Result<String, String> {
        if let Some(s) = scalar(v) {
            return Ok(s);
        }
        let (f, arg) = function(v).ok_or_else(|| format!("cannot evaluate {v:?}"))?;
        match f {
            "Ref" => reference(arg.as_str().ok_or("Ref takes a name")?, scope),
            "Fn::Sub" => match arg {
                Value::String(s) => substitute(s, scope, &BTreeMap::new()),
                Value::Sequence(items) => {
                    let text = items
                        .first()
                        .and_then(Value::as_str)
                        .ok_or("Fn::Sub text")?;
                    let mut vars = BTreeMap::new();
                    if let Some(Value::Mapping(m)) = items.get(1) {
                        for (k, v) in m {
                            let k = k.as_str().ok_or("Fn::Sub variable name")?;
                            vars.insert(k.to_string(), self.eval(v, scope)?);
                        }
                    }
                    substitute(text, scope, &vars)
                }
                _ => Err("Fn::Sub takes text".into()),
            },
            "Fn::Base64" => {
                use base64::Engine;
                let text = self.eval(arg, scope)?;
                Ok(base64::engine::general_purpose::STANDARD.encode(text))
            }
            "Fn::If" => {
                let items = arg.as_sequence().ok_or("Fn::If takes a list")?;
                let [c, yes, no] = items.as_slice() else {
                    return Err("Fn::If takes three values".into());
                };
                let c = c.as_str().ok_or("Fn::If condition name")?;
                if self.condition(c, scope)? {
                    self.eval(yes, scope)
                } else {
                    self.eval(no, scope)
                }
            }
            other => Err(format!("{other} is not supported here")),
        }
    }
}

/// A plain scalar as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The logical id a `!GetAtt X.Arn` (or `{"Fn::GetAtt": [X, "Arn"]}`) names.
pub fn get_att_arn_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "GetAtt" => {
            t.value.as_str()?.strip_suffix(".Arn").map(str::to_string)
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            if k.as_str()? != "Fn::GetAtt" {
                return None;
            }
            let list = arg.as_sequence()?;
            (list.get(1)?.as_str()? == "Arn").then(|| list.first()?.as_str().map(str::to_string))?
        }
        _ => None,
    }
}

/// An intrinsic function in either spelling: `!Sub x` or `{"Fn::Sub": x}`.
fn function(v: &Value) -> Option<(&'static str, &Value)> {
    const NAMES: [&str; 7] = [
        "Ref",
        "Fn::Sub",
        "Fn::Base64",
        "Fn::If",
        "Fn::Equals",
        "Fn::Not",
        "Condition",
    ];
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let short = tag.trim_start_matches('!');
            NAMES
                .iter()
                .find(|n| n.trim_start_matches("Fn::") == short)
                .map(|n| (*n, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            NAMES.iter().find(|n| **n == k).map(|n| (*n, arg))
        }
        _ => None,
    }
}

fn reference(name: &str, scope: &Scope) -> Result<String, String> {
    match name {
        "AWS::Region" => Ok(scope.region.to_string()),
        "AWS::AccountId" => Ok(ACCOUNT_ID.to_string()),
        "AWS::Partition" => Ok("aws".to_string()),
        "AWS::StackName" => Ok(scope.stack_name.to_string()),
        "AWS::URLSuffix" => Ok("amazonaws.com".to_string()),
        _ => scope
            .parameters
            .get(name)
            .or_else(|| scope.physical.get(name))
            .cloned()
            .ok_or_else(|| format!("{name} is neither a parameter nor a resource of the stack")),
    }
}

fn substitute(
    text: &str,
    scope: &Scope,
    vars: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find('}').ok_or("an unclosed ${ in Fn::Sub")?;
        let name = &after[..j];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if let Some(v) = vars.get(name) {
            out.push_str(v);
        } else if name.contains('.') && !name.starts_with("AWS::") {
            return Err(format!("${{{name}}}: attributes are not supported"));
        } else {
            out.push_str(&reference(name, scope)?);
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope<'static> {
        Scope {
            stack_name: "p-main",
            region: "eu-west-1",
            parameters: BTreeMap::from([("Project".into(), "p".into()), ("Key".into(), "".into())]),
            physical: BTreeMap::from([("Bucket".into(), "p-main-bucket-1".into())]),
        }
    }

    #[test]
    fn short_and_long_forms_evaluate_alike() {
        let t = Template::parse(
            "Conditions:\n  HasKey: !Not [!Equals [!Ref Key, \"\"]]\nResources: {}\n",
        )
        .unwrap();
        let s = scope();
        let v = |y: &str| t.eval(&serde_yaml_ng::from_str(y).unwrap(), &s).unwrap();
        assert_eq!(v("!Sub \"${Project}-images\""), "p-images");
        assert_eq!(v("{\"Fn::Sub\": \"${Project}-images\"}"), "p-images");
        assert_eq!(v("!Ref Bucket"), "p-main-bucket-1");
        assert_eq!(
            v("!Sub \"arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}\""),
            "arn:aws:s3:::p-main-bucket-1/${Literal}"
        );
        assert_eq!(v("!If [HasKey, yes, no]"), "no");
        assert_eq!(v("!Sub [\"${A}-x\", {A: !Ref Project}]"), "p-x");
    }
}
