//! What a failed provider call means for a capture: retry later, or stop.

use std::time::{Duration, SystemTime};

use crate::runtime::CallError;
use crate::runtime::wit::{ProviderError, epoch_ms};

/// The capture's next step after a failed call.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Transient (rate limit, 5xx, timeout, connection, unreadable answer,
    /// a crashed plugin call): try again, not before `at_least` when the
    /// provider said how long to wait.
    Transient {
        /// The error, in words.
        reason: String,
        /// The provider's `Retry-After`, if it gave one.
        at_least: Option<Duration>,
    },
    /// The provider rejected the stored credentials.
    Unauthorized(String),
    /// The project does not exist or the credentials cannot see it.
    NotFound(String),
    /// Nothing a retry can fix (configuration).
    Fatal(String),
}

/// Classify a plugin call's error.
pub fn classify(err: &CallError) -> Failure {
    let reason = err.to_string();
    match err {
        CallError::Provider(e) => match &e.0 {
            ProviderError::RateLimited(r) => Failure::Transient {
                reason,
                at_least: r.until.map(|until| {
                    Duration::from_millis(until.saturating_sub(epoch_ms(SystemTime::now())))
                }),
            },
            ProviderError::Upstream(u) if u.status >= 500 || u.status == 408 => {
                Failure::Transient {
                    reason,
                    at_least: None,
                }
            }
            ProviderError::Upstream(_) => Failure::Fatal(reason),
            ProviderError::Unauthorized(m) => Failure::Unauthorized(m.clone()),
            ProviderError::NotFound(m) => Failure::NotFound(m.clone()),
            ProviderError::InvalidResponse(_) | ProviderError::Other(_) => Failure::Transient {
                reason,
                at_least: None,
            },
        },
        CallError::Timeout { .. }
        | CallError::Panic { .. }
        | CallError::Trap { .. }
        | CallError::MemoryLimit { .. } => Failure::Transient {
            reason,
            at_least: None,
        },
        CallError::HostNotAllowed(m) => Failure::Fatal(m.clone()),
    }
}

/// Exponential backoff for attempt `attempt` (1-based): `base * 2^(n-1)`,
/// capped, with up to 20 % jitter (so captures that failed together do not
/// retry together), and never shorter than the provider asked.
pub fn backoff(
    attempt: u32,
    base: Duration,
    cap: Duration,
    at_least: Option<Duration>,
) -> Duration {
    let exp = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)))
        .min(cap);
    let jitter = exp.mul_f64(rand::random::<f64>() * 0.2);
    (exp + jitter).max(at_least.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::plugin::ProviderErrorText;
    use crate::runtime::wit::latest::types::{RateLimit, UpstreamError};

    fn provider(e: ProviderError) -> CallError {
        CallError::Provider(ProviderErrorText(e))
    }

    #[test]
    fn classification() {
        let rl = provider(ProviderError::RateLimited(RateLimit {
            until: Some(epoch_ms(SystemTime::now()) + 7000),
            message: "slow".into(),
        }));
        let Failure::Transient {
            reason,
            at_least: Some(wait),
        } = classify(&rl)
        else {
            panic!("{:?}", classify(&rl))
        };
        assert!(reason.starts_with("rate limited (retry after "), "{reason}");
        assert!(wait <= Duration::from_secs(7) && wait > Duration::from_millis(6500));
        let s5 = provider(ProviderError::Upstream(UpstreamError {
            status: 503,
            message: "x".into(),
        }));
        assert!(matches!(
            classify(&s5),
            Failure::Transient { at_least: None, .. }
        ));
        let s4 = provider(ProviderError::Upstream(UpstreamError {
            status: 400,
            message: "x".into(),
        }));
        assert!(matches!(classify(&s4), Failure::Fatal(_)));
        assert_eq!(
            classify(&provider(ProviderError::Unauthorized("no".into()))),
            Failure::Unauthorized("no".into())
        );
        assert!(matches!(
            classify(&provider(ProviderError::NotFound("gone".into()))),
            Failure::NotFound(_)
        ));
        let t = CallError::Timeout {
            plugin: "circleci".into(),
            after: Duration::from_secs(30),
        };
        assert!(matches!(classify(&t), Failure::Transient { .. }));
        assert!(matches!(
            classify(&CallError::HostNotAllowed("no".into())),
            Failure::Fatal(_)
        ));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let b1 = backoff(1, base, cap, None);
        assert!(b1 >= base && b1 <= base.mul_f64(1.2), "{b1:?}");
        let b4 = backoff(4, base, cap, None);
        assert!(
            b4 >= Duration::from_secs(8) && b4 <= Duration::from_millis(9600),
            "{b4:?}"
        );
        let b30 = backoff(30, base, cap, None);
        assert!(b30 >= cap && b30 <= cap.mul_f64(1.2), "{b30:?}");
        assert_eq!(
            backoff(1, base, cap, Some(Duration::from_secs(90))),
            Duration::from_secs(90)
        );
    }
}
