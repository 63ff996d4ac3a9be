//! Durations in the configuration: every duration key takes a number in the unit its name
//! says (`call_timeout_ms = 5000`, `supervisor.max_seconds = 5`), as it always has, or a
//! human-readable string (`"500ms"`, `"5s"`, `"1h 30m"`, parsed by `humantime`).
//!
//! Used through `#[serde(deserialize_with = ...)]` on the fields of `config.rs`; the fields
//! keep their numeric types, so code reading `config.call_timeout_ms` is unchanged, and the
//! configuration still serializes as numbers.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// What a duration key may hold before it is interpreted.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Parses `text` as a human-readable duration (`"500ms"`, `"1h 30m"`); a bare number is in
/// `unit`. Errors name what was expected.
pub(crate) fn parse(text: &str, unit: Unit) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(unit.of(n));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!(
            "expected {} or a duration such as \"500ms\", \"30s\", \"1h 30m\", found {text:?} ({e})",
            unit.numbers()
        )
    })
}

/// The unit a bare number is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millis,
    Seconds,
}

impl Unit {
    fn of(self, n: u64) -> Duration {
        match self {
            Unit::Millis => Duration::from_millis(n),
            Unit::Seconds => Duration::from_secs(n),
        }
    }

    fn numbers(self) -> &'static str {
        match self {
            Unit::Millis => "whole milliseconds",
            Unit::Seconds => "whole seconds",
        }
    }
}

/// Interprets what a duration key held.
fn interpret(raw: Raw, unit: Unit) -> Result<Duration, String> {
    match raw {
        Raw::Int(i) if i >= 0 => Ok(unit.of(i.unsigned_abs())),
        Raw::Int(i) => Err(format!("expected a non-negative duration, found {i}")),
        Raw::Float(f) => Err(format!(
            "expected {} or a duration string such as \"1.5s\", found {f}",
            unit.numbers()
        )),
        Raw::Text(t) => parse(&t, unit),
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D, unit: Unit) -> Result<Duration, D::Error> {
    interpret(Raw::deserialize(d)?, unit).map_err(serde::de::Error::custom)
}

/// A `*_ms` key: whole milliseconds, or a duration string (rounded up to a millisecond).
pub(crate) fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = duration(d, Unit::Millis)?;
    Ok(u64::try_from(v.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
}

/// A `*_seconds` key: whole seconds, or a duration string of whole seconds.
pub(crate) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = duration(d, Unit::Seconds)?;
    if v.subsec_nanos() != 0 {
        return Err(serde::de::Error::custom(format!(
            "expected whole seconds, found {}",
            humantime::format_duration(v)
        )));
    }
    Ok(v.as_secs())
}

/// An optional duration whose bare numbers are milliseconds (`tti`).
pub(crate) fn opt_millis_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    match Option::<Raw>::deserialize(d)? {
        Some(raw) => interpret(raw, Unit::Millis)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// Serializes an optional duration as whole milliseconds when it is one, else as text.
pub(crate) fn ser_opt_millis<S: serde::Serializer>(
    v: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 => {
            s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_in_the_unit_and_text_is_humantime() {
        assert_eq!(parse("250", Unit::Millis), Ok(Duration::from_millis(250)));
        assert_eq!(parse("3", Unit::Seconds), Ok(Duration::from_secs(3)));
        assert_eq!(
            parse("500ms", Unit::Seconds),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            parse(" 1h 30m ", Unit::Millis),
            Ok(Duration::from_secs(5400))
        );
        let e = parse("soon", Unit::Millis).unwrap_err();
        assert!(e.contains("\"soon\""), "{e}");
    }
}
