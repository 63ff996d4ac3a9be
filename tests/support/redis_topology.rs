//! Real Redis topologies for tests and benchmarks: a 3-primary + 3-replica Cluster and a
//! Sentinel-managed primary with one replica and three sentinels, every process a
//! [`RedisServer`] on a free loopback port in its own temporary directory, stopped on drop.
#![allow(dead_code, unreachable_pub)]

use std::process::Command;
use std::time::{Duration, Instant};

use super::redis_server::{RedisServer, run_redis_cli};

/// A 3-primary + 3-replica cluster (`cluster-node-timeout` 1 s, so a failover takes ~2 s).
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts six nodes and joins them with `redis-cli --cluster create … --cluster-replicas 1`,
    /// then waits until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                RedisServer::start_with_args(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    // A replica fails over however long ago it last heard from its primary.
                    "--cluster-replica-validity-factor",
                    "0",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = run_redis_cli(&args);
        assert!(out.status.success(), "redis-cli --cluster create: {out:?}");
        let cluster = RedisCluster { nodes };
        cluster.until_ok(Duration::from_secs(30));
        // Every replica in sync with its primary (a failover test kills one).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let replicas_up = cluster
                .nodes
                .iter()
                .filter_map(|n| try_raw(n, &["INFO", "replication"]))
                .filter(|r| r.contains("role:slave"))
                .filter(|r| r.contains("master_link_status:up"))
                .count();
            if replicas_up == 3 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replicas did not sync within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }

    /// The nodes (index order of start).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Indices of the nodes that are primaries now (as the first live node sees it).
    pub fn primaries(&self) -> Vec<usize> {
        let view = self.view();
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                view.lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() >= 3
                        && f[1].starts_with(&format!("127.0.0.1:{}@", n.port()))
                        && f[2].split(',').any(|x| x == "master")
                        && !f[2].split(',').any(|x| x == "fail")
                })
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Kills node `i` at once (`SIGKILL`).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// `CLUSTER NODES` as a live node sees it.
    pub fn view(&self) -> String {
        for n in &self.nodes {
            if let Some(v) = try_raw(n, &["CLUSTER", "NODES"]) {
                return v;
            }
        }
        String::new()
    }

    /// Waits until every live node says `cluster_state:ok`.
    pub fn until_ok(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().all(|n| {
                try_raw(n, &["PING"]).is_none()
                    || try_raw(n, &["CLUSTER", "INFO"])
                        .is_some_and(|i| i.contains("cluster_state:ok"))
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become ok within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A raw command on `n`, `None` when it does not answer (killed).
fn try_raw(n: &RedisServer, args: &[&str]) -> Option<String> {
    let port = n.port();
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// A primary, one replica and three sentinels (quorum 2) monitoring it as `name`.
#[derive(Debug)]
pub struct RedisSentinels {
    pub name: String,
    pub primary: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

impl RedisSentinels {
    /// Starts the five processes and waits until the sentinels see the replica.
    pub fn start() -> RedisSentinels {
        let name = "deeper".to_string();
        let primary = RedisServer::start();
        let port = primary.port().to_string();
        let replica = RedisServer::start_with_args(&["--replicaof", "127.0.0.1", &port]);
        let conf = format!(
            "sentinel monitor {name} 127.0.0.1 {port} 2\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 5000\n\
             sentinel parallel-syncs {name} 1\n"
        );
        let sentinels = (0..3).map(|_| RedisServer::start_sentinel(&conf)).collect();
        let s = RedisSentinels {
            name,
            primary,
            replica,
            sentinels,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = s.sentinels.iter().all(|x| {
                try_raw(x, &["SENTINEL", "REPLICAS", &s.name])
                    .is_some_and(|r| r.contains(&s.replica.port().to_string()))
            }) && try_raw(&s.replica, &["INFO", "replication"])
                .is_some_and(|r| r.contains("master_link_status:up"));
            if ready {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinels did not see the replica in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The sentinels' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels.iter().map(|s| s.url()).collect()
    }

    /// The port the sentinels name as the primary now.
    pub fn primary_port(&self) -> Option<u16> {
        for s in &self.sentinels {
            if let Some(r) = try_raw(s, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.name])
                && let Some(port) = r.lines().nth(1)
            {
                return port.trim().parse().ok();
            }
        }
        None
    }
}
