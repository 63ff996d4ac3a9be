//! The value codec every backend shares: JSON, written by `sonic-rs` and read by `serde_json`
//! (a string without escapes, the commonest large value, is read by a copy and a UTF-8 check).
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
    encode_within(value, usize::MAX)
}

/// Encodes a value of at most `limit` bytes (`memory.max_value_bytes`).
///
/// A value nested deeper than the decoder reads ([`MAX_DEPTH`] arrays or objects inside each
/// other) is refused here, so nothing is stored that could never be read back.
///
/// # Errors
/// [`CacheError::Codec`] when the value cannot be serialized or is nested too deeply;
/// [`CacheError::ValueTooLarge`] past `limit`. A value over the limit is refused as soon as the
/// encoder returns, before it is copied or sent anywhere; the encoder itself cannot stop
/// midway (sonic-rs writes through a trait only `unsafe` code could implement, and this
/// workspace forbids it), so an oversized value still costs one encoding pass.
pub fn encode_within<T: Serialize + ?Sized>(value: &T, limit: usize) -> CacheResult<Bytes> {
    // sonic-rs writes the same bytes as serde_json (compact JSON, same escapes, same float
    // and map-key formatting; checked by the `encode_matches_serde_json` test) about six
    // times faster for long strings (`benches/suite.rs`, codec scenario). Decoding stays with
    // serde_json (sonic-rs decodes no faster without target-specific SIMD), with a fast path
    // for plain strings (`decode_plain_string`).
    // The JSON is written into a buffer this thread keeps, then copied into an allocation of
    // exactly its size: one `malloc` per value, where a fresh `Vec` costs its growth plus a
    // shrinking `realloc` (the stored allocation must be the value's size, as the table's
    // byte accounting assumes). Fewer allocator calls matter most when two cores write at
    // once (glibc's arenas lock on frees from another thread).
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let write = |buf: &mut Vec<u8>| {
        buf.clear();
        let r = match sonic_rs::to_writer(&mut *buf, value) {
            Err(e) => Err(CacheError::Codec {
                message: format!("cannot encode value: {e}"),
            }),
            Ok(()) if buf.len() > limit => Err(CacheError::ValueTooLarge {
                size: buf.len(),
                limit,
            }),
            Ok(()) => check_depth(buf).map(|()| Bytes::copy_from_slice(buf)),
        };
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        r
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => write(&mut buf),
        // A `Serialize` impl that itself encodes a value: use a buffer of its own.
        Err(_) => write(&mut Vec::new()),
    })
}

/// The deepest nesting of arrays and objects [`decode`] reads: serde_json's recursion limit
/// (the `depth_limit_is_the_decoders` test pins the two together).
pub const MAX_DEPTH: usize = 127;

/// Refuses JSON nested deeper than [`MAX_DEPTH`]. Cheap for almost every value: nesting that
/// deep needs at least `MAX_DEPTH` opening brackets, which one SIMD count rules out; only a
/// value with that many brackets is walked byte by byte.
fn check_depth(json: &[u8]) -> CacheResult<()> {
    if json.len() < 2 * MAX_DEPTH || memchr::memchr2_iter(b'[', b'{', json).count() <= MAX_DEPTH {
        return Ok(());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(CacheError::Codec {
                        message: format!(
                            "the value is nested more than {MAX_DEPTH} levels deep; it could never be read back"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The largest encode buffer a thread keeps between values (a larger one is freed).
const SCRATCH_KEEP: usize = 64 * 1024;

/// Decodes a stored value as `T`.
///
/// # Errors
/// [`CacheError::Codec`] when the stored bytes are not a `T`; the error never quotes the value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> CacheResult<T> {
    if let Some(v) = decode_plain_string(bytes) {
        return Ok(v);
    }
    serde_json::from_slice(bytes).map_err(|e| CacheError::Codec {
        message: format!(
            "stored value is not a {}: {}",
            std::any::type_name::<T>(),
            e.classify_message()
        ),
    })
}

/// The fast path for the commonest large value, a string without escapes (HTML, a rendered
/// JSON document, a token): `"` + text + `"` with no `"` or `\\` inside decodes to the text
/// itself, so it is checked and copied out instead of going through the JSON parser.
/// `benches/suite.rs` (codec scenario) measures the two side by side: for 4 KiB, the parser
/// reads the value byte by byte (about 490 ns when the value is in the CPU cache, ~1.4 µs when
/// it is not). The UTF-8 check uses `simdutf8` (SIMD, safe API) on the stored bytes, which is
/// also the pass that pulls a cold value into the cache; the quote scan and the copy then read
/// it from the cache. Against copying first and checking the copy with `String::from_utf8`
/// (std's check is word-at-a-time), a 4 KiB decode went from 541 to 354 ns with the value in
/// the cache and from 1,223 to 992 ns cycling through 10,000 values (40 MB), standalone,
/// median of 9 rounds; 64 B values are level (51–58 ns). `T` sees the string as the parser
/// would show it ([`PlainString`]): `String`, `Box<str>`, `Option<String>`, a newtype around
/// a `String`, a unit enum variant, `serde_json::Value` ... get the same value; a `T` that
/// rejects a string (a number, a struct) returns `None` here and the parser answers, errors
/// included. The one difference: JSON forbids raw control characters (below U+0020) inside a
/// string and the parser rejects them, while this path, which does not look for them, accepts
/// them; no deeper-cache writer produces them (the encoder escapes them).
fn decode_plain_string<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let text = bytes.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let text = simdutf8::basic::from_utf8(text).ok()?;
    if memchr::memchr2(b'"', b'\\', text.as_bytes()).is_some() {
        return None;
    }
    T::deserialize(PlainString(text.to_owned())).ok()
}

/// A JSON string, already unescaped, as a serde `Deserializer` that answers like serde_json's
/// does for a string: every request gets the string, except `Option` (visited as `Some`), a
/// newtype struct (visited as the newtype of the string) and an enum (a unit variant named by
/// the string).
struct PlainString(String);

impl<'de> serde::Deserializer<'de> for PlainString {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::IntoDeserializer;
        IntoDeserializer::<Self::Error>::into_deserializer(self.0)
            .deserialize_enum(name, variants, v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
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

    fn nested(depth: usize) -> serde_json::Value {
        let mut v = serde_json::json!(1);
        for i in 0..depth {
            v = if i % 2 == 0 {
                serde_json::json!([v])
            } else {
                serde_json::json!({ "k": v })
            };
        }
        v
    }

    #[test]
    fn depth_limit_is_the_decoders() {
        for depth in 100..140 {
            let encoded = encode(&nested(depth));
            let readable = serde_json::to_vec(&nested(depth))
                .ok()
                .is_some_and(|json| decode::<serde_json::Value>(&json).is_ok());
            assert_eq!(encoded.is_ok(), readable, "depth {depth}");
            assert_eq!(encoded.is_ok(), depth <= MAX_DEPTH, "depth {depth}");
        }
        // Brackets inside strings do not count.
        let text = "[{".repeat(300);
        assert!(encode(&vec![text.clone(), text]).is_ok());
    }

    #[test]
    fn over_the_limit_is_value_too_large() {
        let big = "x".repeat(1_000);
        match encode_within(&big, 500) {
            Err(CacheError::ValueTooLarge { size, limit }) => {
                assert_eq!((size, limit), (1_002, 500));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(encode_within(&big, 1_002).unwrap().len(), 1_002);
    }

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

    fn decodes_as_serde_json<T>(raw: &[u8])
    where
        T: DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let ours = decode::<T>(raw).ok();
        let reference = serde_json::from_slice::<T>(raw).ok();
        assert_eq!(ours, reference, "{}", String::from_utf8_lossy(raw));
    }

    #[test]
    fn plain_strings_decode_as_serde_json_decodes_them() {
        use std::sync::Arc;
        #[derive(Debug, PartialEq, serde::Deserialize)]
        enum Color {
            Red,
        }
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Wrapped(String);
        #[derive(Debug, PartialEq, serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u32),
            Text(String),
        }
        for raw in [
            &br#""""#[..],
            br#""plain text""#,
            "\"é😀 unicode\"".as_bytes(),
            br#""with \"escapes\" \u00e9 \n""#,
            br#""ends in a backslash\\""#,
            br#""Red""#,
            br#""42""#,
            br#"42"#,
            br#""a"b""#,
            br#"""#,
            br#""unterminated"#,
            br#" "padded" "#,
            b"\"\xff\xfe not utf-8\"",
            br#"null"#,
        ] {
            decodes_as_serde_json::<String>(raw);
            decodes_as_serde_json::<Box<str>>(raw);
            decodes_as_serde_json::<Arc<str>>(raw);
            decodes_as_serde_json::<Option<String>>(raw);
            decodes_as_serde_json::<Color>(raw);
            decodes_as_serde_json::<Wrapped>(raw);
            decodes_as_serde_json::<Option<Option<Wrapped>>>(raw);
            decodes_as_serde_json::<Either>(raw);
            decodes_as_serde_json::<std::borrow::Cow<'static, str>>(raw);
            decodes_as_serde_json::<char>(raw);
            decodes_as_serde_json::<u32>(raw);
            decodes_as_serde_json::<Vec<u8>>(raw);
            decodes_as_serde_json::<serde_json::Value>(raw);
        }
        // Long values go through the SIMD UTF-8 check block by block: a bad byte at the end,
        // and multi-byte characters across every block boundary.
        let mut bad = b"\"".to_vec();
        bad.extend(std::iter::repeat_n(b'v', 4095));
        bad.extend(b"\xff\"");
        decodes_as_serde_json::<String>(&bad);
        let straddling = format!("\"{}\"", "ab\u{e9}\u{1f600}".repeat(700));
        decodes_as_serde_json::<String>(straddling.as_bytes());
        assert!(decode_plain_string::<String>(straddling.as_bytes()).is_some());
        let long = "v".repeat(4096);
        let raw = encode(&long).expect("encodes");
        assert_eq!(decode::<String>(&raw).ok(), Some(long.clone()));
        // These take the fast path, not the parser's fallback.
        assert_eq!(
            decode_plain_string::<Option<String>>(&raw),
            Some(Some(long.clone()))
        );
        assert_eq!(decode_plain_string::<Wrapped>(&raw), Some(Wrapped(long)));
        assert_eq!(decode_plain_string::<Color>(br#""Red""#), Some(Color::Red));
        assert_eq!(decode_plain_string::<u32>(br#""7""#), None);
        assert!(matches!(
            decode::<u32>(br#""text""#),
            Err(CacheError::Codec { .. })
        ));
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
    fn a_value_that_encodes_a_value_while_it_is_encoded_gets_its_own_buffer() {
        struct Nested;
        impl Serialize for Nested {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let inner = encode(&"inner").map_err(serde::ser::Error::custom)?;
                s.serialize_str(std::str::from_utf8(&inner).map_err(serde::ser::Error::custom)?)
            }
        }
        assert_eq!(&encode(&Nested).expect("encodes")[..], br#""\"inner\"""#);
        let big = "x".repeat(SCRATCH_KEEP * 2);
        assert_eq!(encode(&big).expect("encodes").len(), big.len() + 2);
        assert_eq!(&encode(&1u8).expect("encodes")[..], b"1");
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
