//! Tells `kubectl hooks version` which wasmtime is linked: the version in the
//! workspace's Cargo.lock, which is what cargo builds with `--locked`.

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    println!("cargo:rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|entry| entry.contains("\nname = \"wasmtime\"\n"))
        .and_then(|entry| {
            entry
                .lines()
                .find_map(|line| line.strip_prefix("version = \""))
                .map(|v| v.trim_end_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=KUBECTL_HOOKS_WASMTIME_VERSION={version}");
}
