//! `[[upstream]]` as written: the serde side, with spans on what [`super::validate`] checks.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::config::duration;
use crate::upstream::{budget, health, outlier};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub(super) name: Spanned<String>,
    pub(super) servers: Spanned<Vec<Spanned<RawServer>>>,
    #[serde(default)]
    pub(super) balance: Option<Spanned<Balance>>,
    pub(super) hash_on: Option<Spanned<String>>,
    pub(super) retries: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) retry_on: Vec<Spanned<String>>,
    #[serde(default = "default_resolve", deserialize_with = "duration::non_zero")]
    pub(super) resolve_interval: Duration,
    pub(super) health: Option<RawHealth>,
    #[serde(default)]
    pub(super) outlier: RawOutlier,
    #[serde(default)]
    pub(super) retry_budget: RawBudget,
    pub(super) protocol: Option<Spanned<String>>,
}

pub(super) fn default_resolve() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Balance {
    LeastRequests,
    RoundRobin,
    Random,
    Hash,
}

/// A server as written: a URL string, or a table with `url` and `weight`.
#[derive(Debug)]
pub(crate) struct RawServer {
    pub(super) url: String,
    pub(super) weight: Option<i64>,
}

impl<'de> Deserialize<'de> for RawServer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawServer, D::Error> {
        d.deserialize_any(ServerVisitor)
    }
}

struct ServerVisitor;

impl<'de> Visitor<'de> for ServerVisitor {
    type Value = RawServer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URL string or { url = \"…\", weight = N }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawServer, E> {
        Ok(RawServer {
            url: v.to_owned(),
            weight: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawServer, A::Error> {
        let (mut url, mut weight) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "url" => url = Some(map.next_value::<String>()?),
                "weight" => weight = Some(map.next_value::<i64>()?),
                other => {
                    return Err(de::Error::unknown_field(other, &["url", "weight"]));
                }
            }
        }
        let url = url.ok_or_else(|| de::Error::missing_field("url"))?;
        Ok(RawServer { url, weight })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    #[serde(deserialize_with = "crate::config::schema::absolute_path")]
    pub(super) path: String,
    #[serde(default = "health_interval", deserialize_with = "duration::non_zero")]
    pub(super) interval: Duration,
    #[serde(default = "health_timeout", deserialize_with = "duration::non_zero")]
    pub(super) timeout: Duration,
    #[serde(default = "two", deserialize_with = "at_least_one")]
    pub(super) healthy_after: u32,
    #[serde(default = "three", deserialize_with = "at_least_one")]
    pub(super) unhealthy_after: u32,
    #[serde(default)]
    pub(super) expected_status: Vec<Spanned<StatusText>>,
}

fn health_interval() -> Duration {
    health::Settings::default().interval
}
fn health_timeout() -> Duration {
    health::Settings::default().timeout
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// `200` or `"2xx"`, kept as text until validation (which knows the element's span).
#[derive(Debug)]
pub(super) struct StatusText(pub(super) String);

impl<'de> Deserialize<'de> for StatusText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusText, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status such as 200 or a class such as \"2xx\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusText, E> {
                Ok(StatusText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusText, E> {
                Ok(StatusText(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusText, E> {
                Ok(StatusText(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawOutlier {
    #[serde(deserialize_with = "at_least_one")]
    pub(super) consecutive_failures: u32,
    #[serde(deserialize_with = "duration::non_zero")]
    pub(super) base_ejection: Duration,
    pub(super) max_ejection: Option<Spanned<String>>,
    pub(super) max_ejected_percent: Spanned<u8>,
}

impl Default for RawOutlier {
    fn default() -> Self {
        let d = outlier::Settings::default();
        RawOutlier {
            consecutive_failures: d.consecutive_failures,
            base_ejection: d.base_ejection,
            max_ejection: None,
            max_ejected_percent: Spanned::new(0..0, d.max_ejected_percent),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawBudget {
    pub(super) percent: Spanned<u8>,
    pub(super) min_per_second: u32,
    pub(super) window: Option<Spanned<String>>,
}

impl Default for RawBudget {
    fn default() -> Self {
        RawBudget {
            percent: Spanned::new(0..0, 20),
            min_per_second: budget::Settings::default().min_per_second,
            window: None,
        }
    }
}
