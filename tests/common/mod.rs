//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use deeper_cache::{Cache, CacheConfig, ManualClock};

/// A memory cache on a manual clock, with sweeps and reports far in the future so only the
/// test decides when they run.
pub async fn cache_with_clock() -> (Cache, ManualClock) {
    let clock = ManualClock::new();
    let mut config = CacheConfig::default();
    config.memory.cleanup_interval_ms = 3_600_000;
    config.metrics_reporter.report_interval_ms = 3_600_000;
    let cache = Cache::start_with_clock(config, &clock)
        .await
        .expect("cache starts");
    (cache, clock)
}

/// A memory cache with the default configuration.
pub async fn cache() -> Cache {
    Cache::start(CacheConfig::default())
        .await
        .expect("cache starts")
}
