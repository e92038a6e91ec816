use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Event;

/// What is being planned, and this policy's own configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub event: Event,
    /// The release name, when the user gave one; may be empty.
    pub release: String,
    /// The namespace hooks without one are applied to.
    pub namespace: String,
    /// The policy's `settings` (`{}` when none were given).
    pub settings: Value,
    /// True when nothing will be applied.
    pub dry_run: bool,
}

impl Context {
    /// A context for native tests and benchmarks: namespace `default`, empty settings.
    pub fn new(event: Event) -> Self {
        Context {
            event,
            release: String::new(),
            namespace: "default".to_owned(),
            settings: Value::Object(Default::default()),
            dry_run: false,
        }
    }

    pub fn with_settings(mut self, settings: Value) -> Self {
        self.settings = settings;
        self
    }

    /// Deserialises the settings into the policy's own type.
    ///
    /// `null` counts as `{}` so that a settings type whose fields all have defaults works
    /// when the user configured none. The error names the offending field, so the user can
    /// fix their policy configuration without reading the policy's source.
    pub fn settings_as<T: DeserializeOwned>(&self) -> Result<T, String> {
        let value = match &self.settings {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        };
        serde_json::from_value(value).map_err(|e| format!("invalid settings: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Settings {
        #[serde(default)]
        exempt_hooks: Vec<String>,
    }

    #[test]
    fn settings_default_and_errors() {
        let ctx = Context::new(Event::Test).with_settings(Value::Null);
        assert_eq!(ctx.settings_as::<Settings>().unwrap().exempt_hooks.len(), 0);

        let ctx = ctx.with_settings(json!({"exemptHooks": "Job/a"}));
        let err = ctx.settings_as::<Settings>().unwrap_err();
        assert!(err.starts_with("invalid settings: invalid type"), "{err}");

        let ctx = ctx.with_settings(json!({"exemptHook": []}));
        let err = ctx.settings_as::<Settings>().unwrap_err();
        assert!(err.contains("unknown field `exemptHook`"), "{err}");
    }
}
