//! Integration tests of the policy host, one module per topic. The adversarial fixtures
//! live in `tests/guests/` and are built for `wasm32-wasip2` before the tests run
//! (`scripts/build-policies.sh adversary-policy adversary-v2-policy`).

mod cache;
mod config;
mod containment;
mod load;
mod pipeline;
mod pool;
mod util;
