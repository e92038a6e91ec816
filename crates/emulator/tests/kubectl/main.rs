//! The real kubectl against the emulator: each test starts its own emulator on a random
//! loopback port and gives kubectl its own kubeconfig and empty HOME.

mod util;

mod apply;
mod auth;
mod basics;
mod crd;
mod deletion;
mod jobs;
mod watch;
