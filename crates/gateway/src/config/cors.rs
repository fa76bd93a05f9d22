//! `[cors]`'s pattern lists (`allow_targets`, `allow_origins`): each entry is read by the
//! CORS module's own parser once, while the file (or the command line) is validated, and kept
//! both as written and parsed. The proxy runs on the parsed form, `--print-config` writes the
//! text back; nothing parses a pattern a second time at start, so the only place a bad
//! pattern is reported is the one with its line and column.

use std::fmt;

use toml::Spanned;

use super::error::ConfigError;
use super::validate::Source;
use crate::cors::{host_to_ascii, OriginPattern, TargetPattern};

/// A config value kept as its (normalised) text and its parsed form.
///
/// Equality looks at the text only: the parsed form is a function of it, and the text is
/// what `--print-config`'s round trip promises to keep.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    text: String,
    value: T,
}

impl<T> Parsed<T> {
    /// The value as the config holds it (trimmed; an international name in its ASCII form).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed value.
    pub fn value(&self) -> &T {
        &self.value
    }
}

impl<T> PartialEq for Parsed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Eq for Parsed<T> {}

impl<T> PartialEq<&str> for Parsed<T> {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl<T> fmt::Display for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Checks a CORS target pattern with the CORS module's own parser, so the file accepts
/// exactly what the proxy understands, and says so with a line number. An international
/// name (`münchen.de`, `*.münchen.de:8443`) is converted to the ASCII form the proxy
/// compares targets in (`xn--mnchen-3ya.de`).
pub(crate) fn normalize_target(text: &str) -> Result<Parsed<TargetPattern>, String> {
    let text = text.trim();
    let converted;
    let text = if text.is_ascii() {
        text
    } else {
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", text),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if port.is_ascii() => (host, format!(":{port}")),
            _ => (rest, String::new()),
        };
        let host =
            host_to_ascii(host).map_err(|e| format!("invalid target pattern \"{text}\": {e}"))?;
        converted = format!("{wildcard}{host}{port}");
        converted.as_str()
    };
    TargetPattern::parse(text)
        .map(|value| Parsed {
            text: text.to_owned(),
            value,
        })
        .map_err(|e| e.to_string())
}

/// Checks a CORS origin pattern with the CORS module's own parser.
pub(crate) fn normalize_origin(text: &str) -> Result<Parsed<OriginPattern>, String> {
    let text = text.trim();
    OriginPattern::parse(text)
        .map(|value| Parsed {
            text: text.to_owned(),
            value,
        })
        .map_err(|e| e.to_string())
}

/// Checks every entry of `cors.<key>`; an error names the entry (`cors.allow_targets[1]`)
/// at its own line. Done here rather than in a `Deserialize` impl: toml gives array elements
/// no span of their own, and the line of the bad element is the useful one.
pub(super) fn each<T>(
    src: &Source<'_>,
    list: &[Spanned<String>],
    key: &str,
    check: fn(&str) -> Result<Parsed<T>, String>,
) -> Result<Vec<Parsed<T>>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            check(item.get_ref()).map_err(|m| src.error(item.span(), format!("cors.{key}[{i}]"), m))
        })
        .collect()
}
