//! Walks of the keyspace: `SCAN MATCH` with `UNLINK` batches for `clear()` and
//! `delete_pattern`, on the one server or, on a cluster, on every primary in turn (their
//! addresses from `CLUSTER NODES`). Called by the Redis backend's clear paths and by
//! `browse.rs` (`on_node`, `primaries`).

use ::redis::RedisError;

use super::connection::Conn;
use super::{Kind, RedisBackend};
use crate::error::CacheResult;

impl RedisBackend {
    /// `SCAN MATCH pattern` over the whole keyspace (on a cluster: of every primary, one after
    /// the other), `UNLINK`ing (in batches) the keys `keep` accepts. Returns the number of
    /// keys removed.
    pub(super) async fn scan_unlink(
        &self,
        operation: &'static str,
        pattern: String,
        keep: impl Fn(&[u8]) -> bool,
    ) -> CacheResult<u64> {
        if !self.inner.source.is_cluster() {
            return self.scan_unlink_on(operation, &pattern, &keep, None).await;
        }
        let mut removed = 0;
        for node in self.primaries(operation).await? {
            removed += self
                .scan_unlink_on(operation, &pattern, &keep, Some(&node))
                .await?;
        }
        Ok(removed)
    }

    /// The addresses of a cluster's primaries that serve slots (`CLUSTER NODES`).
    pub(super) async fn primaries(
        &self,
        operation: &'static str,
    ) -> CacheResult<Vec<(String, u16)>> {
        let nodes: String = self
            .call(operation, Kind::Value, true, None, |mut c| async move {
                ::redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(cluster_primaries(&nodes))
    }

    /// [`RedisBackend::scan_unlink`] on one server (`node` on a cluster).
    async fn scan_unlink_on(
        &self,
        operation: &'static str,
        pattern: &str,
        keep: &impl Fn(&[u8]) -> bool,
        node: Option<&(String, u16)>,
    ) -> CacheResult<u64> {
        let batch = self.inner.scan_batch;
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .call(operation, Kind::Value, true, None, |c| async move {
                    let mut scan = ::redis::cmd("SCAN");
                    scan.arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(batch);
                    on_node(c, scan, node).await
                })
                .await?;
            pending.extend(keys.into_iter().filter(|k| keep(k)));
            if pending.len() >= batch || (next == 0 && !pending.is_empty()) {
                let chunk = std::mem::take(&mut pending);
                let chunk = &chunk;
                // On a cluster the client splits the batch per slot (a multi-key command must
                // stay within one slot) and sends each part to its slot's primary.
                let n: u64 = self
                    .call(operation, Kind::Value, true, None, |mut c| async move {
                        ::redis::cmd("UNLINK").arg(chunk).query_async(&mut c).await
                    })
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

/// Runs `cmd` on `node` of a cluster, or on `conn`'s server.
pub(super) async fn on_node<T: ::redis::FromRedisValue>(
    conn: Conn,
    cmd: ::redis::Cmd,
    node: Option<&(String, u16)>,
) -> Result<T, RedisError> {
    use ::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
    match (conn, node) {
        (Conn::Cluster(mut c), Some((host, port))) => {
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port: *port,
            });
            let v = c.route_command(cmd, routing).await?;
            Ok(::redis::from_redis_value(v)?)
        }
        (mut c, _) => cmd.query_async(&mut c).await,
    }
}

/// The `host:port` of every primary that serves slots, from a `CLUSTER NODES` reply
/// (`<id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slot>…`).
fn cluster_primaries(nodes: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 9 {
            continue; // no slots
        }
        let flags = fields[2];
        if !flags.split(',').any(|f| f == "master") || flags.split(',').any(|f| f == "fail") {
            continue;
        }
        let addr = fields[1].split(['@', ',']).next().unwrap_or_default();
        if let Some((host, port)) = addr.rsplit_once(':')
            && let Ok(port) = port.parse()
        {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            out.push((host.to_string(), port));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_reply_gives_the_serving_primaries() {
        let reply = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003,host-3 master - 0 1426238318243 3 connected 10923-16383
6ec2 127.0.0.1:30005@40005 master,fail - 1426238316232 1426238316232 5 connected 0-5460
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
aaaa [::1]:30007@40007 master - 0 0 7 connected
bbbb [::1]:30006@40006 master - 0 0 6 connected 1-2
";
        assert_eq!(
            cluster_primaries(reply),
            vec![
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30003),
                ("127.0.0.1".to_string(), 30001),
                ("::1".to_string(), 30006),
            ]
        );
    }
}
