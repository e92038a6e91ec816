//! The policy configuration parser on any input: an error naming the file is fine, a
//! panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hooks_sandbox::PolicyConfig::parse(std::path::Path::new("/fuzz/policies.yaml"), &text);
});
