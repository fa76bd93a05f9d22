//! `ConfigError`: every error names where it came from (file and line, or the flag) and
//! the key, e.g. `gangway.toml:7:11: route[1].upstream: scheme "ftp" is not http or https`.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// A configuration that cannot be used, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<(usize, usize)>,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    /// An error about a key at a byte span of `text`.
    pub(crate) fn at(
        origin: &str,
        text: &str,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let key: String = key.into();
        ConfigError {
            origin: origin.to_owned(),
            position: span.map(|s| line_column(text, s.start)),
            key: (!key.is_empty()).then_some(key),
            message: one_line(&message.into()),
        }
    }

    /// An error with no position: a command-line flag, or the file as a whole.
    pub(crate) fn new(origin: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::at(origin, "", None, key, message)
    }

    /// Converts a TOML syntax or type error, recovering the key path from its span.
    pub(crate) fn from_toml(origin: &str, text: &str, err: &toml::de::Error) -> Self {
        let span = err.span();
        let key = span
            .as_ref()
            .and_then(|s| key_path(text, s.start))
            .unwrap_or_default();
        let mut message = one_line(err.message());
        // toml says nothing for some syntax errors (a control character in a comment):
        // name the character instead of printing `gangway.toml:1:2: ` and nothing else.
        if message.is_empty() {
            let found = span
                .as_ref()
                .and_then(|s| text.get(s.start..))
                .and_then(|rest| rest.chars().next());
            message = match found {
                Some(c) => format!("invalid TOML: unexpected character {c:?}"),
                None => "invalid TOML: unexpected end of file".to_owned(),
            };
        }
        Self::at(origin, text, span, key, message)
    }

    /// The file name, or `command line`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// 1-based column (in characters), when known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// The key path, e.g. `route[1].upstream` or `--route`, when known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A message fit for one terminal or log line. toml's own messages span lines ("expected …\n
/// found …"), and many messages quote the user's value, which a TOML string can fill with CR,
/// LF or ESC. Line breaks (CR and LF alike) become `": "`, other control characters are
/// escaped (`\u{1b}`).
fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let lines = message
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        for c in line.chars() {
            if c.is_control() {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// 1-based line and column of a byte offset; never panics on offsets past the end or
/// inside a multi-byte character.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|b| (**b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
}

/// The dotted key path (`route[1].upstream`) of the deepest key or value containing
/// `offset`. toml knows the path of an error but doesn't expose it, so the text is read a
/// second time into a tree that keeps every span. Only runs on the error path.
fn key_path(text: &str, offset: usize) -> Option<String> {
    let root: Node = toml::from_str(text).ok()?;
    let mut path = String::new();
    (root.find(offset, &mut path) && !path.is_empty()).then_some(path)
}

enum Node {
    Table(Vec<(Spanned<String>, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
    Leaf,
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

impl Node {
    fn find(&self, offset: usize, path: &mut String) -> bool {
        match self {
            Node::Table(entries) => entries.iter().any(|(key, value)| {
                let len = path.len();
                push_key(path, key.get_ref());
                let found = value.get_ref().find(offset, path)
                    || contains(&key.span(), offset)
                    || contains(&value.span(), offset);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Node::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = item.get_ref().find(offset, path) || contains(&item.span(), offset);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Node::Leaf => false,
        }
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        path.push_str(key);
    } else {
        path.push_str(&format!("{key:?}"));
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value::<Spanned<Node>>()?));
        }
        Ok(Node::Table(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 4));
        assert_eq!(line_column(text, 8), (2, 3)); // inside `é`
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn key_paths() {
        let text = "top = 1\n[[route]]\nprefix = \"/a\"\n[[route]]\nprefix = \"/b\"\nupstream = \"x\"\n[pool]\n\"odd key\" = { inner = [1, 2] }\n";
        let at = |needle: &str| text.find(needle).and_then(|o| key_path(text, o));
        assert_eq!(at("top").as_deref(), Some("top"));
        assert_eq!(at("\"/b\"").as_deref(), Some("route[1].prefix"));
        assert_eq!(at("\"x\"").as_deref(), Some("route[1].upstream"));
        assert_eq!(at("2]").as_deref(), Some("pool.\"odd key\".inner[1]"));
        assert_eq!(key_path("not = [toml", 0), None);
    }

    /// Found by the `config` fuzz target (fuzz/corpus/config/seed-crash-value-with-cr): a
    /// quoted value with a lone CR (or ESC) made a two-line error, or one that drives the
    /// terminal. The text stays on one line with control characters escaped.
    #[test]
    fn errors_stay_on_one_line() {
        let text = "[[listener]]\naddress = \"127.0.0.1:2000\"\n[health]\npath = \"x\\r\\u001b[31m\\ny\"\n";
        let err = crate::config::parse(text, "g.toml").expect_err("not a path");
        assert_eq!(
            err.to_string(),
            "g.toml:4:8: health.path: \"x: \\u{1b}[31m: y\" is not a URL path starting with /"
        );
        let err = ConfigError::new("g.toml", "", "file not found: a\r\nb\tc");
        assert_eq!(err.to_string(), "g.toml: file not found: a: b\\tc");
    }

    /// Found by the `config` fuzz target (fuzz/corpus/config/seed-crash-comment-control-char):
    /// toml reports a control character in a comment with an empty message.
    #[test]
    fn syntax_errors_always_say_something() {
        for (text, position, found) in [
            ("#\u{b}", "1:2", "'\\u{b}'"),
            ("x = 1\n#\u{1}", "2:2", "'\\u{1}'"),
        ] {
            let err = toml::from_str::<toml::Value>(text).expect_err("invalid TOML");
            let shown = ConfigError::from_toml("g.toml", text, &err).to_string();
            assert!(
                shown.starts_with(&format!("g.toml:{position}: ")),
                "{shown}"
            );
            assert!(
                shown.ends_with(&format!("unexpected character {found}")),
                "{shown}"
            );
        }
    }
}
