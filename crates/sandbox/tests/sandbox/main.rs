//! Integration tests of the policy host, one module per topic. The adversarial fixtures
//! live in `tests/guests/` and are built for `wasm32-wasip2` before the tests run
//! (`scripts/build-policies.sh $(cat scripts/wasm-packages.txt)`).

mod allocation;
mod cache;
mod config;
mod containment;
mod hostile;
mod load;
mod pipeline;
mod pool;
mod util;
