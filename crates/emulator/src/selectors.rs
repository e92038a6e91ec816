//! Label and field selectors, parsed from the query string exactly as kubectl and kube-rs send
//! them. The server must do this filtering itself: `kubectl wait` trusts the list it gets back.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub(crate) struct SelectorError(String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq,
    NotEq,
    In,
    NotIn,
    Exists,
    NotExists,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

/// A parsed `labelSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    reqs: Vec<Requirement>,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_value(v: &str, whole: &str) -> Result<String, SelectorError> {
    let v = v.trim();
    if v.chars().all(is_value_char) {
        Ok(v.to_string())
    } else {
        Err(SelectorError(format!(
            "invalid label value: {v:?} in {whole:?}"
        )))
    }
}

/// Splits on commas that are not inside `( … )`, because `in (a,b)` carries its own commas.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<Self, SelectorError> {
        if s.trim().is_empty() {
            return Ok(Self::default());
        }
        split_top_level(s)
            .into_iter()
            .map(parse_requirement)
            .collect::<Result<Vec<_>, _>>()
            .map(|reqs| Self { reqs })
    }

    pub(crate) fn matches_object(&self, obj: &Value) -> bool {
        self.matches(obj.pointer("/metadata/labels").and_then(Value::as_object))
    }

    pub(crate) fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| {
            let v = get(&r.key);
            match r.op {
                Op::Eq | Op::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Op::NotEq | Op::NotIn => v.is_none_or(|v| r.values.iter().all(|x| x != v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::Gt | Op::Lt => {
                    let (Some(have), Some(want)) = (
                        v.and_then(|v| v.parse::<i64>().ok()),
                        r.values.first().and_then(|w| w.parse::<i64>().ok()),
                    ) else {
                        return false;
                    };
                    if r.op == Op::Gt {
                        have > want
                    } else {
                        have < want
                    }
                }
            }
        })
    }
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    let whole = part;
    let part = part.trim();
    if let Some(rest) = part.strip_prefix('!') {
        let key = rest.trim();
        if key.is_empty() || !key.chars().all(is_key_char) {
            return Err(SelectorError(format!("invalid key in {whole:?}")));
        }
        return Ok(Requirement {
            key: key.to_string(),
            op: Op::NotExists,
            values: vec![],
        });
    }
    let key_end = part.find(|c| !is_key_char(c)).unwrap_or(part.len());
    let (key, rest) = part.split_at(key_end);
    if key.is_empty() {
        return Err(SelectorError(format!("missing key in {whole:?}")));
    }
    let rest = rest.trim_start();
    let single = |op: Op, v: &str| -> Result<Requirement, SelectorError> {
        Ok(Requirement {
            key: key.to_string(),
            op,
            values: vec![check_value(v, whole)?],
        })
    };
    if rest.is_empty() {
        return Ok(Requirement {
            key: key.to_string(),
            op: Op::Exists,
            values: vec![],
        });
    }
    if let Some(v) = rest.strip_prefix("!=") {
        return single(Op::NotEq, v);
    }
    if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
        return single(Op::Eq, v);
    }
    for (prefix, op) in [(">", Op::Gt), ("<", Op::Lt)] {
        if let Some(v) = rest.strip_prefix(prefix) {
            if v.trim().parse::<i64>().is_err() {
                return Err(SelectorError(format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer: {whole:?}"
                )));
            }
            return single(op, v);
        }
    }
    for (word, op) in [("notin", Op::NotIn), ("in", Op::In)] {
        if let Some(set) = rest.strip_prefix(word)
            && set.starts_with([' ', '('])
        {
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    SelectorError(format!("expected '(…)' after {word} in {whole:?}"))
                })?;
            let values = inner
                .split(',')
                .map(|v| check_value(v, whole))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Requirement {
                key: key.to_string(),
                op,
                values,
            });
        }
    }
    Err(SelectorError(format!(
        "found unexpected operator in {whole:?}"
    )))
}

/// A parsed `fieldSelector`. `metadata.name` and `metadata.namespace` are what clients rely on
/// (`kubectl wait`, `kubectl delete`); other dotted paths are looked up in the object, which is
/// more lenient than a real server's per-kind allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub(crate) fn parse(s: &str) -> Result<Self, SelectorError> {
        if s.trim().is_empty() {
            return Ok(Self::default());
        }
        let reqs = s
            .split(',')
            .map(|part| {
                let part = part.trim();
                let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                    (f, false, v)
                } else if let Some((f, v)) = part.split_once("==") {
                    (f, true, v)
                } else if let Some((f, v)) = part.split_once('=') {
                    (f, true, v)
                } else {
                    return Err(SelectorError(format!(
                        "invalid field selector {part:?}: expected field=value"
                    )));
                };
                let field = field.trim();
                if field.is_empty() {
                    return Err(SelectorError(format!("empty field name in {part:?}")));
                }
                Ok((field.to_string(), eq, value.trim().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { reqs })
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, want)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let have = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap()
    }

    #[test]
    fn equality_forms() {
        let l = labels(json!({"app": "web", "tier": "front"}));
        assert!(sel("app=web").matches(Some(&l)));
        assert!(sel("app==web").matches(Some(&l)));
        assert!(sel("app = web").matches(Some(&l)));
        assert!(!sel("app=db").matches(Some(&l)));
        assert!(sel("app!=db").matches(Some(&l)));
        assert!(
            sel("missing!=x").matches(Some(&l)),
            "!= matches an absent key"
        );
        assert!(sel("app=web,tier=front").matches(Some(&l)));
        assert!(!sel("app=web,tier=back").matches(Some(&l)));
    }

    #[test]
    fn set_forms() {
        let l = labels(json!({"env": "prod", "job-name": "j1"}));
        assert!(sel("env in (prod, staging)").matches(Some(&l)));
        assert!(sel("env in (prod,staging),job-name=j1").matches(Some(&l)));
        assert!(!sel("env notin (prod)").matches(Some(&l)));
        assert!(sel("other notin (x)").matches(Some(&l)));
        assert!(sel("env").matches(Some(&l)));
        assert!(!sel("!env").matches(Some(&l)));
        assert!(sel("!nope").matches(Some(&l)));
        assert!(sel("").matches(None));
        assert!(!sel("env").matches(None));
    }

    #[test]
    fn prefixed_keys_and_numbers() {
        let l = labels(json!({"batch.kubernetes.io/controller-uid": "abc", "n": "5"}));
        assert!(sel("batch.kubernetes.io/controller-uid=abc").matches(Some(&l)));
        assert!(sel("n>3").matches(Some(&l)));
        assert!(!sel("n<3").matches(Some(&l)));
    }

    #[test]
    fn malformed_selectors_are_errors_not_panics() {
        for bad in [
            "=x", "a in x", "a in (b", "a>b", "a=b c", "a,,b=c", "!", "a ~ b",
        ] {
            assert!(
                LabelSelector::parse(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn field_selector_on_name_and_namespace() {
        let obj = json!({"metadata": {"name": "job1", "namespace": "default"}, "status": {"phase": "Running"}});
        let f = |s: &str| FieldSelector::parse(s).unwrap().matches(&obj);
        assert!(f("metadata.name=job1"));
        assert!(!f("metadata.name=job0"));
        assert!(f("metadata.name==job1,metadata.namespace=default"));
        assert!(f("metadata.name!=job0"));
        assert!(f("status.phase=Running"));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
