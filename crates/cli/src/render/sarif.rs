//! SARIF 2.1.0, the format code-scanning UIs read: `plan --policy … -o sarif` reports
//! each denial as a result of a rule named after its policy, located at the template the
//! hook came from (the `# Source:` path of `helm template` output) and the hook's line
//! in it, so the denial shows on the chart; the rendered file and line follow as a
//! related location.

use hooks_plan::{Location, Plan};
use hooks_sandbox::Policed;
use serde_json::{Value, json};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF log of one planned event; `policed` is `None` when no policy ran (a log
/// with no results).
pub(crate) fn sarif(plan: &Plan, policed: Option<&Policed>) -> Value {
    let mut rules: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for (policy, hook, reason) in policed.into_iter().flat_map(Policed::denials) {
        let index = match rules.iter().position(|r| r == policy) {
            Some(index) => index,
            None => {
                rules.push(policy.to_owned());
                rules.len() - 1
            }
        };
        let mut result = json!({
            "ruleId": policy,
            "ruleIndex": index,
            "level": "error",
            "message": {"text": match hook {
                Some(hook) => format!("{hook}: {reason}"),
                None => format!("the event: {reason}"),
            }},
        });
        // An event-level denial is about no hook, so it has no place in the chart.
        let planned = hook.and_then(|id| plan.hooks.iter().find(|h| h.hook.id == id));
        if let Some(planned) = planned {
            let at = &planned.hook.location;
            result["locations"] = json!([{
                "physicalLocation": physical(&at.source, planned.hook.source_line),
                "logicalLocations": [{"name": planned.hook.id, "kind": "object"}],
            }]);
            if let Some(related) = rendered(at) {
                result["relatedLocations"] = json!([related]);
            }
        }
        results.push(result);
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubectl-hooks",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules.iter().map(|policy| json!({
                    "id": policy,
                    "name": policy,
                    "shortDescription": {"text": format!("denied by the policy `{policy}`")},
                    "defaultConfiguration": {"level": "error"},
                })).collect::<Vec<_>>(),
            }},
            "automationDetails": {"id": format!("kubectl-hooks/{}/", plan.event)},
            "results": results,
        }],
    })
}

fn physical(path: &str, line: usize) -> Value {
    json!({
        "artifactLocation": {"uri": uri(path)},
        "region": {"startLine": line.max(1)},
    })
}

/// The rendered file and line, when the document came from `helm template` output (its
/// template is somewhere else).
fn rendered(at: &Location) -> Option<Value> {
    let file = at.file.as_deref()?;
    let line = at.line?;
    Some(json!({
        "id": 1,
        "physicalLocation": physical(file, line),
        "message": {"text": "rendered here"},
    }))
}

/// A path as a URI reference: relative paths stay relative (to where the chart was
/// rendered), absolute ones become `file://` URIs; anything outside the characters a
/// path may use bare is percent-encoded (`<stdin>` included).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            uri("ledger/templates/a b.yaml"),
            "ledger/templates/a%20b.yaml"
        );
        assert_eq!(uri("/tmp/x.yaml"), "file:///tmp/x.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(uri("ünï.yaml"), "%C3%BCn%C3%AF.yaml");
    }
}
