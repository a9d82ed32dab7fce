//! Command line: `run`, `demo`, `sim`, `check-config`, `normalize`, `detect`.

use crate::clock::SystemClock;
use crate::config::{Config, LogFormat};
use crate::daemon::Daemon;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use trackd_carrier_sdk::{CarrierError, HttpResponse};

#[derive(Parser, Debug)]
#[command(
    name = "trackd",
    version,
    about = "Carrier tracking aggregator: poll, normalize, diff, stream"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon (embedded defaults when no config file is given).
    Run {
        #[arg(long, env = "TRACKD_CONFIG")]
        config: Option<PathBuf>,
        /// Overrides server.listen.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Overrides storage.data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run the daemon against the built-in carrier simulator, with a few hundred parcels.
    Demo(crate::demo::DemoArgs),
    /// Run the carrier simulator alone (for `trackd run` or other clients to poll).
    Sim(crate::demo::SimArgs),
    /// Validate a config file; print every error with its key.
    CheckConfig {
        /// The TOML file (omit to check the embedded defaults plus TRACKD_* variables).
        file: Option<PathBuf>,
    },
    /// Parse a saved carrier response and print the normalized result as JSON.
    Normalize {
        #[arg(long)]
        carrier: String,
        /// Body file, or a raw HTTP capture starting with `HTTP/1.1 200 ...`.
        file: PathBuf,
        /// Tracking number(s) the request asked for (some formats need them).
        #[arg(long = "number")]
        numbers: Vec<String>,
        /// HTTP status the body came with, when the file is a bare body.
        #[arg(long, default_value_t = 200)]
        status: u16,
    },
    /// Tell which carrier(s) a tracking number belongs to, offline.
    Detect { number: String },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            listen,
            data_dir,
        } => run_async(run(config, listen, data_dir)),
        Command::Demo(args) => run_async(async move {
            init_logging(
                &Config::load(None, std::env::vars()).map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            crate::demo::run_demo(args).await
        }),
        Command::Sim(args) => run_async(async move {
            init_logging(
                &Config::load(None, std::env::vars()).map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            crate::demo::run_sim(args).await
        }),
        Command::CheckConfig { file } => check_config(file),
        Command::Normalize {
            carrier,
            file,
            numbers,
            status,
        } => normalize(&carrier, &file, &numbers, status),
        Command::Detect { number } => detect(&number),
    }
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up `tracing` from `[log]` (RUST_LOG wins when set).
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colour only on a terminal: log files and journald get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::load(path.as_deref(), std::env::vars())
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
}

async fn run(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut cfg = load_config(config)?;
    if let Some(l) = listen {
        cfg.server.listen = l;
    }
    if let Some(d) = data_dir {
        cfg.storage.data_dir = d;
    }
    init_logging(&cfg);
    let daemon = Daemon::start(cfg, Arc::new(SystemClock)).await?;
    println!("trackd listening on {}", daemon.url());
    wait_for_signal().await;
    tracing::info!("shutting down");
    daemon
        .shutdown()
        .await
        .context("flushing the store at shutdown")?;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
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

fn check_config(file: Option<PathBuf>) -> ExitCode {
    match Config::load(file.as_deref(), std::env::vars()) {
        Ok(cfg) => {
            let plugins = crate::carriers::builtin();
            let unknown: Vec<_> = cfg
                .carriers
                .keys()
                .filter(|slug| !plugins.iter().any(|p| p.descriptor().slug == slug.as_str()))
                .collect();
            if !unknown.is_empty() {
                for slug in unknown {
                    eprintln!("carriers.{slug}: no such carrier plugin");
                }
                return ExitCode::FAILURE;
            }
            println!("configuration OK");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a bare body or a raw HTTP capture (`HTTP/1.1 200 OK`, headers, blank line, body).
fn read_response(bytes: Vec<u8>, status: u16) -> HttpResponse {
    if bytes.starts_with(b"HTTP/") {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| (p, 4))
            .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
        if let Some((pos, sep)) = split {
            let head = String::from_utf8_lossy(&bytes[..pos]).to_string();
            let mut lines = head.lines();
            let code = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or(status);
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return HttpResponse {
                status: code,
                headers,
                body: bytes[pos + sep..].to_vec(),
            };
        }
    }
    HttpResponse {
        status,
        headers: Vec::new(),
        body: bytes,
    }
}

fn normalize(carrier: &str, file: &PathBuf, numbers: &[String], status: u16) -> ExitCode {
    let plugins = crate::carriers::builtin();
    let Some(plugin) = plugins.iter().find(|p| p.descriptor().slug == carrier) else {
        let known: Vec<_> = plugins.iter().map(|p| p.descriptor().slug).collect();
        eprintln!(
            "error: unknown carrier {carrier:?} (known: {})",
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let resp = read_response(bytes, status);
    let numbers: Vec<String> = numbers
        .iter()
        .map(|n| crate::carriers::normalize_number(n))
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    match plugin.parse_track(&refs, &resp) {
        Ok(results) => {
            let mut failed = false;
            let out: Vec<serde_json::Value> = results
                .iter()
                .map(|r| match &r.outcome {
                    Ok(s) => serde_json::json!({ "tracking_number": r.tracking_number, "snapshot": s }),
                    Err(e) => {
                        failed |= matches!(e, CarrierError::Malformed { .. });
                        serde_json::json!({ "tracking_number": r.tracking_number, "error": { "kind": e.kind(), "message": e.to_string() } })
                    }
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!(
                "error: {} answer could not be normalized: {e}",
                plugin.descriptor().name
            );
            println!(
                "{}",
                serde_json::json!({ "error": { "kind": e.kind(), "message": e.to_string() } })
            );
            ExitCode::FAILURE
        }
    }
}

fn detect(raw: &str) -> ExitCode {
    let plugins = crate::carriers::builtin();
    let detected = crate::detection::detect(raw);
    let plugin_hits = crate::carriers::detect(&plugins, &detected.number);
    let decided = crate::carriers::detect_one(&plugins, &detected.number);
    let out = serde_json::json!({
        "tracking_number": detected.number,
        "carrier": decided.as_ref().ok(),
        "ambiguous": matches!(detected.verdict_with(&plugin_hits
            .iter()
            .filter_map(|(s, d)| crate::detection::Confidence::from_detection(*d).map(|c| (*s, c)))
            .collect::<Vec<_>>()), crate::detection::Verdict::Ambiguous(_)),
        "message": decided.as_ref().err(),
        "matches": detected.matches,
        "plugin_matches": plugin_hits.iter().map(|(slug, d)| serde_json::json!({ "carrier": slug, "confidence": format!("{d:?}").to_lowercase() })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if decided.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
