//! The value codec every backend shares: JSON, written by `sonic-rs` and read by `serde_json`.
//!
//! One codec for all backends means the same value reads back the same way everywhere and the
//! memory table can count stored bytes exactly. JSON was chosen because counters must be plain
//! integers on every backend (`INCRBY` on Redis writes ASCII digits, which is exactly the JSON
//! encoding of an `i64`), and because values stay readable with `redis-cli`.

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{CacheError, CacheResult};

/// Encodes a value.
///
/// # Errors
/// [`CacheError::Codec`] when the value cannot be serialized (for example a map with
/// non-string keys).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> CacheResult<Bytes> {
    // sonic-rs writes the same bytes as serde_json (compact JSON, same escapes, same float
    // and map-key formatting; checked by the `encode_matches_serde_json` test) about six
    // times faster for long strings (`benches/suite.rs`, codec scenario). Decoding stays with
    // serde_json, which is as fast here without target-specific SIMD.
    // `into_boxed_slice` drops the encoder's spare capacity: the stored allocation is the
    // value's size, as the table's byte accounting assumes (a 4 KiB value otherwise keeps an
    // 8 KiB buffer).
    sonic_rs::to_vec(value)
        .map(|v| Bytes::from(v.into_boxed_slice()))
        .map_err(|e| CacheError::Codec {
            message: format!("cannot encode value: {e}"),
        })
}

/// Decodes a stored value as `T`.
///
/// # Errors
/// [`CacheError::Codec`] when the stored bytes are not a `T`; the error never quotes the value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> CacheResult<T> {
    serde_json::from_slice(bytes).map_err(|e| CacheError::Codec {
        message: format!(
            "stored value is not a {}: {}",
            std::any::type_name::<T>(),
            e.classify_message()
        ),
    })
}

/// Parses a stored counter (ASCII decimal `i64`, as JSON and Redis both write it).
pub(crate) fn parse_counter(bytes: &[u8]) -> CacheResult<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(CacheError::NotAnInteger)
}

/// Encodes a counter as its ASCII decimal form.
pub(crate) fn counter_bytes(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    /// The error's category and position, without the message text, which for type errors
    /// can quote part of the stored value.
    fn classify_message(&self) -> String {
        let kind = match self.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "malformed data",
            serde_json::error::Category::Data => "data of another shape",
            serde_json::error::Category::Eof => "truncated data",
        };
        format!("{kind} at line {} column {}", self.line(), self.column())
    }
}

/// First bytes of an entry written with a freshness stamp (`get_or_refresh`): an ASCII record
/// separator (which no JSON document starts with), a version tag, then
/// `<fresh_until_epoch_ms> <ttl_ms>\n<json>`. The stamp is wall-clock time so that several
/// nodes sharing a Redis agree on it.
pub const ENVELOPE_TAG: &[u8] = b"\x1edc1 ";

/// A value with its freshness stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Wall-clock milliseconds after which the value is stale.
    pub fresh_until_ms: u64,
    /// The TTL the value was written with, in milliseconds.
    pub ttl_ms: u64,
    /// The encoded value itself.
    pub value: &'a [u8],
}

/// Wraps an encoded value with its freshness stamp.
pub fn wrap(fresh_until_ms: u64, ttl_ms: u64, value: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(value.len() + 48);
    out.extend_from_slice(ENVELOPE_TAG);
    out.extend_from_slice(format!("{fresh_until_ms} {ttl_ms}\n").as_bytes());
    out.extend_from_slice(value);
    Bytes::from(out)
}

/// The envelope of a stored value, or `None` for a plain value.
pub fn unwrap(raw: &[u8]) -> Option<Envelope<'_>> {
    let rest = raw.strip_prefix(ENVELOPE_TAG)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&rest[..nl]).ok()?;
    let (fresh, ttl) = header.split_once(' ')?;
    Some(Envelope {
        fresh_until_ms: fresh.parse().ok()?,
        ttl_ms: ttl.parse().ok()?,
        value: &rest[nl + 1..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_roundtrip_and_plain_values_are_not_envelopes() {
        let raw = wrap(1_700_000_000_123, 60_000, br#"{"a":1}"#);
        let e = unwrap(&raw).expect("an envelope");
        assert_eq!(e.fresh_until_ms, 1_700_000_000_123);
        assert_eq!(e.ttl_ms, 60_000);
        assert_eq!(e.value, br#"{"a":1}"#);
        assert!(unwrap(br#"{"a":1}"#).is_none());
        assert!(unwrap(b"42").is_none());
        assert!(
            decode::<serde_json::Value>(&raw).is_err(),
            "an envelope is not JSON"
        );
    }

    fn same_as_serde_json<T: Serialize + ?Sized>(v: &T) {
        let ours = encode(v).expect("encodes");
        let reference = serde_json::to_vec(v).expect("serde_json encodes");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&reference)
        );
    }

    #[test]
    fn encode_matches_serde_json() {
        use std::collections::BTreeMap;
        same_as_serde_json(&"a\u{0}b\u{1f}\n\t\"\\/\u{7f}é😀\u{2028}");
        same_as_serde_json(&"x".repeat(4096));
        same_as_serde_json(&[0.1f64, 1e21, 1e-7, -0.0, 3.0, 1.5e300, f64::MIN_POSITIVE]);
        same_as_serde_json(&[f64::NAN, f64::INFINITY]);
        same_as_serde_json(&[0.1f32, 16_777_216.0]);
        same_as_serde_json(&(i64::MIN, u64::MAX, u128::MAX, i128::MIN, 'é', ()));
        same_as_serde_json(&BTreeMap::from([(1u32, "a"), (2, "b")]));
        same_as_serde_json(&BTreeMap::from([(true, 1u8)]));
        same_as_serde_json(&serde_json::json!({"a": [1, 2.5, null, true, "x"], "b": {"c": -3}}));
        same_as_serde_json(&Some(vec![Some(1u8), None]));
        let tuple_keys = BTreeMap::from([((1u8, 2u8), 3u8)]);
        assert!(matches!(encode(&tuple_keys), Err(CacheError::Codec { .. })));
    }
}
