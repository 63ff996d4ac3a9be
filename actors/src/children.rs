//! The vocabulary the supervisor and its children share: [`ChildKind`].
//!
//! It lives apart from `supervisor.rs` so the children (and the fault hooks they call) can name
//! their kind without importing the supervisor that spawns them: the module graph has no
//! circle between the supervisor and its children.

use serde::Serialize;

/// The kinds of children the supervisor manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// Owner of the in-memory table.
    Store,
    /// Serves facade requests.
    Adapter,
    /// Sweeps expired entries.
    Cleanup,
    /// Refreshes gauges, logs stats.
    MetricsReporter,
    /// Runs the registered warmers (present when there are some).
    CacheWarmer,
}

impl ChildKind {
    /// The child's name suffix (`<instance>.<suffix>` in the actor registry).
    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Store => "store",
            ChildKind::Adapter => "adapter",
            ChildKind::Cleanup => "cleanup",
            ChildKind::MetricsReporter => "metrics_reporter",
            ChildKind::CacheWarmer => "warmer",
        }
    }
}
