//! The API token and the middleware that demands it.
//!
//! Protected routes need `Authorization: Bearer <token>`, the cluster's
//! [`Token`], compared in constant time; a missing or wrong token is a 401 with
//! `WWW-Authenticate: Bearer`, a `security` event and a strike for the
//! client in the [`FailureLimiter`](crate::rate_limit::FailureLimiter); a
//! client with too many strikes gets 429 until its window ends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use histo_cluster::Event;
use histo_cluster::events::SecurityKind;
pub use histo_cluster::token::{Token, TokenError};

use crate::AppState;
use crate::errors::ApiError;

/// The bearer token of a request, if it has exactly one `Authorization`
/// header and that is `Bearer <token>` (the scheme in any case). Two
/// headers are refused rather than one of them picked: a proxy in front may
/// have looked at the other.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The client's address, as the connection saw it.
pub fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// What checking a presented token concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The right token.
    Allowed,
    /// Refused; answer with this error.
    Refused(ApiError),
}

/// Checks `presented` for a request from `ip` to `what` (e.g. `POST
/// /upload`), counting failures and publishing security events.
pub fn check(state: &AppState, ip: IpAddr, presented: Option<&str>, what: &str) -> Verdict {
    let client = ip.to_string();
    let events = state.cluster.events();
    if let Some(wait) = state.limiter.blocked(ip) {
        state.metrics.rate_limited.inc();
        return Verdict::Refused(ApiError::rate_limited(wait));
    }
    let detail = match presented {
        Some(token) if state.token.matches(token) => return Verdict::Allowed,
        Some(_) => format!("wrong bearer token on {what}"),
        None => format!("missing bearer token on {what} (expected one header `Authorization: Bearer <token>`)"),
    };
    state.metrics.auth_failures.inc();
    let failure = state.limiter.record_failure(ip);
    events.publish(Event::security(SecurityKind::AuthFailed, client.clone(), detail.clone()));
    if failure.now_blocked {
        let policy = state.limiter.policy();
        events.publish(Event::security(
            SecurityKind::RateLimited,
            client,
            format!(
                "blocked for {}s after {} failed authentication attempts",
                policy.window.as_secs(),
                policy.max_failures
            ),
        ));
    }
    Verdict::Refused(ApiError::unauthorized(detail))
}

/// Middleware for protected routes.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = client_ip(request.extensions());
    let what = format!("{} {}", request.method(), request.uri().path());
    match check(&state, ip, bearer(request.headers()), &what) {
        Verdict::Allowed => next.run(request).await,
        Verdict::Refused(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_and_never_print() {
        let t = Token::new(" s3cret-token\n").unwrap();
        assert!(t.matches("s3cret-token"));
        assert!(!t.matches("s3cret-tokeN"));
        assert!(!t.matches("s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(Token::new("  ").unwrap_err(), TokenError::Empty);
        assert!(Token::new("a b").is_err());
        let g = Token::generate().unwrap();
        assert_eq!(g.expose().len(), 64);
        assert_ne!(g.expose(), Token::generate().unwrap().expose());
    }

    #[test]
    fn bearer_is_parsed_case_insensitively() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        for malformed in ["Bearer", "Bearerabc", "abc", "Bearer\tabc"] {
            h.insert(header::AUTHORIZATION, malformed.parse().unwrap());
            assert_eq!(bearer(&h), None, "{malformed}");
        }
    }

    #[test]
    fn two_authorization_headers_are_no_token() {
        let mut h = HeaderMap::new();
        h.append(header::AUTHORIZATION, "Bearer right".parse().unwrap());
        assert_eq!(bearer(&h), Some("right"));
        h.append(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
