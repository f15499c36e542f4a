//! The cluster's shared secret: clients present it to the HTTP API as a
//! bearer token, and masters present it to workers' RPC. Compared in
//! constant time ([`subtle`]); never logged: [`Token`]'s `Debug` hides it,
//! and only [`Token::expose`] reveals it (for the one-time dashboard URL, and
//! the `authorization` header of RPC calls).

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// Why a token was refused at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Empty (or only whitespace).
    #[error("the API token is empty")]
    Empty,
    /// Contains whitespace or control characters, which a header cannot carry.
    #[error("the API token contains whitespace or control characters")]
    BadCharacters,
}

/// The shared secret clients present as a bearer token.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// A token from configuration (surrounding whitespace, such as a file's
    /// final newline, is trimmed).
    pub fn new(value: &str) -> Result<Token, TokenError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(TokenError::Empty);
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenError::BadCharacters);
        }
        Ok(Token(value.into()))
    }

    /// A fresh random token: 32 bytes from the OS, as 64 hex digits.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Token(hex.into()))
    }

    /// Whether `candidate` is this token, in time independent of where they
    /// differ (only a length mismatch returns early; the length of a token
    /// is not its secret).
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// The token itself. Only for telling it to the operator, once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}
