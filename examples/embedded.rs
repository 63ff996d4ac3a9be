//! Embedding: an application supervisor owns the cache tree, sees it fail, and restarts it.
//!
//! Run with `cargo run --example embedded`. The application kills the cache's adapter actor
//! repeatedly (as a crash would) until the cache supervisor exceeds its restart intensity
//! (`supervisor.max_restarts` within `supervisor.max_seconds`) and stops itself; the
//! application supervisor receives `ActorFailed`, restarts the cache tree, and the same handle
//! — with the same data — works again.

use std::time::Duration;

use deeper_cache::ractor::{
    Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, registry,
};
use deeper_cache::{
    AdapterConfig, Cache, CacheConfig, CacheError, DataPlaneMode, SupervisorConfig,
};

/// The application's own supervisor.
struct AppSupervisor;

enum AppMsg {
    /// Hands out the cache handle.
    GetCache(RpcReplyPort<Cache>),
    /// How many times the cache tree was restarted by this supervisor.
    Restarts(RpcReplyPort<u32>),
}

struct AppState {
    cache: Cache,
    restarts: u32,
}

impl Actor for AppSupervisor {
    type Msg = AppMsg;
    type State = AppState;
    type Arguments = CacheConfig;

    async fn pre_start(
        &self,
        myself: ActorRef<AppMsg>,
        config: CacheConfig,
    ) -> Result<AppState, ActorProcessingErr> {
        let cache = Cache::start_linked(config, myself.get_cell()).await?;
        println!(
            "app: cache {:?} started under the application supervisor",
            cache.name()
        );
        Ok(AppState { cache, restarts: 0 })
    }

    async fn handle(
        &self,
        _myself: ActorRef<AppMsg>,
        msg: AppMsg,
        state: &mut AppState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AppMsg::GetCache(reply) => {
                let _ = reply.send(state.cache.clone());
            }
            AppMsg::Restarts(reply) => {
                let _ = reply.send(state.restarts);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<AppMsg>,
        evt: SupervisionEvent,
        state: &mut AppState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, reason) = &evt
            && cell.get_id() == state.cache.supervisor_cell().get_id()
        {
            println!("app: the cache tree failed: {reason}");
            state.cache.restart_linked(myself.get_cell()).await?;
            state.restarts += 1;
            println!("app: cache tree restarted (restart #{})", state.restarts);
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .init();

    let config = CacheConfig {
        name: Some("embedded_cache".into()),
        call_timeout_ms: 1_000,
        // Every call goes through the adapter actors, so killing one is felt by callers.
        adapter: AdapterConfig {
            mode: DataPlaneMode::Rpc,
            partitions: 1,
        },
        supervisor: SupervisorConfig {
            max_restarts: 3,
            max_seconds: 5,
            ..SupervisorConfig::default()
        },
        ..CacheConfig::default()
    };
    let (app, app_handle) = Actor::spawn(Some("app".into()), AppSupervisor, config).await?;
    let cache = app
        .call(AppMsg::GetCache, None)
        .await?
        .success_or("no reply")?;

    cache.put("user_profile:1", &"Ada").await?;
    cache.increment("visits", 41).await?;
    println!(
        "before: user_profile:1 = {:?}",
        cache.get::<String>("user_profile:1").await?
    );

    // Crash the adapter until the cache supervisor gives up (4 restarts > max_restarts 3).
    let mut kills = 0;
    loop {
        match cache.get::<String>("user_profile:1").await {
            Err(CacheError::Unavailable { reason, .. }) => {
                println!("call while the tree is down -> Unavailable: {reason}");
                break;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let restarted = app
            .call(AppMsg::Restarts, None)
            .await?
            .success_or("no reply")?;
        if restarted > 0 {
            break;
        }
        if let Some(adapter) = registry::where_is::<String>("embedded_cache.adapter.0".into()) {
            adapter.kill();
            kills += 1;
            println!("killed the cache adapter (#{kills})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Wait (bounded) for the application supervisor to restart the tree.
    for _ in 0..200 {
        if app
            .call(AppMsg::Restarts, None)
            .await?
            .success_or("no reply")?
            > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut value = None;
    for _ in 0..200 {
        match cache.get::<String>("user_profile:1").await {
            Ok(v) => {
                value = v;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    println!("after restart: user_profile:1 = {value:?} (same handle, same table)");
    println!(
        "after restart: visits + 1 = {}",
        cache.increment("visits", 1).await?
    );
    let restarts = app
        .call(AppMsg::Restarts, None)
        .await?
        .success_or("no reply")?;
    println!("application supervisor restarted the cache tree {restarts} time(s)");
    assert_eq!(value.as_deref(), Some("Ada"));
    assert_eq!(restarts, 1);

    cache.shutdown().await;
    app.stop(None);
    app_handle.await?;
    Ok(())
}
