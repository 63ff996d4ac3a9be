//! Warm starts and bulk work: a required warmer whose entries are readable the moment
//! `start` returns, a background warmer refreshing every few seconds, a bulk read of a list
//! page, `expire`/`touch`, and a snapshot saved and restored.
//!
//! Run with `cargo run --release --example warm`.

use std::time::Duration;

use deeper_cache::{
    Cache, CacheConfig, Ttl, WarmEntry, WarmError, WarmSink, Warmer, WarmerOptions, async_trait,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Product {
    id: u32,
    name: String,
    cents: u64,
}

/// Stands in for a database query.
async fn products_from_db() -> Result<Vec<Product>, WarmError> {
    Ok((0..200)
        .map(|id| Product {
            id,
            name: format!("product {id}"),
            cents: 100 + u64::from(id),
        })
        .collect())
}

/// The catalog: required, so the cache never starts cold.
#[derive(Debug)]
struct Catalog;

#[async_trait]
impl Warmer for Catalog {
    fn name(&self) -> &str {
        "catalog"
    }
    fn options(&self) -> WarmerOptions {
        WarmerOptions::default()
            .required()
            .timeout(Duration::from_secs(10))
    }
    async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError> {
        // Pushing as rows arrive streams a large table: the sink writes every 512 entries.
        for p in products_from_db().await? {
            let entry = WarmEntry::new(p.id.to_string(), &p)?
                .namespace("products")
                .ttl(Duration::from_secs(900));
            sink.push(entry).await?;
        }
        Ok(())
    }
}

/// Exchange rates: in the background, refreshed every 5 s.
#[derive(Debug)]
struct Rates;

#[async_trait]
impl Warmer for Rates {
    fn name(&self) -> &str {
        "rates"
    }
    fn options(&self) -> WarmerOptions {
        WarmerOptions::default().every(Duration::from_secs(5))
    }
    async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError> {
        sink.extend([
            WarmEntry::new("eur_usd", &1.08)?.namespace("rates"),
            WarmEntry::new("eur_gbp", &0.85)?.namespace("rates"),
        ])
        .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("deeper-cache-warm-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let snapshot = dir.join("cache.snap");

    let mut config = CacheConfig::default();
    config.memory.snapshot_path = Some(snapshot.clone());
    let cache = Cache::builder(config.clone())
        .warmer(Catalog)
        .warmer(Rates)
        .start()
        .await?;

    // A list page of 50 products: one bulk read, answered in the keys' order.
    let products = cache.namespace("products")?;
    let page: Vec<String> = (100..150).map(|id| id.to_string()).collect();
    let found: Vec<Option<Product>> = products.get_many(&page).await?;
    println!(
        "page: {} of {} products cached, first = {:?}",
        found.iter().flatten().count(),
        page.len(),
        found[0].as_ref().map(|p| &p.name)
    );

    // Bulk writes and deletes; a new TTL without rewriting the value.
    products
        .put_many(
            &[(
                "new-1",
                Product {
                    id: 1000,
                    name: "new".into(),
                    cents: 1,
                },
            )],
            Duration::from_secs(60),
        )
        .await?;
    products.expire("new-1", Ttl::Never).await?;
    products.touch("100").await?;
    println!(
        "deleted {}",
        products.delete_many(&["new-1", "absent"]).await?
    );

    for s in cache.warmer_stats() {
        println!(
            "warmer {}: {} ok runs, {} entries, last run {} ms",
            s.name, s.runs_ok, s.entries, s.last_run_ms
        );
    }

    // Save, stop, start again from the snapshot (no warmer this time).
    let saved = cache.save(&snapshot).await?;
    println!("saved {} entries, {} bytes", saved.entries, saved.bytes);
    cache.shutdown().await;
    let restarted = Cache::start(config).await?;
    let again: Option<Product> = restarted.namespace("products")?.get("120").await?;
    println!("after restart: {:?}", again.map(|p| p.name));
    restarted.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
