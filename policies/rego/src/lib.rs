//! `rego`: a validator that evaluates a Rego policy (the language of OPA, Gatekeeper and
//! conftest) over the plan, with the regorus interpreter compiled into the component, so
//! Rego runs inside the sandbox with all of its limits.
//!
//! Settings: `policy` (the Rego text; a policy configuration's `regoFile:` reads a file
//! into it), optional `data` (a document merged into `data`), optional `regoV0: true` for
//! policies in the pre-1.0 syntax (`deny[msg] { … }`).
//!
//! Input: `{"context": {event, release, namespace, dryRun}, "hooks": [{id, apiVersion,
//! kind, name, namespace, weight, events, deletePolicies, outputLogPolicies, source,
//! manifest}]}`, each manifest an object. The query is `data.kubectl_hooks.deny`: a set
//! whose elements are either a string (a denial of the event as a whole) or an object
//! `{"hook": ID, "msg": TEXT}` (`reason` is accepted for `msg`; without `hook` it is
//! about the event).

use hooks_policy_sdk::{Context, Denial, Hook, Validator};
use serde::Deserialize;
use serde_json::{Value, json};

/// The rule every policy defines, as conftest's `deny` rules.
pub const QUERY: &str = "data.kubectl_hooks.deny";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    policy: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    rego_v0: bool,
}

#[derive(Debug)]
pub struct Rego;

impl Validator for Rego {
    fn validate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String> {
        let settings: Settings = ctx.settings_as().map_err(|e| {
            format!("{e} (give the Rego text as `settings.policy`, or `regoFile:` in the policy configuration)")
        })?;
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(settings.rego_v0);
        engine
            .add_policy("policy.rego".into(), settings.policy)
            .map_err(|e| format!("the Rego policy does not compile: {e}"))?;
        if let Some(data) = settings.data {
            engine
                .add_data(to_rego(data)?)
                .map_err(|e| format!("`settings.data` cannot be used as Rego data: {e}"))?;
        }
        engine.set_input(to_rego(input(ctx, hooks))?);
        // A query rather than `eval_rule`: an undefined `deny` (a typo in the package or
        // the rule) is then an empty result, told apart from an empty set of denials.
        let results = engine
            .eval_query(QUERY.into(), false)
            .map_err(|e| format!("evaluating `{QUERY}`: {e}"))?;
        let Some(value) = results
            .result
            .into_iter()
            .next()
            .and_then(|r| r.expressions.into_iter().next())
            .map(|e| e.value)
        else {
            return Err(format!(
                "the Rego policy defines no `{QUERY}`: write `package kubectl_hooks` and `deny contains msg if {{ … }}`"
            ));
        };
        let result = serde_json::to_value(&value).map_err(|e| e.to_string())?;
        denials(result)
    }
}

hooks_policy_sdk::export_validator!(Rego);

/// What the Rego policy sees as `input`.
fn input(ctx: &Context, hooks: &[Hook]) -> Value {
    json!({
        "context": {
            "event": ctx.event.as_str(),
            "release": ctx.release,
            "namespace": ctx.namespace,
            "dryRun": ctx.dry_run,
        },
        "hooks": hooks.iter().map(|hook| json!({
            "id": hook.id,
            "apiVersion": hook.api_version,
            "kind": hook.kind,
            "name": hook.name,
            "namespace": hook.namespace,
            "weight": hook.weight,
            "events": hook.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            "deletePolicies": hook.delete_policies,
            "outputLogPolicies": hook.output_log_policies,
            "source": hook.source,
            "manifest": hook.manifest,
        })).collect::<Vec<_>>(),
    })
}

fn to_rego(value: Value) -> Result<regorus::Value, String> {
    serde_json::from_value(value).map_err(|e| format!("cannot hand JSON to Rego: {e}"))
}

/// `deny`'s elements as denials (a set arrives as an array).
fn denials(result: Value) -> Result<Vec<Denial>, String> {
    let Value::Array(items) = result else {
        return Err(format!(
            "`{QUERY}` must be a set (`deny contains msg if {{ … }}`), not {}",
            kind(&result)
        ));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(reason) => Ok(Denial::event(reason)),
            Value::Object(mut fields) => {
                let reason = match fields.remove("msg").or_else(|| fields.remove("reason")) {
                    Some(Value::String(reason)) => reason,
                    _ => {
                        return Err(format!(
                            "an object in `{QUERY}` needs a string `msg`: {}",
                            Value::Object(fields)
                        ));
                    }
                };
                match fields.remove("hook") {
                    None | Some(Value::Null) => Ok(Denial::event(reason)),
                    Some(Value::String(hook)) => Ok(Denial {
                        hook_id: Some(hook),
                        reason,
                    }),
                    Some(other) => Err(format!(
                        "`hook` in `{QUERY}` must be a hook id such as `Job/db-init`, not {other}"
                    )),
                }
            }
            other => Err(format!(
                "`{QUERY}` must hold strings or objects `{{\"hook\": id, \"msg\": text}}`, not {}",
                kind(&other)
            )),
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
