//! Where the Redis backend's connections come from, in each `redis.mode`.
//!
//! - **standalone**: [`ConnectionManager`]s on `redis.url`, created lazily (a server down at
//!   start does not fail it) and reconnecting by themselves;
//! - **cluster**: the redis crate's cluster connection (`cluster-async`), discovered from the
//!   seed nodes in `redis.urls` in the background; it routes every command by its key's slot,
//!   splits multi-key commands (an `UNLINK` batch) per slot and follows `MOVED` / `ASK`
//!   redirections and topology changes by itself;
//! - **sentinel**: the sentinels in `redis.sentinel.urls` are asked for the primary of
//!   `redis.sentinel.master_name` when a connection is first needed, and asked again after a
//!   connection failure or a `READONLY` reply (a failover demoted the server): the backend
//!   calls [`Source::forget_primary`] and the next call resolves it anew.
//!
//! [`Conn`] is the one connection type the backend's calls use whatever the mode.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use ::redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};
use arc_swap::ArcSwapOption;

use crate::config::{RedisConfig, RedisMode};

/// A connection of the backend's pool.
#[derive(Clone)]
pub(crate) enum Conn {
    /// Standalone or sentinel: one server.
    Single(ConnectionManager),
    /// Every primary of a cluster, routed by slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// How connections are made in the configured mode.
pub(crate) enum Source {
    Standalone {
        client: Client,
        config: ConnectionManagerConfig,
    },
    Cluster {
        client: ClusterClient,
        config: ::redis::cluster::ClusterConfig,
    },
    Sentinel {
        sentinel: tokio::sync::Mutex<SentinelClient>,
        config: ConnectionManagerConfig,
        /// The primary the sentinels named last; `None` until asked (or after a failure).
        primary: ArcSwapOption<Client>,
    },
}

impl Source {
    /// The source for `config` (no connection is opened).
    pub(crate) fn new(
        config: &RedisConfig,
        manager: ConnectionManagerConfig,
    ) -> RedisResult<Source> {
        match config.mode {
            RedisMode::Standalone => Ok(Source::Standalone {
                client: Client::open(config.url.expose_secret().trim())?,
                config: manager,
            }),
            RedisMode::Cluster => {
                let seeds: Vec<&str> = config
                    .urls
                    .iter()
                    .map(|u| u.expose_secret().trim())
                    .collect();
                let client = ClusterClient::builder(seeds)
                    .connection_timeout(config.connect_timeout())
                    .response_timeout(config.command_timeout())
                    // Redirections and TRYAGAIN are retried within the call's own timeout.
                    .retries(3)
                    .min_retry_wait(10)
                    .max_retry_wait(100)
                    .build()?;
                let cluster = ::redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(config.connect_timeout())
                    .set_response_timeout(config.command_timeout());
                Ok(Source::Cluster {
                    client,
                    config: cluster,
                })
            }
            RedisMode::Sentinel => {
                // The primary's credentials, database and TLS come from `redis.url`.
                let node = Client::open(config.url.expose_secret().trim())?;
                #[allow(unused_mut)]
                let mut info = SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(node.get_connection_info().redis_settings().clone());
                #[cfg(feature = "redis-tls")]
                if config.url.expose_secret().trim().starts_with("rediss://") {
                    info = info.set_tls_mode(::redis::TlsMode::Secure);
                }
                let sentinels: Vec<&str> = config
                    .sentinel
                    .urls
                    .iter()
                    .map(|u| u.expose_secret().trim())
                    .collect();
                let sentinel = SentinelClient::build(
                    sentinels,
                    config.sentinel.master_name.clone(),
                    Some(info),
                    SentinelServerType::Master,
                )?;
                Ok(Source::Sentinel {
                    sentinel: tokio::sync::Mutex::new(sentinel),
                    config: manager,
                    primary: ArcSwapOption::empty(),
                })
            }
        }
    }

    /// A connection made without waiting (standalone, cluster: they connect in the
    /// background), or `None` when one must be resolved first ([`Source::connect`]).
    pub(crate) fn lazy(&self) -> Option<Conn> {
        match self {
            Source::Standalone { client, config } => {
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    .ok()
                    .map(Conn::Single)
            }
            Source::Cluster { client, config } => Some(Conn::Cluster(
                client.get_pending_async_connection_with_config(config.clone()),
            )),
            Source::Sentinel {
                primary, config, ..
            } => {
                let client = primary.load_full()?;
                ConnectionManager::new_lazy_with_config(Client::clone(&client), config.clone())
                    .ok()
                    .map(Conn::Single)
            }
        }
    }

    /// A connection, asking the sentinels for the primary first if needed (bounded by
    /// `within`).
    pub(crate) async fn connect(&self, within: Duration) -> Result<Conn, String> {
        if let Some(c) = self.lazy() {
            return Ok(c);
        }
        let Source::Sentinel {
            sentinel, primary, ..
        } = self
        else {
            return Err("no connection could be made".into());
        };
        let resolve = async {
            let mut s = sentinel.lock().await;
            // Another call may have resolved it while this one waited for the lock.
            if primary.load().is_none() {
                let client = s.async_get_client().await.map_err(|e| e.to_string())?;
                let addr = client.get_connection_info().addr().to_string();
                tracing::info!(backend = "redis", primary = %addr, "sentinels named the primary");
                primary.store(Some(std::sync::Arc::new(client)));
            }
            Ok::<_, String>(())
        };
        match tokio::time::timeout(within, resolve).await {
            Ok(Ok(())) => self
                .lazy()
                .ok_or_else(|| "the sentinels named no primary".to_string()),
            Ok(Err(e)) => Err(format!("asking the sentinels for the primary: {e}")),
            Err(_) => Err("the sentinels did not name a primary in time".into()),
        }
    }

    /// After a connection failure: in sentinel mode the primary may have moved, so the next
    /// connection asks the sentinels again. Returns whether every pooled connection must go.
    pub(crate) fn forget_primary(&self) -> bool {
        match self {
            Source::Sentinel { primary, .. } => {
                primary.store(None);
                true
            }
            _ => false,
        }
    }

    /// The standalone server's client (for invalidation streams), `None` in the other modes.
    pub(crate) fn standalone_client(&self) -> Option<&Client> {
        match self {
            Source::Standalone { client, .. } => Some(client),
            _ => None,
        }
    }

    /// Whether a connection failure should make the next call ask where the primary is
    /// (sentinel mode).
    pub(crate) fn follows_failover(&self) -> bool {
        matches!(self, Source::Sentinel { .. })
    }

    /// Whether this is a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Source::Cluster { .. })
    }
}
