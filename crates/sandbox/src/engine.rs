//! The wasmtime engine every policy shares: configuration, the linker (WASI p2 with an
//! empty context plus the contract's `host` interface), the epoch ticker that enforces
//! wall-clock caps, and the compile cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings;
use crate::cache::CompileCache;
use crate::limits::{LOG_MESSAGE_BYTES, LOG_MESSAGES, Limiter, MIB};
use crate::pool::{self, Slots};
use crate::stdio::BoundedPipe;

/// How often the epoch advances: the granularity of every wall-clock cap. 10 ms keeps
/// the overshoot of a 1 s cap at ~1 % for a thread that wakes 100 times a second.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Where compiled policies are cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// `$XDG_CACHE_HOME/kubectl-hooks/policies` or the platform's equivalent; no cache
    /// when the platform has no cache directory.
    #[default]
    User,
    At(PathBuf),
    Disabled,
}

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub cache: CacheDir,
    /// Compile with fuel metering, so that policies can have `limits.fuel`. Off by
    /// default: metering makes every call slower and the artifacts differ.
    pub fuel: bool,
}

/// The shared host for policies. Cheap to clone; the ticker thread stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct PolicyEngine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) linker: Linker<State>,
    pub(crate) cache: CompileCache,
    pub(crate) fuel: bool,
    /// Calls in flight on the instance pool; `None` when the engine allocates per call.
    pub(crate) slots: Option<Slots>,
    ticker: Option<Ticker>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("cache", &self.inner.cache)
            .field("fuel", &self.inner.fuel)
            .field("pooled", &self.pooled())
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    pub fn new(options: EngineOptions) -> Result<PolicyEngine, String> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(options.fuel);
        let mut frugal = config.clone();
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool::config()));
        // The pool reserves its address space up front (4 GiB and a guard per memory, so
        // that compiled code needs no bounds checks). Where that is refused, as under a
        // `ulimit -v`, policies still run: allocated per call, each memory mapped at its
        // size and moved when it grows, at the price of explicit bounds checks.
        frugal
            .memory_reservation(0)
            .memory_reservation_for_growth(16 * MIB)
            .memory_guard_size(64 * 1024);
        let (engine, slots) = match wasmtime::Engine::new(&config) {
            Ok(engine) => (engine, Some(Slots::default())),
            Err(_) => (
                wasmtime::Engine::new(&frugal).map_err(|e| format!("{e:#}"))?,
                None,
            ),
        };

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("{e:#}"))?;
        bindings::Policy::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)
            .map_err(|e| format!("{e:#}"))?;

        let cache = CompileCache::new(&engine, options.cache);
        let ticker = Some(Ticker::start(&engine));
        Ok(PolicyEngine {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                fuel: options.fuel,
                slots,
                ticker,
            }),
        })
    }

    pub fn fuel_enabled(&self) -> bool {
        self.inner.fuel
    }

    /// Whether calls are instantiated from the instance pool (the normal case) rather
    /// than allocated per call (where the pool's address space could not be reserved).
    pub fn pooled(&self) -> bool {
        self.inner.slots.is_some()
    }

    /// The directory compiled policies are cached in, if any.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache.dir()
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// Advances the engine's epoch every [`TICK`]. Policies get a deadline in ticks, so a
/// guest stuck in a loop is interrupted however it loops (no cooperation needed).
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(engine: &wasmtime::Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        // A weak handle: the ticker must not keep the engine alive.
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// One message from a guest: `host.log`, or a line it printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestLog {
    pub policy: String,
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    /// A line the guest printed to stdout.
    Stdout,
    /// A line the guest printed to stderr (a panic message lands here).
    Stderr,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Stdout => "stdout",
            LogLevel::Stderr => "stderr",
        }
    }
}

/// The store's data for one call: a WASI context with nothing in it, the limiter, and
/// what the guest said.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) logs: Vec<(LogLevel, String)>,
    pub(crate) dropped_logs: usize,
    pub(crate) stdout: BoundedPipe,
    pub(crate) stderr: BoundedPipe,
}

impl State {
    pub(crate) fn new(memory_bytes: u64, stdio_bytes: usize) -> State {
        let stdout = BoundedPipe::new(stdio_bytes);
        let stderr = BoundedPipe::new(stdio_bytes);
        // Deliberately empty: no preopened directories, environment, arguments, stdin or
        // network. `WasiCtxBuilder` inherits nothing unless asked to.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(memory_bytes),
            logs: Vec::new(),
            dropped_logs: 0,
            stdout,
            stderr,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::kubectl_hooks::policy::types::Host for State {}

impl bindings::kubectl_hooks::policy::host::Host for State {
    fn log(&mut self, level: bindings::kubectl_hooks::policy::host::Level, message: String) {
        use bindings::kubectl_hooks::policy::host::Level;
        if self.logs.len() >= LOG_MESSAGES {
            self.dropped_logs += 1;
            return;
        }
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.logs
            .push((level, truncate(message, LOG_MESSAGE_BYTES)));
    }
}

pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" … (truncated)");
    }
    text
}
