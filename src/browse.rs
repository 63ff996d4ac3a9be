//! What an operator reads of a running cache: pages of keys, one entry's metadata, the
//! namespaces a backend holds, and health. The admin interface (cargo feature `admin`) serves
//! these over HTTP; they are plain facade methods, usable without it.

use deeper_cache_actors::backend::browse::{MAX_CURSOR_BYTES, check_limit};
use deeper_cache_actors::{
    BreakerState, CacheError, CacheResult, EntryInfo, Glob, KeyPage, NamespaceList, ops,
};
use serde::Serialize;

use crate::cache::{Cache, check_key};

/// What [`Cache::health`] finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The supervision tree is up: its supervisor answers, and it has neither been shut down
    /// nor stopped for good (restart intensity exceeded).
    pub live: bool,
    /// Live, and the backend answers (its circuit breaker, if any, is not open).
    pub ready: bool,
    /// The backend (`memory`, `redis`, `tiered`, `noop`).
    pub backend: &'static str,
    /// Whether the backend answered a ping just now.
    pub backend_reachable: bool,
    /// Why it did not (secrets redacted), when it did not.
    pub backend_error: Option<String>,
    /// The Redis circuit breaker's state (Redis and tiered backends).
    pub breaker: Option<BreakerState>,
    /// Whether the tiered backend's invalidation stream is live (L1 serving reads).
    pub tracking_live: Option<bool>,
    /// Children of the supervisor running now, and in all (a child being restarted is down
    /// for a moment).
    pub children_up: usize,
    /// See [`Health::children_up`].
    pub children: usize,
    /// Restarts the supervisor has made since the cache started.
    pub restarts: u64,
}

impl Cache {
    /// One page of at most `limit` live keys of this handle's namespace (of `default` on the
    /// root handle) matching `pattern` (a Redis `MATCH` glob; all keys for `None`), starting
    /// at `cursor` (`None` for the first page; then the cursor the previous page returned).
    ///
    /// Walk a namespace by calling again with the returned cursor until it is `None`. The
    /// memory backend pages in key order and returns each key present for the whole walk
    /// exactly once; Redis pages in `SCAN` order, at least once (exactly once while nothing
    /// is written). A page may hold fewer keys than `limit`, even none, before the end.
    ///
    /// ```
    /// # use deeper_cache::{Cache, CacheConfig};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), deeper_cache::CacheError> {
    /// let cache = Cache::start(CacheConfig::default()).await?;
    /// let users = cache.namespace("users")?;
    /// for i in 0..250 {
    ///     users.put(&format!("user:{i}"), &i).await?;
    /// }
    /// let (mut seen, mut cursor) = (0, None);
    /// loop {
    ///     let page = users.keys(Some("user:*"), cursor.as_deref(), 100).await?;
    ///     seen += page.keys.len();
    ///     match page.cursor {
    ///         Some(next) => cursor = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen, 250);
    /// # cache.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`]; [`CacheError::InvalidCursor`] for a cursor this
    /// backend did not return or a `limit` outside 1 to
    /// [`MAX_PAGE_KEYS`](deeper_cache_actors::backend::browse::MAX_PAGE_KEYS); call errors.
    pub async fn keys(
        &self,
        pattern: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        check_limit(limit)?;
        let pattern = pattern.map(Glob::new).transpose()?;
        if let Some(c) = cursor
            && (c.is_empty() || c.len() > MAX_CURSOR_BYTES)
        {
            return Err(CacheError::InvalidCursor {
                reason: format!("a cursor is 1 to {MAX_CURSOR_BYTES} bytes, got {}", c.len()),
            });
        }
        let shown = pattern
            .as_ref()
            .map_or(ops::ALL_KEYS, |p| p.as_str())
            .to_owned();
        let req = ops::ListKeys {
            pattern,
            cursor: cursor.map(str::to_owned),
            limit,
        };
        self.service.run(&self.ns, &shown, req).await
    }

    /// Metadata of the live entry at `key` (kind, size, remaining TTL; `None` when absent or
    /// expired), with the first `value_bytes` bytes of its encoded value when asked for. Not a
    /// read: it counts as an `inspect` operation, not a hit or a miss, and an eviction policy
    /// does not see it.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`]; call errors.
    pub async fn inspect(
        &self,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>> {
        check_key(key)?;
        self.service
            .run(&self.ns, key, ops::Inspect { value_bytes })
            .await
    }

    /// The namespaces the backend holds, with their key counts. The memory table answers from
    /// its counters; Redis walks the keys under its prefix (`SCAN`) and stops after
    /// `scan_limit` keys, saying so ([`NamespaceList::complete`]). Not recorded in the
    /// statistics.
    ///
    /// # Errors
    /// Call errors.
    pub async fn namespaces(&self, scan_limit: u64) -> CacheResult<NamespaceList> {
        self.service
            .dispatch(
                &self.ns,
                ops::ALL_KEYS,
                ops::ListNamespaces {
                    scan_limit: scan_limit.max(1),
                },
            )
            .await
    }

    /// Whether the backend answers (Redis: a `PING` through the circuit breaker; on the `rpc`
    /// plane through an adapter). Not recorded in the statistics.
    ///
    /// # Errors
    /// [`CacheError::BackendUnavailable`], or the call errors of a tree that is down.
    pub async fn ping(&self) -> CacheResult<()> {
        self.service
            .dispatch(&self.ns, ops::ALL_KEYS, ops::Ping)
            .await
    }

    /// The Redis circuit breaker's state (Redis and tiered backends; `None` for the others).
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.service.breaker_state()
    }

    /// Liveness and readiness: whether the tree is up and the backend answers. Never fails;
    /// what is down is in the answer.
    pub async fn health(&self) -> Health {
        let status = self.supervisor_status().await.ok();
        let live = status.is_some() && !self.service.is_failed() && !self.service.is_shut_down();
        let ping = if live {
            self.ping().await
        } else {
            Err(CacheError::ShutDown)
        };
        let breaker = self.breaker_state();
        let tracking_live = self.service.tier_stats().map(|t| t.tracking_live);
        let (children_up, children, restarts) = status.map_or((0, 0, 0), |s| {
            (
                s.children.iter().filter(|c| c.actor_id.is_some()).count(),
                s.children.len(),
                s.restarts,
            )
        });
        Health {
            live,
            ready: live && ping.is_ok() && breaker != Some(BreakerState::Open),
            backend: self.service.backend_name(),
            backend_reachable: ping.is_ok(),
            backend_error: ping.err().map(|e| e.to_string()),
            breaker,
            tracking_live,
            children_up,
            children,
            restarts,
        }
    }
}
