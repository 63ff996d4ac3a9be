//! [`CacheBuilder`]: starting a cache with [`Warmer`]s (and, in tests, a manual clock).

use std::sync::Arc;

use deeper_cache_actors::{CacheConfig, CacheResult, Clock, Warmer};

use crate::cache::Cache;

/// Starts a [`Cache`] with warmers registered: made by [`Cache::builder`].
///
/// # Example
/// ```
/// use deeper_cache::{Cache, CacheConfig, WarmEntry, WarmError, WarmSink, Warmer, WarmerOptions};
///
/// #[derive(Debug)]
/// struct Settings;
///
/// #[deeper_cache::async_trait]
/// impl Warmer for Settings {
///     fn name(&self) -> &str {
///         "settings"
///     }
///     fn options(&self) -> WarmerOptions {
///         WarmerOptions::default().required()
///     }
///     async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError> {
///         sink.push(WarmEntry::new("theme", &"dark")?).await?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), deeper_cache::CacheError> {
/// let cache = Cache::builder(CacheConfig::default()).warmer(Settings).start().await?;
/// // A required warmer's entries are there the moment `start` returns.
/// assert_eq!(cache.get::<String>("theme").await?.as_deref(), Some("dark"));
/// # cache.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct CacheBuilder {
    config: CacheConfig,
    warmers: Vec<Arc<dyn Warmer>>,
    clock: Clock,
}

impl CacheBuilder {
    pub(crate) fn new(config: CacheConfig) -> Self {
        CacheBuilder {
            config,
            warmers: Vec::new(),
            clock: Clock::system(),
        }
    }

    /// Registers a warmer (run by the CacheWarmer actor; see [`Warmer`]).
    #[must_use]
    pub fn warmer(mut self, warmer: impl Warmer) -> Self {
        self.warmers.push(Arc::new(warmer));
        self
    }

    /// Registers a shared warmer.
    #[must_use]
    pub fn warmer_arc(mut self, warmer: Arc<dyn Warmer>) -> Self {
        self.warmers.push(warmer);
        self
    }

    /// Expires entries by a [`ManualClock`](crate::ManualClock) (tests only).
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn clock(mut self, clock: &crate::ManualClock) -> Self {
        self.clock = clock.clock();
        self
    }

    /// Starts the cache; returns once every required warmer's first run succeeded.
    ///
    /// # Errors
    /// As [`Cache::start`]; [`CacheError::WarmerFailed`](crate::CacheError::WarmerFailed)
    /// naming a required warmer that failed, panicked or timed out;
    /// [`CacheError::Snapshot`](crate::CacheError::Snapshot) for an unreadable
    /// `memory.snapshot_path`; [`CacheError::Config`](crate::CacheError::Config) for two
    /// warmers of one name.
    pub async fn start(self) -> CacheResult<Cache> {
        Cache::start_full(self.config, self.clock, self.warmers, None).await
    }

    /// Starts the cache linked under the application's supervisor actor `parent`, as
    /// [`Cache::start_linked`] does.
    ///
    /// # Errors
    /// As [`CacheBuilder::start`].
    pub async fn start_linked(self, parent: crate::ractor::ActorCell) -> CacheResult<Cache> {
        Cache::start_full(self.config, self.clock, self.warmers, Some(parent)).await
    }
}
