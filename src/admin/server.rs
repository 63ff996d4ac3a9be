//! The standalone listener (`admin.enabled`): bound before the cache's tree starts (so a taken
//! port fails the start cleanly), served on the application's Tokio runtime, owned by the
//! cache's handles. `Cache::shutdown()` stops it; so does dropping the last handle (the
//! listener's own copy of the cache holds no reference back to it, so it never keeps the
//! cache alive).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deeper_cache_actors::{AdminConfig, CacheError, CacheResult};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Cache;

/// How long `shutdown()` waits for requests in flight before it drops them.
const DRAIN: Duration = Duration::from_secs(5);

/// A running admin listener.
#[derive(Debug)]
pub(crate) struct AdminListener {
    addr: SocketAddr,
    /// Tells the server to stop accepting and finish its requests.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    /// The server's task, awaited by [`AdminListener::stop`].
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Binds `admin.listen` (validated beforehand).
pub(crate) async fn bind(config: &AdminConfig) -> CacheResult<TcpListener> {
    let addr: SocketAddr = config
        .listen
        .trim()
        .parse()
        .map_err(|_| CacheError::Config {
            key: "admin.listen".into(),
            value: format!("{:?}", config.listen),
            message: "expected an address such as 127.0.0.1:9569".into(),
        })?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| CacheError::Config {
            key: "admin.listen".into(),
            value: addr.to_string(),
            message: format!("cannot listen: {e}"),
        })
}

/// Serves the admin router of `cache` on `listener` until stopped.
pub(crate) fn spawn(
    listener: TcpListener,
    cache: &Cache,
    config: &AdminConfig,
) -> CacheResult<Arc<AdminListener>> {
    let addr = listener.local_addr().map_err(|e| CacheError::Start {
        reason: format!("the admin listener has no address: {e}"),
    })?;
    let app = super::router(cache.clone(), config.clone())?
        .into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(target: "deeper_cache::admin", error = %e, "the admin listener stopped");
        }
    });
    if config.has_tokens() {
        tracing::info!(
            target: "deeper_cache::admin",
            %addr,
            read_tokens = config.read_tokens.len(),
            admin_tokens = config.admin_tokens.len(),
            show_values = config.show_values,
            "serving the admin interface"
        );
    } else {
        tracing::warn!(
            target: "deeper_cache::admin",
            %addr,
            "serving the admin interface without tokens: read-only, to local processes; set admin.admin_tokens to invalidate entries from it"
        );
    }
    Ok(Arc::new(AdminListener {
        addr,
        stop: Mutex::new(Some(tx)),
        task: tokio::sync::Mutex::new(Some(task)),
    }))
}

impl AdminListener {
    /// The address it listens on (the port chosen when `admin.listen` asked for port 0).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn signal(&self) {
        let tx = match self.stop.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
    }

    /// Stops accepting, waits (at most a few seconds) for the requests in flight, then ends
    /// the server. Idempotent.
    pub(crate) async fn stop(&self) {
        self.signal();
        let task = self.task.lock().await.take();
        if let Some(mut task) = task
            && tokio::time::timeout(DRAIN, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for AdminListener {
    fn drop(&mut self) {
        self.signal();
    }
}
