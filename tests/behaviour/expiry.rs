use std::time::Duration;

use deeper_cache::{Cache, ManualClock, Ttl};

// Memory only: drives a ManualClock to exact milliseconds, which Redis (real time) cannot follow;
// expiry_real.rs states the same rules in real time on every backend.
memory_only! {
    #[tokio::test]
    async fn expired_entry_is_a_miss_on_every_read_path_before_any_sweep() {
        let (cache, clock) = cache_with_clock().await;
        cache
            .put_with_ttl("v", &"value", Duration::from_secs(10))
            .await
            .unwrap();
        cache
            .increment_with_ttl("c", 5, Duration::from_secs(10))
            .await
            .unwrap();
        cache.add_to_set("s", &"m").await.unwrap(); // default ttl 3600 s
        clock.advance(Duration::from_millis(9_999));
        assert!(
            cache.exists("v").await.unwrap(),
            "still live 1 ms before expiry"
        );
        clock.advance(Duration::from_millis(1));

        assert_eq!(cache.get::<String>("v").await.unwrap(), None);
        assert_eq!(
            cache.get_or("v", "default".to_string()).await.unwrap(),
            "default"
        );
        assert!(!cache.exists("v").await.unwrap());
        assert_eq!(cache.ttl("v").await.unwrap(), None);
        assert!(
            !cache.delete("v").await.unwrap(),
            "deleting an expired entry removes nothing live"
        );
        assert_eq!(cache.get::<i64>("c").await.unwrap(), None);
        assert_eq!(
            cache.increment("c", 1).await.unwrap(),
            1,
            "expired counter restarts at 0"
        );

        clock.advance(Duration::from_secs(3600));
        assert!(!cache.is_member("s", &"m").await.unwrap());
        assert!(cache.set_members::<String>("s").await.unwrap().is_empty());
        assert!(
            cache.add_to_set("s", &"m").await.unwrap(),
            "expired set starts empty"
        );

        // Patterns and clears do not count expired entries.
        cache
            .put_with_ttl("p:1", &1, Duration::from_secs(1))
            .await
            .unwrap();
        cache.put_with_ttl("p:2", &1, Ttl::Never).await.unwrap();
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.delete_pattern("p:*").await.unwrap(), 1);
        cache.shutdown().await;
    }
}

// Memory only: the sweep and usage() belong to the in-memory table; Redis expires keys itself.
memory_only! {
    #[tokio::test]
    async fn sweep_removes_expired_entries_and_leaves_live_ones() {
        let (cache, clock) = cache_with_clock().await;
        let ns = cache.namespace("other").unwrap();
        for i in 0..2_500 {
            cache
                .put_with_ttl(&format!("short:{i}"), &i, Duration::from_secs(1))
                .await
                .unwrap();
            ns.put_with_ttl(&format!("short:{i}"), &i, Duration::from_secs(1))
                .await
                .unwrap();
        }
        for i in 0..1_000 {
            cache
                .put_with_ttl(&format!("long:{i}"), &i, Duration::from_secs(100))
                .await
                .unwrap();
            cache
                .put_with_ttl(&format!("forever:{i}"), &i, Ttl::Never)
                .await
                .unwrap();
        }
        assert_eq!(cache.usage().await.unwrap().entries, 7_000);
        assert_eq!(
            cache.purge_expired().await.unwrap(),
            0,
            "nothing expired yet"
        );

        clock.advance(Duration::from_secs(1));
        // 5,000 expired entries, removed in batches of 1,000 (cleanup_batch_size).
        assert_eq!(cache.purge_expired().await.unwrap(), 5_000);
        let usage = cache.usage().await.unwrap();
        assert_eq!(usage.entries, 2_000);
        for i in (0..1_000).step_by(97) {
            assert_eq!(
                cache.get::<i32>(&format!("long:{i}")).await.unwrap(),
                Some(i)
            );
            assert_eq!(
                cache.get::<i32>(&format!("forever:{i}")).await.unwrap(),
                Some(i)
            );
        }
        assert_eq!(cache.purge_expired().await.unwrap(), 0);
        cache.shutdown().await;
    }
}

// Memory only: the sweep and usage() belong to the in-memory table; Redis expires keys itself.
memory_only! {
    #[tokio::test]
    async fn periodic_sweep_runs_on_its_interval() {
        let clock = ManualClock::new();
        let mut config = config();
        config.memory.cleanup_interval_ms = 20;
        let cache = Cache::start_with_clock(config, &clock).await.unwrap();
        for i in 0..100 {
            cache
                .put_with_ttl(&format!("k{i}"), &i, Duration::from_secs(1))
                .await
                .unwrap();
        }
        cache.put_with_ttl("keep", &1, Ttl::Never).await.unwrap();
        clock.advance(Duration::from_secs(1));
        // The timer, not the test, runs the sweep: poll the table (bounded) until it has run.
        let mut entries = u64::MAX;
        for _ in 0..500 {
            entries = cache.usage().await.unwrap().entries;
            if entries == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            entries, 1,
            "the periodic sweep removed the 100 expired entries"
        );
        assert!(cache.exists("keep").await.unwrap());
        cache.shutdown().await;
    }
}
