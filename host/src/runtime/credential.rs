//! The provider token, as the runtime holds it.
//!
//! Plugins never see it: the outbound HTTP layer adds it to requests bound
//! for the integration's own origin, after the request has left the guest,
//! and scrubs it from anything a server echoes back.

use std::fmt;

use zeroize::Zeroizing;

/// A provider API token. Debug and Display print `[redacted]`, the
/// memory is wiped on drop, and there is no Serialize.
#[derive(Clone)]
pub struct Credential(Zeroizing<String>);

impl Credential {
    /// Wraps a token; from here on it is only ever printed redacted.
    pub fn new(token: impl Into<String>) -> Self {
        Credential(Zeroizing::new(token.into()))
    }

    /// The token itself, for the one place that writes the auth header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([redacted])")
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_formats_the_token() {
        let c = super::Credential::new("s3cr3t-token");
        assert!(!format!("{c:?} {c}").contains("s3cr3t"));
        assert_eq!(c.expose(), "s3cr3t-token");
    }
}
