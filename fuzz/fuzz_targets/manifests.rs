//! The manifest loader, Helm's annotation rules and planning, on any input, as YAML and as
//! JSON: an error is fine, a panic or a hang is a bug.

#![no_main]

use hooks_plan::{Event, Input, LoadOptions, Ordering};
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
            let _ = hook.manifest();
        }
        for event in Event::ALL {
            for ordering in [Ordering::Helm, Ordering::Documented] {
                let _ = catalog.clone().into_plan(event, ordering);
            }
        }
    }
});
