#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_ten_thousand_increments_end_at_exactly_80000() {
    let cache = cache().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10_000 {
                cache.increment("hits", 1).await.expect("increment");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(cache.get::<i64>("hits").await.unwrap(), Some(80_000));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_on_distinct_keys_never_see_each_others_values() {
    let cache = cache().await;
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..2_000u32 {
                let key = format!("task{t}:key{}", i % 50);
                let value = (t, i);
                cache.put(&key, &value).await.expect("put");
                let read: Option<(u32, u32)> = cache.get(&key).await.expect("get");
                assert_eq!(read, Some(value), "task {t} read another writer's value");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_set_additions_are_atomic() {
    let cache = cache().await;
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            let mut added = 0;
            for i in 0..500u32 {
                // Every task adds the same 500 members: each is new exactly once overall.
                if cache.add_to_set("members", &i).await.expect("add") {
                    added += 1;
                }
                let _ = t;
            }
            added
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    assert_eq!(total, 500);
    assert_eq!(
        cache.set_members::<u32>("members").await.unwrap().len(),
        500
    );
    cache.shutdown().await;
}
