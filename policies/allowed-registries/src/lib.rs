//! Denies hook containers whose images are not under an allowed registry. See README.md.

mod image;

use hooks_policy_sdk::{Context, Denial, Hook, Validator, pod_specs};
use serde::Deserialize;

pub use image::ImageRef;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Registries (`registry.example.com`, `localhost:5000`) or registry path prefixes
    /// (`ghcr.io/acme`) images may come from.
    pub registries: Vec<String>,
}

#[derive(Debug)]
pub struct AllowedRegistries;

impl Validator for AllowedRegistries {
    fn validate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String> {
        let settings: Settings = ctx.settings_as()?;
        // Fail closed: an empty allow-list is almost certainly a configuration mistake,
        // and denying everything would hide it behind a wall of denials.
        if settings.registries.iter().all(|r| r.trim().is_empty()) {
            return Err(
                "setting `registries` is required: a non-empty list such as [\"registry.example.com\", \"ghcr.io/acme\"]"
                    .to_owned(),
            );
        }
        let allowed = settings.registries.join(", ");
        let mut denials = Vec::new();
        for hook in hooks {
            for pod in pod_specs(hook) {
                for c in pod.containers() {
                    let at = c.path.key("image");
                    let who = format!("container `{}`", c.name());
                    let reason = match c.image().map(ImageRef::parse) {
                        None => format!("{who} has no image ({at})"),
                        Some(Err(e)) => format!("{who} has an invalid image reference ({at}): {e}"),
                        Some(Ok(img)) if settings.registries.iter().any(|r| img.is_under(r)) => {
                            continue;
                        }
                        Some(Ok(img)) => format!(
                            "{who} image `{}` ({at}) resolves to {img}, which is not under an allowed registry ({allowed})",
                            c.image().unwrap_or_default()
                        ),
                    };
                    denials.push(Denial::hook(hook, reason));
                }
            }
        }
        Ok(denials)
    }
}

hooks_policy_sdk::export_validator!(AllowedRegistries);

#[cfg(test)]
mod tests;
