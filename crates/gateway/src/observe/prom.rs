//! A small writer for the Prometheus text exposition format (0.0.4): every family gets its
//! `# HELP` and `# TYPE` before its samples, label values and help text are escaped, and
//! histograms come out as cumulative `_bucket{le=…}` series ending in `+Inf`, then `_sum`
//! and `_count`.
//!
//! ```
//! use gangway::observe::prom::{MetricType, PromText};
//! let mut text = PromText::new();
//! text.family("gangway_requests_total", "Requests answered.", MetricType::Counter)
//!     .sample(&[("route", "api"), ("status", "200")], 12.0);
//! assert!(text.as_str().starts_with("# HELP gangway_requests_total Requests answered.\n"));
//! ```

use std::fmt::Write as _;

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Only goes up (name ends in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Bucketed observations.
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// The text being built.
#[derive(Debug, Default)]
pub struct PromText {
    out: String,
}

/// One family's samples; made by [`PromText::family`].
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

/// Labels: `(name, value)` pairs; names must be valid label names (the caller's constants),
/// values are escaped.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

impl PromText {
    /// An empty exposition.
    pub fn new() -> PromText {
        PromText::default()
    }

    /// Starts a family: writes its `# HELP` and `# TYPE`. Write all of a family's samples
    /// through the returned handle before starting another: the format wants them together.
    pub fn family<'a>(&'a mut self, name: &'a str, help: &str, kind: MetricType) -> Family<'a> {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
        Family {
            out: &mut self.out,
            name,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished text.
    pub fn into_string(self) -> String {
        self.out
    }
}

impl Family<'_> {
    /// One counter or gauge sample.
    pub fn sample(&mut self, labels: Labels<'_>, value: f64) -> &mut Self {
        let name = self.name;
        self.line(name, "", labels, None, value);
        self
    }

    /// One histogram series. `bounds` are the buckets' upper bounds, ascending, without
    /// `+Inf`; `counts[i]` is the number of observations in bucket `i` alone (not
    /// cumulative), with one more entry than `bounds` for the `+Inf` bucket (a missing one
    /// counts as 0).
    pub fn histogram(
        &mut self,
        labels: Labels<'_>,
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) -> &mut Self {
        let name = self.name;
        let mut cumulative = 0u64;
        let mut le = String::new();
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += counts.get(i).copied().unwrap_or(0);
            le.clear();
            push_value(&mut le, *bound);
            self.line(name, "_bucket", labels, Some(&le), cumulative as f64);
        }
        cumulative += counts.get(bounds.len()).copied().unwrap_or(0);
        self.line(name, "_bucket", labels, Some("+Inf"), cumulative as f64);
        self.line(name, "_sum", labels, None, sum);
        self.line(name, "_count", labels, None, cumulative as f64);
        self
    }

    fn line(&mut self, name: &str, suffix: &str, labels: Labels<'_>, le: Option<&str>, v: f64) {
        let out = &mut *self.out;
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            out.push('{');
            let extra = le.map(|le| ("le", le));
            for (i, (key, value)) in labels.iter().copied().chain(extra).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(key);
                out.push_str("=\"");
                for c in value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        push_value(out, v);
        out.push('\n');
    }
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf` as the format spells
/// them.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests;
