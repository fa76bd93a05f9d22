//! Durations (`"250ms"`, `"30s"`, `"1m30s"`) and sizes (`65536`, `"64KiB"`, `"8k"`) as
//! written in the config file, with serde helpers for `deserialize_with`.
//!
//! Bare numbers are refused for durations: `timeout = 30` is a classic seconds-or-millis
//! mix-up, and a unit costs one character.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

const DURATION_HINT: &str =
    "expected a number with a unit: ms, s, m, h or d (e.g. \"250ms\", \"30s\", \"1m30s\")";
const SIZE_HINT: &str = "expected a byte count or a number with a unit: k/KiB, M/MiB, G/GiB (1024-based) or KB, MB, GB (1000-based)";

/// Parses `"<n><unit>[<n><unit>…]"` with units `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration \"{text}\": {DURATION_HINT}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest
            .get(..digits)
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?;
        rest = rest.get(digits..).unwrap_or("");
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let per_unit: u64 = match rest.get(..unit_len) {
            Some("ms") => 1,
            Some("s") => 1_000,
            Some("m") => 60_000,
            Some("h") => 3_600_000,
            Some("d") => 86_400_000,
            _ => return Err(bad()),
        };
        rest = rest.get(unit_len..).unwrap_or("");
        total_ms = number
            .checked_mul(per_unit)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Parses a byte size: digits, optionally followed by a unit (case-sensitive for the SI
/// forms so that `MB` and `MiB` can't be confused with each other silently).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size \"{text}\": {SIZE_HINT}");
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let number: u64 = trimmed
        .get(..digits)
        .and_then(|d| d.parse().ok())
        .ok_or_else(bad)?;
    let multiplier: u64 = match trimmed.get(digits..).map(str::trim_start) {
        Some("" | "B") => 1,
        Some("k" | "K" | "KiB") => 1 << 10,
        Some("M" | "MiB") => 1 << 20,
        Some("G" | "GiB") => 1 << 30,
        Some("KB") => 1_000,
        Some("MB") => 1_000_000,
        Some("GB") => 1_000_000_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size \"{text}\" is too large"))
}

/// `deserialize_with` for a `Duration`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// `deserialize_with` for a `Duration` that must be greater than zero.
pub(crate) fn non_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = d.deserialize_any(DurationVisitor)?;
    if value.is_zero() {
        return Err(de::Error::custom("must be greater than 0"));
    }
    Ok(value)
}

/// `deserialize_with` for an optional, non-zero `Duration` (pair with `#[serde(default)]`).
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    non_zero(d).map(Some)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"30s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "a duration needs a unit, e.g. \"{v}s\" or \"{v}ms\""
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "a duration needs a unit, e.g. \"{v}s\" or \"{v}ms\""
        )))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Duration, E> {
        Err(E::custom(DURATION_HINT))
    }
}

/// `deserialize_with` for a size in bytes.
pub(crate) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(SizeVisitor)
}

/// `deserialize_with` for a size held in memory at once (`usize`).
pub(crate) fn size_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let value = size(d)?;
    usize::try_from(value).map_err(|_| de::Error::custom("size is too large for this machine"))
}

/// `deserialize_with` for an optional size (pair with `#[serde(default)]`).
pub(crate) fn optional_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size(d).map(Some)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as 65536 or \"64KiB\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_size(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom("a size cannot be negative"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        for (text, want) in [
            ("250ms", ms(250)),
            ("30s", ms(30_000)),
            ("5m", ms(300_000)),
            ("1h", ms(3_600_000)),
            ("1d", ms(86_400_000)),
            ("1m30s", ms(90_000)),
            (" 0s ", ms(0)),
            ("1h2m3s4ms", ms(3_723_004)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text:?}");
        }
        for text in [
            "", "30", "s", "1.5s", "-1s", "10 s", "1sec", "1S", "1m30", "ms5", "٣s",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?}");
        }
        assert!(
            parse_duration("99999999999999999999d").is_err_and(|e| e.contains("invalid duration"))
        );
        assert!(parse_duration("9999999999999999d").is_err_and(|e| e.contains("too large")));
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("0", 0),
            ("65536", 65_536),
            ("64KiB", 65_536),
            ("8k", 8_192),
            ("8K", 8_192),
            ("100MiB", 104_857_600),
            ("1M", 1_048_576),
            ("2GiB", 2_147_483_648),
            ("1KB", 1_000),
            ("3MB", 3_000_000),
            ("10 B", 10),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text:?}");
        }
        for text in ["", "k", "1.5M", "-1", "1mb", "1kib", "1 KiBs", "1T"] {
            assert!(parse_size(text).is_err(), "{text:?}");
        }
        assert!(parse_size("99999999999GiB").is_err_and(|e| e.contains("too large")));
    }
}
