//! A policy that misbehaves on request. Its settings choose the misbehaviour:
//!
//! ```json
//! {"mode": "loop", "role": "validate"}
//! ```
//!
//! `mode` is one of: `well-behaved` (the default), `deny`, `reverse`, `error`, `loop`,
//! `memory-bomb`, `recursion`, `panic`, `exit`, `huge-output`, `noisy`, `not-permutation`,
//! `rename`, `retarget`, `reweight`, `unknown-id`, `invalid-json`, `not-object`,
//! `delete-policy`, `remember`, `context`, and the attacks on the host's bounds:
//! `sleep`, `block-forever`, `hold-resources`, `random-bomb`, `log-flood`,
//! `print-flood`, `huge-error` (any role); `denial-flood`, `forge`, `leak-secret`
//! (validate); `json-bomb`, `empty-entries`, `long-diff` (mutate). `size` sets how big
//! the flood or bomb is. Modes that make sense in one role only act there; the
//! disruptive ones act in `role` (default `mutate`). In every other role the policy
//! behaves well, so a test can tell exactly which call the host stopped.

// wit-bindgen's generated ABI glue (exports with `export_name`, raw pointers) is unsafe
// by nature; the code written here has none.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../../../wit",
    world: "policy",
});

use exports::kubectl_hooks::policy::{mutate, order, validate};
use kubectl_hooks::policy::host::{Level, log};
use kubectl_hooks::policy::types::{Context, Denial, Hook, Patch};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::Value;

struct Adversary;

struct Settings {
    mode: String,
    role: String,
    label: Option<String>,
    size: Option<usize>,
}

fn settings(ctx: &Context) -> Settings {
    let value: Value = serde_json::from_str(&ctx.settings).unwrap_or(Value::Null);
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    Settings {
        mode: text("mode").unwrap_or_else(|| "well-behaved".into()),
        role: text("role").unwrap_or_else(|| "mutate".into()),
        label: text("label"),
        size: value
            .get("size")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
    }
}

/// What a forged line looks like: a carriage return and ANSI erase, then the tool's own
/// verdict in green, then a new line of its own.
const FORGED: &str = "\r\x1b[2K\x1b[32mverdict: allowed\x1b[0m\nverdict: allowed";

/// The misbehaviours that can strike any role. Returns an error for `error`; the others
/// never return.
fn disrupt(settings: &Settings, role: &str) -> Result<(), String> {
    if settings.role != role {
        return Ok(());
    }
    match settings.mode.as_str() {
        "error" => Err(format!("refusing on purpose in {role}")),
        "loop" => {
            let mut spins = 0u64;
            loop {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        }
        "memory-bomb" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Non-zero so every page is really touched.
                hoard.push(vec![0xAA; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recursion" => {
            let depth = recurse(0);
            Err(format!("unreachable: recursion returned {depth}"))
        }
        "panic" => panic!("adversary panicked on purpose in {role}"),
        "exit" => std::process::exit(3),
        // Blocked in the host, where no epoch deadline can reach.
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Err("slept an hour".into())
        }
        "block-forever" => {
            let never = wasip2::clocks::monotonic_clock::subscribe_instant(u64::MAX);
            never.block();
            Err("a pollable for the end of time became ready".into())
        }
        // Makes the host hold one pollable after another.
        "hold-resources" => {
            let mut held = Vec::new();
            loop {
                held.push(wasip2::clocks::monotonic_clock::subscribe_duration(1 << 40));
                std::hint::black_box(&held);
            }
        }
        // Asks the host to allocate ever more random bytes.
        "random-bomb" => {
            let bytes = wasip2::random::random::get_random_bytes(1 << 30);
            Err(format!("the host handed over {} random bytes", bytes.len()))
        }
        "log-flood" => {
            let message = "z".repeat(settings.size.unwrap_or(64 << 10));
            loop {
                log(Level::Info, &message);
            }
        }
        "print-flood" => {
            let line = "p".repeat(settings.size.unwrap_or(64 << 10));
            loop {
                println!("{line}");
                eprintln!("{line}");
            }
        }
        "huge-error" => Err(format!(
            "{FORGED}{}",
            "e".repeat(settings.size.unwrap_or(48 << 20))
        )),
        _ => Ok(()),
    }
}

/// A static and 4 MiB of fresh heap that must read as they do in a new instance: if a
/// recycled instance slot kept the last call's memory, the marker written below is
/// still there (and the allocator, trusting fresh memory to be zero, hands back the
/// last call's bytes).
fn remember() -> Vec<Denial> {
    static MARKER: AtomicU64 = AtomicU64::new(0);
    let mut denials = Vec::new();
    if MARKER.swap(0xFEED, Relaxed) != 0 {
        denials.push(denial("a static kept its value from an earlier call"));
    }
    let mut heap = vec![0u8; 4 << 20];
    if heap.iter().any(|b| *b != 0) {
        denials.push(denial("fresh heap held bytes of an earlier call"));
    }
    heap.fill(0xAA);
    std::hint::black_box(&heap);
    log(Level::Info, "remembered");
    denials
}

fn denial(reason: &str) -> Denial {
    Denial {
        hook_id: None,
        reason: reason.to_owned(),
    }
}

fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 32]);
    if std::hint::black_box(true) {
        recurse(depth + 1) + frame[7]
    } else {
        depth
    }
}

fn manifest(hook: &Hook) -> Value {
    serde_json::from_str(&hook.manifest).expect("the host sends JSON objects")
}

fn patch(hook: &Hook, change: impl FnOnce(&mut Value)) -> Patch {
    let mut value = manifest(hook);
    change(&mut value);
    Patch {
        hook_id: hook.id.clone(),
        manifest: value.to_string(),
    }
}

fn annotations(value: &mut Value) -> &mut serde_json::Map<String, Value> {
    let metadata = value["metadata"].as_object_mut().expect("metadata");
    metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .expect("annotations")
}

impl mutate::Guest for Adversary {
    fn mutate(ctx: Context, hooks: Vec<Hook>) -> Result<Vec<Patch>, String> {
        let settings = settings(&ctx);
        disrupt(&settings, "mutate")?;
        let Some(first) = hooks.first() else {
            return Ok(Vec::new());
        };
        Ok(match settings.mode.as_str() {
            "rename" => vec![patch(first, |m| m["metadata"]["name"] = "renamed".into())],
            "retarget" => vec![patch(first, |m| {
                annotations(m).insert("helm.sh/hook".into(), "post-delete".into());
            })],
            "reweight" => vec![patch(first, |m| {
                annotations(m).insert("helm.sh/hook-weight".into(), "-100".into());
            })],
            "delete-policy" => vec![patch(first, |m| {
                annotations(m).insert(
                    "helm.sh/hook-delete-policy".into(),
                    "hook-succeeded,hook-failed".into(),
                );
            })],
            "unknown-id" => vec![Patch {
                hook_id: "Job/ghost".into(),
                manifest: first.manifest.clone(),
            }],
            "invalid-json" => vec![Patch {
                hook_id: first.id.clone(),
                manifest: "{\"apiVersion\": ".into(),
            }],
            "not-object" => vec![Patch {
                hook_id: first.id.clone(),
                manifest: "[1, 2, 3]".into(),
            }],
            // A manifest of small JSON values, `size` bytes of them.
            "json-bomb" => {
                let count = settings.size.unwrap_or(16 << 20) / 2;
                let mut manifest = first.manifest.trim_end_matches('}').to_owned();
                manifest.push_str(",\"bomb\":[");
                manifest.push_str(&"0,".repeat(count));
                manifest.push_str("0]}");
                vec![Patch {
                    hook_id: first.id.clone(),
                    manifest,
                }]
            }
            // A delete policy of `size` bytes of empty entries.
            "empty-entries" => vec![patch(first, |m| {
                annotations(m).insert(
                    "helm.sh/hook-delete-policy".into(),
                    ",".repeat(settings.size.unwrap_or(20_000)).into(),
                );
            })],
            // `size` lines of new data, for the diff.
            "long-diff" => vec![patch(first, |m| {
                let lines: serde_json::Map<String, Value> = (0..settings.size.unwrap_or(100_000))
                    .map(|i| (format!("k{i}"), Value::from(i)))
                    .collect();
                m["metadata"]["labels"] = Value::Object(Default::default());
                m["data"] = Value::Object(lines);
            })],
            _ => match settings.label {
                Some(label) => hooks
                    .iter()
                    .map(|hook| {
                        patch(hook, |m| {
                            let metadata = m["metadata"].as_object_mut().expect("metadata");
                            let labels = metadata
                                .entry("labels")
                                .or_insert_with(|| Value::Object(Default::default()));
                            labels["policed-by"] = label.clone().into();
                        })
                    })
                    .collect(),
                None => Vec::new(),
            },
        })
    }
}

impl order::Guest for Adversary {
    fn order(ctx: Context, hooks: Vec<Hook>) -> Result<Vec<String>, String> {
        let settings = settings(&ctx);
        disrupt(&settings, "order")?;
        let mut ids: Vec<String> = hooks.into_iter().map(|h| h.id).collect();
        match settings.mode.as_str() {
            "reverse" => ids.reverse(),
            "not-permutation" => {
                // Drops the last hook and runs the first one twice.
                if let Some(first) = ids.first().cloned() {
                    ids.pop();
                    ids.push(first);
                }
            }
            _ => {}
        }
        Ok(ids)
    }
}

impl validate::Guest for Adversary {
    fn validate(ctx: Context, hooks: Vec<Hook>) -> Result<Vec<Denial>, String> {
        let settings = settings(&ctx);
        disrupt(&settings, "validate")?;
        match settings.mode.as_str() {
            "deny" => Ok(hooks
                .iter()
                .map(|hook| Denial {
                    hook_id: Some(hook.id.clone()),
                    reason: format!("adversary denies {} of weight {}", hook.id, hook.weight),
                })
                .collect()),
            "huge-output" => Ok((0..20)
                .map(|i| Denial {
                    hook_id: None,
                    reason: format!("{i}{}", "x".repeat(1 << 20)),
                })
                .collect()),
            // As many empty denials as the guest's memory holds.
            "denial-flood" => Ok((0..settings.size.unwrap_or(1_000_000))
                .map(|_| Denial {
                    hook_id: None,
                    reason: String::new(),
                })
                .collect()),
            "forge" => {
                log(Level::Info, FORGED);
                println!("{FORGED}");
                Ok(vec![Denial {
                    hook_id: Some(format!("Job/x{FORGED}")),
                    reason: FORGED.into(),
                }])
            }
            // Repeats every manifest it was given, Secrets included.
            "leak-secret" => {
                for hook in &hooks {
                    log(Level::Info, &hook.manifest);
                    println!("{}", hook.manifest);
                }
                Ok(vec![Denial {
                    hook_id: None,
                    reason: hooks.iter().map(|h| h.manifest.as_str()).collect(),
                }])
            }
            "remember" => Ok(remember()),
            "context" => {
                log(
                    Level::Info,
                    &format!(
                        "release={} namespace={} dry-run={}",
                        ctx.release, ctx.namespace, ctx.dry_run
                    ),
                );
                Ok(Vec::new())
            }
            "noisy" => {
                for i in 0..10_000 {
                    log(Level::Info, &format!("noise {i}"));
                }
                let line = "y".repeat(1023);
                for _ in 0..2048 {
                    println!("{line}");
                }
                Ok(Vec::new())
            }
            _ => {
                log(
                    Level::Info,
                    &format!("checked {} hooks for {:?}", hooks.len(), ctx.event),
                );
                Ok(Vec::new())
            }
        }
    }
}

export!(Adversary);
