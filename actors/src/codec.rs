//! The value codec every backend shares: JSON through `serde_json`.
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
    serde_json::to_vec(value)
        .map(Bytes::from)
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
