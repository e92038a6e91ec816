//! The manifest loader, Helm's annotation rules and planning, on any input, as YAML and as
//! JSON: an error is fine, a panic or a hang is a bug. And the JSON text policies get is
//! exactly what the full reader's value prints.

#![no_main]

use hooks_plan::{Event, Format, Input, LoadOptions, Ordering};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let content = String::from_utf8_lossy(data).into_owned();
    for name in ["fuzz.yaml", "fuzz.json"] {
        let input = Input::Text {
            name: name.into(),
            content: content.clone(),
        };
        let Ok(documents) = hooks_plan::load(&[input], &LoadOptions::default()) else {
            continue;
        };
        let Ok(catalog) = hooks_plan::parse(&documents) else {
            continue;
        };
        for hook in &catalog.hooks {
            let value = hook.manifest();
            let text = hook.manifest_json();
            match (value, text) {
                // YAML is written as the value prints; JSON documents are their own text.
                (Ok(value), Ok(text)) if hook.format == Format::Yaml => {
                    assert_eq!(value.to_string(), text)
                }
                (Ok(value), Ok(text)) => {
                    assert_eq!(
                        Ok(value),
                        serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())
                    )
                }
                (Err(_), Err(_)) => {}
                (value, text) => panic!("the readers disagree: {value:?} vs {text:?}"),
            }
        }
        for event in Event::ALL {
            for ordering in [Ordering::Helm, Ordering::Documented] {
                let _ = catalog.clone().into_plan(event, ordering);
            }
        }
    }
});
