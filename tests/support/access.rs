//! Reading a gateway's access log in tests: the gateway writes JSON lines to a file in a
//! scratch directory (`[log] access_log_path`), and the test reads them back.

use std::path::PathBuf;

use crate::tmpdir::TestDir;

/// An access log file that exists for as long as this value lives.
#[derive(Debug)]
pub struct AccessFile {
    _dir: TestDir,
    path: PathBuf,
}

impl AccessFile {
    /// A fresh, not yet created, file path.
    pub fn new(tag: &str) -> Self {
        let dir = TestDir::new(tag);
        let path = dir.path().join("access.log");
        Self { _dir: dir, path }
    }

    /// The `[log]` section that sends JSON access lines to this file.
    pub fn log_section(&self) -> String {
        format!(
            "[log]\naccess_log = true\nformat = \"json\"\naccess_log_path = \"{}\"\n",
            self.path.display()
        )
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The value of `name` in a JSON access line: a string's text (the access log's values
/// need no unescaping in these tests) or a number's or boolean's digits; `None` when the
/// key is missing or `null`.
pub fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":");
    let start = line.find(&key)? + key.len();
    let rest = &line[start..];
    if let Some(text) = rest.strip_prefix('"') {
        let mut end = 0;
        let bytes = text.as_bytes();
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        return text.get(..end);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    match &rest[..end] {
        "null" => None,
        value => Some(value),
    }
}
