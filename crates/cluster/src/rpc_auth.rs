//! Authentication of the worker RPC: a worker that has the cluster's
//! [`Token`] refuses calls that do not present it (`authorization: Bearer`
//! metadata, compared in constant time), and a master that has it presents
//! it on every call. The gRPC health service stays open: probes hold no
//! token. Without a token (a worker started with none) calls are not
//! checked, and the worker says so once at start.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::token::Token;

const AUTHORIZATION: &str = "authorization";

/// The worker's check of each call.
#[derive(Clone)]
pub(crate) struct RequireToken(pub(crate) Option<Token>);

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.0 else { return Ok(request) };
        let presented =
            request.metadata().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match presented {
            Some(p) if token.matches(p) => Ok(request),
            _ => {
                let from = request.remote_addr().map_or_else(|| "?".to_owned(), |a| a.to_string());
                tracing::warn!(%from, "refused a worker RPC call without the cluster's token");
                Err(Status::unauthenticated("this worker needs the cluster's token"))
            }
        }
    }
}

/// The master's side: the token on every call, when it has one.
#[derive(Clone)]
pub(crate) struct PresentToken(Option<MetadataValue<Ascii>>);

impl PresentToken {
    pub(crate) fn new(token: Option<&Token>) -> Self {
        // A token holds no whitespace or control characters (Token::new), so
        // it is always a valid header value.
        PresentToken(token.and_then(|t| format!("Bearer {}", t.expose()).parse().ok()))
    }
}

impl Interceptor for PresentToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(v) = value {
            request.metadata_mut().insert(AUTHORIZATION, v.parse().unwrap());
        }
        request
    }

    #[test]
    fn a_worker_with_a_token_refuses_calls_without_it() {
        let token = Token::new("s3cret-token").unwrap();
        let mut check = RequireToken(Some(token.clone()));
        assert!(check.call(with(Some("Bearer s3cret-token"))).is_ok());
        for bad in [None, Some("Bearer wrong"), Some("s3cret-token"), Some("Basic s3cret-token")] {
            let refused = check.call(with(bad)).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{bad:?}");
        }
        assert!(RequireToken(None).call(with(None)).is_ok(), "no token, no check");
        // What a master presents is what a worker accepts.
        let presented = PresentToken::new(Some(&token)).call(Request::new(())).unwrap();
        assert!(check.call(presented).is_ok());
    }
}
