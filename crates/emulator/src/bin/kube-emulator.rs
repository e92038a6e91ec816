//! `kube-emulator`: run the loopback Kubernetes API emulator until Ctrl-C / SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hooks_emulator::{Emulator, EmulatorOptions, parse_duration};

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).ok_or_else(|| format!("{s:?} is not a duration (try 200ms, 2s, 1m)"))
}

fn rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a fraction between 0 and 1")),
    }
}

/// A small Kubernetes API server emulator on loopback, for tests and demos without a cluster.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig for the emulator here.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the kubeconfig's context.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Serve HTTPS with a self-signed CA (needed for tokens: kubectl sends none over HTTP).
    #[arg(long)]
    tls: bool,
    /// Bearer token to put in the kubeconfig (only sent by clients over --tls).
    #[arg(long)]
    token: Option<String>,
    /// Requests with this bearer token get 403 Forbidden on writes and on Secrets (as
    /// Kubernetes' `view` role).
    #[arg(long, value_name = "TOKEN")]
    read_only_token: Option<String>,
    /// How long simulated pods run.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pod_duration: Duration,
    /// How long deleted objects linger with a deletionTimestamp.
    #[arg(long, default_value = "0s", value_parser = duration)]
    deletion_delay: Duration,
    /// Fraction of requests answered 500 InternalError (not discovery).
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    error_rate: f64,
    /// Latency added to every request.
    #[arg(long, default_value = "0s", value_parser = duration)]
    latency: Duration,
    /// Close watch streams after this long.
    #[arg(long, value_parser = duration)]
    drop_watch_after: Option<Duration>,
    /// Seed for fault injection and generated names.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let opts = EmulatorOptions {
        tls: args.tls,
        port: args.port,
        pod_duration: args.pod_duration,
        deletion_delay: args.deletion_delay,
        error_rate: args.error_rate,
        latency: args.latency,
        drop_watch_after: args.drop_watch_after,
        read_only_token: args.read_only_token.clone(),
        seed: args.seed,
        ..EmulatorOptions::default()
    };
    let emu = match Emulator::start(opts).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "kube-emulator: cannot start on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.kubeconfig {
        if let Err(e) = emu.write_kubeconfig(path, &args.namespace, args.token.as_deref()) {
            eprintln!(
                "kube-emulator: cannot write kubeconfig {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        eprintln!("kubeconfig written to {}", path.display());
        eprintln!("try: KUBECONFIG={} kubectl get namespaces", path.display());
    }
    println!("{}", emu.url());
    terminated().await;
    emu.shutdown().await;
    ExitCode::SUCCESS
}
