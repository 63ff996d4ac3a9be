//! The no-op backend: caching disabled (development, tests, `enabled = false`).

use async_trait::async_trait;
use bytes::Bytes;

use super::CacheBackend;
use super::browse::{EntryInfo, KeyPage, NamespaceList};
use crate::batch::{EntryList, KeyList};
use crate::error::CacheResult;
use crate::glob::Glob;
use crate::ttl::Ttl;

/// Stores nothing. Reads miss; writes succeed and are forgotten; `get_or_store` therefore
/// always runs its generator.
///
/// Counters behave as if every increment met a fresh counter: `increment(k, n)` returns `n`
/// (the value a new counter would have), and nothing is kept. Set additions report the member
/// as new; set reads are empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopBackend;

#[async_trait]
impl CacheBackend for NoopBackend {
    fn name(&self) -> &'static str {
        "noop"
    }
    async fn get(&self, _: &str, _: &str) -> CacheResult<Option<Bytes>> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: &str, _: Bytes, _: Ttl) -> CacheResult<()> {
        Ok(())
    }
    async fn delete(&self, _: &str, _: &str) -> CacheResult<bool> {
        Ok(false)
    }
    async fn exists(&self, _: &str, _: &str) -> CacheResult<bool> {
        Ok(false)
    }
    async fn ttl(&self, _: &str, _: &str) -> CacheResult<Option<Ttl>> {
        Ok(None)
    }
    async fn increment(&self, _: &str, _: &str, delta: i64, _: Ttl) -> CacheResult<i64> {
        Ok(delta)
    }
    async fn add_to_set(&self, _: &str, _: &str, _: Bytes, _: Ttl) -> CacheResult<bool> {
        Ok(true)
    }
    async fn remove_from_set(&self, _: &str, _: &str, _: Bytes) -> CacheResult<bool> {
        Ok(false)
    }
    async fn set_members(&self, _: &str, _: &str) -> CacheResult<Vec<Bytes>> {
        Ok(Vec::new())
    }
    async fn is_member(&self, _: &str, _: &str, _: Bytes) -> CacheResult<bool> {
        Ok(false)
    }
    async fn clear(&self, _: Option<&str>) -> CacheResult<u64> {
        Ok(0)
    }
    async fn delete_pattern(&self, _: &str, _: &Glob) -> CacheResult<u64> {
        Ok(0)
    }
    async fn get_many(&self, keys: &KeyList) -> CacheResult<Vec<Option<Bytes>>> {
        Ok(vec![None; keys.len()])
    }
    async fn put_many(&self, _: &EntryList) -> CacheResult<()> {
        Ok(())
    }
    async fn delete_many(&self, _: &KeyList) -> CacheResult<u64> {
        Ok(0)
    }
    async fn expire(&self, _: &str, _: &str, _: Ttl) -> CacheResult<bool> {
        Ok(false)
    }
    async fn touch(&self, _: &str, _: &str) -> CacheResult<bool> {
        Ok(false)
    }
    async fn list_keys(
        &self,
        _: &str,
        _: Option<&Glob>,
        cursor: Option<&str>,
        _: usize,
    ) -> CacheResult<KeyPage> {
        match cursor {
            None => Ok(KeyPage::default()),
            Some(_) => Err(super::browse::bad_cursor(
                "the noop backend holds no keys and makes no cursors",
            )),
        }
    }
    async fn inspect(&self, _: &str, _: &str, _: Option<usize>) -> CacheResult<Option<EntryInfo>> {
        Ok(None)
    }
    async fn namespaces(&self, _: u64) -> CacheResult<NamespaceList> {
        Ok(NamespaceList {
            namespaces: Vec::new(),
            complete: true,
        })
    }
}
