//! A route's own rules from `[[route]]`: `methods`, `respond`, `redirect`, `rewrite_prefix`.
//! Each error names the key and where it is.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Deserialize;
use toml::Spanned;

use super::validate::Source;
use super::ConfigError;
use crate::route::action::{self, Action};
use crate::route::Route;

/// `respond = { status = 403, body = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRespond {
    status: u16,
    #[serde(default)]
    body: String,
}

/// `redirect = { to = "https://...", status = 308 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedirect {
    to: String,
    #[serde(default = "default_redirect")]
    status: u16,
}

fn default_redirect() -> u16 {
    308
}

/// The raw keys, as read.
pub(super) struct Rules {
    pub methods: Option<Spanned<Vec<String>>>,
    pub respond: Option<Spanned<RawRespond>>,
    pub redirect: Option<Spanned<RawRedirect>>,
    pub rewrite_prefix: Option<Spanned<String>>,
}

/// Checks the rules of `route[i]` and sets them on `route`.
pub(super) fn apply(
    route: &mut Route,
    rules: Rules,
    i: usize,
    src: &Source<'_>,
) -> Result<(), ConfigError> {
    if let Some(methods) = rules.methods {
        let span = methods.span();
        let mut parsed = Vec::new();
        for m in methods.into_inner() {
            // Methods are case-sensitive tokens (RFC 9110 §9.1); upper-case is what is meant.
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                src.error(
                    span.clone(),
                    format!("route[{i}].methods"),
                    format!("\"{m}\" is not an HTTP method"),
                )
            })?;
            if !parsed.contains(&method) {
                parsed.push(method);
            }
        }
        if parsed.is_empty() {
            let message = "must list at least one method (leave it out to allow all)";
            return Err(src.error(span, format!("route[{i}].methods"), message));
        }
        route.methods = Some(parsed);
    }
    if let (Some(_), Some(redirect)) = (&rules.respond, &rules.redirect) {
        let message = "a route either responds or redirects, not both";
        return Err(src.error(redirect.span(), format!("route[{i}].redirect"), message));
    }
    if let Some(respond) = rules.respond {
        let span = respond.span();
        let raw = respond.into_inner();
        let status = StatusCode::from_u16(raw.status)
            .ok()
            .filter(|s| (200..600).contains(&s.as_u16()))
            .ok_or_else(|| {
                src.error(
                    span,
                    format!("route[{i}].respond.status"),
                    "must be 200 to 599",
                )
            })?;
        route.action = Some(Action::Respond {
            status,
            body: Bytes::from(raw.body),
        });
    }
    if let Some(redirect) = rules.redirect {
        let span = redirect.span();
        let raw = redirect.into_inner();
        let status = StatusCode::from_u16(raw.status)
            .ok()
            .filter(|s| action::REDIRECT_STATUSES.contains(&s.as_u16()))
            .ok_or_else(|| {
                let message = "must be 301, 302, 303, 307 or 308";
                src.error(span.clone(), format!("route[{i}].redirect.status"), message)
            })?;
        action::check_redirect(&raw.to)
            .map_err(|reason| src.error(span, format!("route[{i}].redirect.to"), reason))?;
        route.action = Some(Action::Redirect { to: raw.to, status });
    }
    if let Some(rewrite) = rules.rewrite_prefix {
        // The same rules as a prefix: starts with `/`, no dot-segments, no `?`/`#`.
        let probe = Route::new(rewrite.get_ref(), "http://127.0.0.1:1");
        let normalized = match probe {
            Ok(r) if !rewrite.get_ref().contains('*') => r.prefix,
            Ok(_) => {
                let message = "must not contain *";
                return Err(src.error(
                    rewrite.span(),
                    format!("route[{i}].rewrite_prefix"),
                    message,
                ));
            }
            Err(e) => {
                let message = e.to_string();
                return Err(src.error(
                    rewrite.span(),
                    format!("route[{i}].rewrite_prefix"),
                    message,
                ));
            }
        };
        route.rewrite_prefix = Some(normalized);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
