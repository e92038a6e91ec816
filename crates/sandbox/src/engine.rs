//! The wasmtime engine every policy shares: configuration, the linker (WASI p2 with an
//! empty context plus the contract's `host` interface), the epoch ticker and the timer
//! runtime that together enforce wall-clock caps, and the compile cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::StoreContextMut;
use wasmtime::component::{HasSelf, Linker, ResourceTable, WasmStr};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings;
use crate::cache::CompileCache;
use crate::limits::{Limiter, Limits, MIB};
use crate::pool::{self, Slots};
use crate::role::Contract;
use crate::secrets::Masker;
use crate::stdio::BoundedPipe;

/// How often the epoch advances: the granularity of every wall-clock cap. 10 ms keeps
/// the overshoot of a 1 s cap at ~1 % for a thread that wakes 100 times a second.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Where compiled policies are cached, and where the key that authenticates the cache's
/// entries is kept (never inside the cache directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// `$XDG_CACHE_HOME/kubectl-hooks/policies` or the platform's equivalent, keyed by
    /// `$XDG_STATE_HOME/kubectl-hooks/cache.key` (else the local data directory); no
    /// cache when the platform has neither.
    #[default]
    User,
    /// This directory, keyed by the file beside it named like it plus `.key`.
    At(PathBuf),
    Disabled,
}

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub cache: CacheDir,
    /// Compile with fuel metering, so that policies can have `limits.fuel`. Off by
    /// default: metering makes every call slower and the artifacts differ.
    pub fuel: bool,
    pub instances: Instances,
}

/// Where each call's fresh instance gets its memories, tables and stack. Either way the
/// limits are the same ones, enforced by the same limiter; only the cost moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Instances {
    /// From a pool of slots reserved when the engine starts and reset between calls:
    /// the cheapest call, for a process that makes many (`policy test`, a server, a
    /// benchmark).
    #[default]
    Pooled,
    /// Mapped for each call and unmapped after it: nothing to reserve when the engine
    /// starts or to tear down when it ends, for a process that makes a few calls and
    /// exits (`plan`, `run`), where the pool's set-up and teardown cost more than every
    /// call it speeds up.
    PerCall,
}

/// How an engine allocates its instances: what [`Instances`] asked for, unless the
/// address space for it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    Pooled,
    PerCall,
    /// Per call, each memory mapped at its size and moved when it grows, with explicit
    /// bounds checks: where even one memory's reservation (4 GiB and its guards) was
    /// refused, as under a `ulimit -v`.
    PerCallBoundsChecked,
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
    pub(crate) allocation: Allocation,
    /// Calls in flight on the instance pool; `None` when the engine allocates per call.
    pub(crate) slots: Option<Slots>,
    /// Drives the timers of calls: WASI clocks and polls, and each call's deadline. Calls
    /// are polled on the caller's thread; this runtime's one worker only keeps time.
    pub(crate) timers: tokio::runtime::Runtime,
    ticker: Option<Ticker>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("cache", &self.inner.cache)
            .field("fuel", &self.inner.fuel)
            .field("allocation", &self.inner.allocation)
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    pub fn new(options: EngineOptions) -> Result<PolicyEngine, String> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        // Epoch interruption stops a guest in its own code; a guest blocked in a host
        // call (a WASI sleep, a never-ready pollable) is stopped by the deadline each
        // call is polled under, which needs calls to be async (see `call.rs`).
        config.epoch_interruption(true);
        config.consume_fuel(options.fuel);
        // Memories are reserved whole (4 GiB and guards each, so that compiled code
        // needs no bounds checks): the pool's up front, a per-call memory when the call
        // starts. Where that is refused, as under a `ulimit -v`, policies still run:
        // allocated per call, each memory mapped at its size and moved when it grows, at
        // the price of explicit bounds checks.
        let mut frugal = config.clone();
        frugal
            .memory_reservation(0)
            .memory_reservation_for_growth(16 * MIB)
            .memory_guard_size(64 * 1024);
        let reserved = match options.instances {
            Instances::Pooled => {
                config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
                    pool::config(),
                ));
                wasmtime::Engine::new(&config)
                    .ok()
                    .map(|engine| (engine, Allocation::Pooled))
            }
            Instances::PerCall => reservable()
                .then(|| wasmtime::Engine::new(&config).ok())
                .flatten()
                .map(|engine| (engine, Allocation::PerCall)),
        };
        let (engine, allocation) = match reserved {
            Some(found) => found,
            None => (
                wasmtime::Engine::new(&frugal).map_err(|e| format!("{e:#}"))?,
                Allocation::PerCallBoundsChecked,
            ),
        };
        let slots = (allocation == Allocation::Pooled).then(Slots::default);

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| format!("{e:#}"))?;
        link_host(&mut linker).map_err(|e| format!("{e:#}"))?;

        let cache = CompileCache::new(&engine, options.cache);
        let timers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("policy-timers")
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the policy timer thread: {e}"))?;
        let ticker = Some(Ticker::start(&engine));
        Ok(PolicyEngine {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                fuel: options.fuel,
                allocation,
                slots,
                timers,
                ticker,
            }),
        })
    }

    pub fn fuel_enabled(&self) -> bool {
        self.inner.fuel
    }

    /// How calls are instantiated: as [`EngineOptions::instances`] asked, unless the
    /// address space for it was refused.
    pub fn allocation(&self) -> Allocation {
        self.inner.allocation
    }

    /// The directory compiled policies are cached in, if any.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache.dir()
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }
}

/// Whether one memory's reservation, as a per-call instance makes it, fits the
/// address space this process may have: asked of the kernel rather than worked out from
/// `RLIMIT_AS`, which is not the only thing that can refuse it.
#[allow(unsafe_code)]
fn reservable() -> bool {
    // wasmtime's defaults on 64-bit hosts: a 4 GiB reservation with a 32 MiB guard
    // before and after it.
    let len = (4096 + 64) * MIB as usize;
    // SAFETY: a fresh inaccessible mapping at an address the kernel picks, touching no
    // memory of this process, unmapped again before anything could use it.
    unsafe {
        match rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::empty(),
            rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::NORESERVE,
        ) {
            Ok(at) => rustix::mm::munmap(at, len).is_ok(),
            Err(_) => false,
        }
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
                // The epoch follows the clock, not the count of wake-ups: on a loaded
                // machine a 10 ms sleep can take far longer, and a deadline counted in
                // wake-ups would come that much later.
                let started = std::time::Instant::now();
                let mut ticks: u128 = 0;
                while !flag.load(Ordering::Relaxed) {
                    // Parked rather than asleep, so that `stop` ends the wait at once
                    // instead of making every process wait out a tick on exit.
                    std::thread::park_timeout(TICK);
                    let Some(engine) = weak.upgrade() else { break };
                    let due = started.elapsed().as_nanos() / TICK.as_nanos();
                    while ticks < due {
                        engine.increment_epoch();
                        ticks += 1;
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
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
/// what the guest said, bounded by the policy's limits.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) logs: Vec<(LogLevel, String)>,
    pub(crate) dropped_logs: usize,
    log_messages: usize,
    log_bytes: usize,
    pub(crate) stdout: BoundedPipe,
    pub(crate) stderr: BoundedPipe,
    /// The plan's Secret values, masked in everything the guest says.
    pub(crate) masker: Arc<Masker>,
}

/// Host resources (pollables, streams) a guest may hold at once: a few dozen is what any
/// real guest uses; the table's default would let a guest make the host hold millions.
const RESOURCES: usize = 1024;
/// Bytes one `get-random-bytes` call may ask for; wasmtime's default is 64 MiB.
const RANDOM_BYTES: u64 = 64 * 1024;

impl State {
    pub(crate) fn new(limits: &Limits, masker: Arc<Masker>) -> State {
        let stdout = BoundedPipe::new(limits.stdio_bytes);
        let stderr = BoundedPipe::new(limits.stdio_bytes);
        // Deliberately empty: no preopened directories, environment, arguments, stdin or
        // network. `WasiCtxBuilder` inherits nothing unless asked to.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(RESOURCES);
        State {
            wasi,
            table,
            limiter: Limiter::new(limits),
            logs: Vec::new(),
            dropped_logs: 0,
            log_messages: limits.log_messages,
            log_bytes: limits.log_bytes,
            stdout,
            stderr,
            masker,
        }
    }

    /// Guest text as it may be shown: Secret values masked, escaped, at most `max` bytes.
    pub(crate) fn shown(&self, text: &str, max: usize) -> String {
        self.masker.shown(text, max)
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
impl bindings::v2::kubectl_hooks::policy::types::Host for State {}

impl From<bindings::kubectl_hooks::policy::host::Level> for LogLevel {
    fn from(level: bindings::kubectl_hooks::policy::host::Level) -> LogLevel {
        use bindings::kubectl_hooks::policy::host::Level;
        match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

impl From<bindings::v2::kubectl_hooks::policy::host::Level> for LogLevel {
    fn from(level: bindings::v2::kubectl_hooks::policy::host::Level) -> LogLevel {
        use bindings::v2::kubectl_hooks::policy::host::Level;
        match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// The contract's imports in every version the host speaks: `types` (nothing to
/// provide) and `host.log`.
fn link_host(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    bindings::kubectl_hooks::policy::types::add_to_linker::<State, HasSelf<State>>(
        linker,
        |state| state,
    )?;
    bindings::v2::kubectl_hooks::policy::types::add_to_linker::<State, HasSelf<State>>(
        linker,
        |state| state,
    )?;
    link_log::<bindings::kubectl_hooks::policy::host::Level>(linker, Contract::V0_1)?;
    link_log::<bindings::v2::kubectl_hooks::policy::host::Level>(linker, Contract::V0_2)?;
    Ok(())
}

/// `host.log` of `contract`, which takes the message as a view into guest memory so that
/// only the part kept is ever copied.
fn link_log<L>(linker: &mut Linker<State>, contract: Contract) -> wasmtime::Result<()>
where
    L: wasmtime::component::ComponentType
        + wasmtime::component::Lift
        + Into<LogLevel>
        + Send
        + Sync
        + 'static,
{
    let mut host = linker.instance(&format!("kubectl-hooks:policy/host@{}", contract.version()))?;
    host.func_wrap(
        "log",
        |mut store: StoreContextMut<'_, State>, (level, message): (L, WasmStr)| {
            let level: LogLevel = level.into();
            if store.data().logs.len() >= store.data().log_messages {
                store.data_mut().dropped_logs += 1;
                return Ok(());
            }
            let kept = {
                let state = store.data();
                state.shown(&message.to_str(&store)?, state.log_bytes)
            };
            store.data_mut().logs.push((level, kept));
            Ok(())
        },
    )?;
    Ok(())
}
