//! A loopback Kubernetes API emulator for tests and the no-cluster demo.
//!
//! It speaks the real REST protocol well enough for the real `kubectl` (1.32) and kube-rs:
//! discovery (aggregated and legacy), minimal OpenAPI v3 for strict validation, CRUD with
//! label/field selectors, watches that resume from a resourceVersion, merge/JSON patch,
//! server-side apply with field ownership (`managedFields`) and conflicts, deletion with
//! propagation, finalizers and an optional delay, CRDs, pod logs, and simulated Job/Pod
//! controllers.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hooks_emulator::{Emulator, EmulatorOptions};
//! let emu = Emulator::start(EmulatorOptions::default()).await?;
//! emu.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"), "default", None)?;
//! println!("serving on {}", emu.url());
//! # Ok(()) }
//! ```
//!
//! Steering simulated pods: annotate the Pod, its Job, or the Job's pod template with
//! [`OUTCOME_ANNOTATION`] (`fail` / `succeed`) and [`DURATION_ANNOTATION`] (`2s`); otherwise a
//! container whose shell command ends in `exit N` (N ≠ 0) or `false` fails.
//!
//! Request bodies must be JSON, except the protobuf that kubectl's imperative commands send
//! for ConfigMap, Secret, Namespace and ServiceAccount (`kubectl create namespace x`); other
//! protobuf bodies get 415. Responses are always JSON, which every client accepts.
//!
//! Known simplifications: no schema validation (unknown fields are accepted even with
//! `fieldValidation=Strict`), strategic merge patch is a JSON merge patch, server-side
//! apply treats lists as atomic (replaced, never merged by key; see `fields`), no
//! conversion between CRD versions, `limit`/`continue` are ignored, and only Jobs and Pods
//! have controllers.
#![forbid(unsafe_code)]

mod admission;
mod controllers;
mod discovery;
mod emulator;
mod faults;
mod fields;
mod obj;
mod ops;
mod patch;
mod podsim;
mod proto;
mod resources;
mod selectors;
mod server;
mod status;
mod store;
mod table;
mod time;
mod tls;
mod watch;

pub use emulator::{Emulator, EmulatorError, EmulatorOptions, RequestRecord};
pub use podsim::{DURATION_ANNOTATION, OUTCOME_ANNOTATION};
pub use time::parse_duration;
