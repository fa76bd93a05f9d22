//! Configuration of the observability pieces (`[tracing]`, `[request_id]`, and the
//! `[log]` access-log destination), kept apart from `schema.rs`: each section checks its
//! own values in `Deserialize`, where toml attaches the line and column.

use std::path::Path;

use http::HeaderName;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use super::schema::Log;
use crate::observe::request_id::RequestIdPolicy;

/// `[tracing]`: W3C trace context and OTLP export.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tracing {
    /// The OTLP/HTTP collector's base URL (`http://127.0.0.1:4318`; spans go to
    /// `/v1/traces` under it). `None` (the default) = no export, and no cost.
    #[serde(deserialize_with = "otlp_endpoint")]
    pub otlp_endpoint: Option<String>,
    /// Share of new traces (no valid incoming `traceparent`) that are recorded, 0 to 1;
    /// a continued trace follows the client's sampled flag. Default 1.
    #[serde(deserialize_with = "ratio")]
    pub sample_ratio: f64,
    /// `service.name` of the exported spans. Default `gangway`.
    pub service_name: String,
}

impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            otlp_endpoint: None,
            sample_ratio: 1.0,
            service_name: "gangway".to_owned(),
        }
    }
}

/// `[request_id]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestId {
    /// The header read from the client, sent upstream and returned. Default `x-request-id`.
    #[serde(deserialize_with = "header_name")]
    pub header: HeaderName,
    /// Keep a sane incoming id (≤ 128 visible ASCII); `false` = always make one. Default
    /// true.
    pub trust_incoming: bool,
}

impl Default for RequestId {
    fn default() -> Self {
        let policy = RequestIdPolicy::default();
        RequestId {
            header: policy.header,
            trust_incoming: policy.trust_incoming,
        }
    }
}

impl RequestId {
    /// The policy the request path applies.
    pub fn policy(&self) -> RequestIdPolicy {
        RequestIdPolicy {
            header: self.header.clone(),
            trust_incoming: self.trust_incoming,
        }
    }
}

/// Resolves a relative `[log] access_log_path` against the config file's directory, as
/// TLS file paths are.
pub(super) fn resolve_log_path(mut log: Log, base_dir: Option<&Path>) -> Log {
    if let (Some(dir), Some(path)) = (base_dir, log.access_log_path.as_mut()) {
        if path.is_relative() {
            *path = dir.join(&*path);
        }
    }
    log
}

fn otlp_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|e| D::Error::custom(format!("\"{text}\" is not a URL: {e}")))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.authority().is_none() || uri.query().is_some() {
        return Err(D::Error::custom(format!(
            "\"{text}\" is not an http:// or https:// URL without a query"
        )));
    }
    Ok(Some(text.to_owned()))
}

fn ratio<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(D::Error::custom("must be a number from 0 to 1"))
    }
}

fn header_name<'de, D: Deserializer<'de>>(d: D) -> Result<HeaderName, D::Error> {
    let text = String::deserialize(d)?;
    HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| D::Error::custom(format!("\"{text}\" is not a header name")))
}

#[cfg(test)]
mod tests;
