//! Prometheus export (cargo feature `prometheus`, on by default).
//!
//! Two ways to expose the cache's metrics:
//! - **Built-in endpoint**: set `metrics.prometheus.enabled = true` (and `listen`); the first
//!   cache started with it installs a Prometheus recorder as the process's global `metrics`
//!   recorder and serves `GET /metrics` on `listen` from a small dedicated thread. Later caches
//!   in the same process share it.
//! - **Your own server or recorder**: call [`install_recorder`] once and serve [`render`]'s
//!   text from your HTTP stack; or keep your own recorder — the cache only talks to the
//!   `metrics` facade and never installs anything unless asked.
//!
//! The latency histogram `deeper_hub_core_cache_operation_duration_seconds` gets explicit
//! buckets from 2.5 µs to 5 s, so it renders as a Prometheus histogram, not a summary.
//!
//! ```no_run
//! # fn main() -> Result<(), deeper_cache::CacheError> {
//! let handle = deeper_cache::prometheus::install_recorder()?;
//! // ... start caches, run the application ...
//! let exposition: String = handle.render();
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use deeper_cache_actors::stats::{DURATION_BUCKETS, names};
use deeper_cache_actors::{CacheError, CacheResult};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

pub use metrics_exporter_prometheus::PrometheusHandle;

/// What this process installed: the recorder's handle and, when serving, the address.
#[derive(Debug, Clone)]
struct Installed {
    handle: PrometheusHandle,
    listen: Option<SocketAddr>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();
static INSTALL_LOCK: Mutex<()> = Mutex::new(());

fn builder() -> CacheResult<PrometheusBuilder> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::DURATION.to_string()),
            &DURATION_BUCKETS,
        )
        .map_err(|e| config_error(e.to_string()))
}

fn config_error(message: String) -> CacheError {
    CacheError::Config {
        key: "metrics.prometheus.enabled".into(),
        value: "true".into(),
        message,
    }
}

/// Installs a Prometheus recorder (with the cache's histogram buckets) as the global `metrics`
/// recorder, without an HTTP endpoint, and returns its handle; call `render()` on it from your
/// own server. Idempotent: later calls return the same handle.
///
/// # Errors
/// [`CacheError::Config`] when another `metrics` recorder is already installed.
pub fn install_recorder() -> CacheResult<PrometheusHandle> {
    let _guard = INSTALL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = INSTALLED.get() {
        return Ok(i.handle.clone());
    }
    let handle = builder()?
        .install_recorder()
        .map_err(|e| config_error(format!("cannot install the Prometheus recorder: {e}")))?;
    // Without an endpoint nothing drains the histograms between renders: run the recorder's
    // upkeep on a small thread that lives as long as the recorder (the process).
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("deeper-cache-prometheus-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| config_error(format!("cannot start the upkeep thread: {e}")))?;
    let _ = INSTALLED.set(Installed {
        handle: handle.clone(),
        listen: None,
    });
    Ok(handle)
}

/// Installs the recorder and serves `GET /metrics` on `listen` from a dedicated thread (it
/// lives as long as the process, like the global recorder it serves). Idempotent for the same
/// address; a second address is refused.
///
/// # Errors
/// [`CacheError::Config`] when the address cannot be bound, another recorder is installed,
/// or the endpoint already runs elsewhere.
pub fn serve(listen: SocketAddr) -> CacheResult<PrometheusHandle> {
    let _guard = INSTALL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = INSTALLED.get() {
        return match i.listen {
            Some(addr) if addr == listen => Ok(i.handle.clone()),
            Some(addr) => Err(CacheError::Config {
                key: "metrics.prometheus.listen".into(),
                value: listen.to_string(),
                message: format!("this process already serves /metrics on {addr}"),
            }),
            None => Err(config_error(
                "a recorder without an endpoint was installed by install_recorder(); serve its render() instead"
                    .into(),
            )),
        };
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| config_error(format!("cannot start the exporter runtime: {e}")))?;
    let (recorder, exporter) = {
        let _entered = runtime.enter();
        builder()?
            .with_http_listener(listen)
            .build()
            .map_err(|e| CacheError::Config {
                key: "metrics.prometheus.listen".into(),
                value: listen.to_string(),
                message: format!("cannot serve /metrics: {e}"),
            })?
    };
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| config_error(format!("cannot install the Prometheus recorder: {e}")))?;
    std::thread::Builder::new()
        .name("deeper-cache-prometheus".into())
        .spawn(move || {
            if let Err(e) = runtime.block_on(exporter) {
                tracing::error!(error = ?e, "the Prometheus endpoint stopped");
            }
        })
        .map_err(|e| config_error(format!("cannot start the exporter thread: {e}")))?;
    tracing::info!(%listen, "serving Prometheus metrics on /metrics");
    let _ = INSTALLED.set(Installed {
        handle: handle.clone(),
        listen: Some(listen),
    });
    Ok(handle)
}

/// The current exposition text, if this crate installed the recorder ([`install_recorder`] or
/// `metrics.prometheus.enabled`).
pub fn render() -> Option<String> {
    INSTALLED.get().map(|i| i.handle.render())
}
