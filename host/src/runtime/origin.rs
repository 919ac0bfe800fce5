//! Origins and the operator's allow-list patterns.
//!
//! An origin is `scheme://host:port`. Patterns are what an operator writes
//! in BUILDSNAP_ALLOW_HOSTS: `https://circleci.example.com`,
//! `http://127.0.0.1:*`, `https://*.example.com`. A trailing `/` is
//! tolerated; paths, queries and credentials are refused, because a pattern
//! that looks narrower than it is would be a trap for the operator.

use std::fmt;

use url::Url;

/// A concrete origin, normalised (lower-case host, explicit port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-cased (IDNA and IP forms as `url` normalises them).
    pub host: String,
    /// The port, the scheme's default filled in.
    pub port: u16,
}

impl Origin {
    /// The origin of `url`, or `None` when it is not http(s) or has no host.
    /// Credentials in the URL are ignored here (see [`has_credentials`]).
    pub fn of(url: &Url) -> Option<Origin> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        Some(Origin {
            scheme: scheme.to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// Parse a declared origin (`https://circleci.com`). A URL with
    /// credentials (`user:password@`) is refused: an origin never carries
    /// them, and the URL's credentials would be sent as Basic auth.
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        let url = Url::parse(text.trim()).map_err(|e| OriginError::new(text, e.to_string()))?;
        if has_credentials(&url) {
            return Err(OriginError::new(
                "(a URL with credentials)",
                "an origin carries no user name or password",
            ));
        }
        Origin::of(&url).ok_or_else(|| OriginError::new(text, "not an http(s) URL"))
    }
}

/// Whether `url` has a user name or password (`https://user:pass@host`).
/// HTTP clients send those as Basic auth, past every header rule.
pub fn has_credentials(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// An origin or allow-list pattern that could not be parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "invalid origin pattern `{pattern}`: {reason} (expected scheme://host[:port], e.g. https://circleci.example.com or http://127.0.0.1:*)"
)]
pub struct OriginError {
    /// The text as given (or a placeholder, to keep credentials out).
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl OriginError {
    fn new(pattern: &str, reason: impl Into<String>) -> Self {
        OriginError {
            pattern: pattern.to_string(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any sub-domain, not `example.com` itself.
    Suffix(String),
    Exact(String),
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
    text: String,
}

impl OriginPattern {
    /// Parse one entry: `scheme://host[:port]`, where the scheme, the port
    /// and leading host labels may be `*`; refuses paths and credentials.
    pub fn parse(text: &str) -> Result<OriginPattern, OriginError> {
        let original = text;
        let text = text.trim();
        let text = text.strip_suffix('/').unwrap_or(text);
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| OriginError::new(original, "missing scheme"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            other => {
                return Err(OriginError::new(
                    original,
                    format!("unsupported scheme `{other}`"),
                ));
            }
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(OriginError::new(
                original,
                "only an origin may be given, no path, query or credentials",
            ));
        }
        // IPv6 literals carry colons inside brackets.
        let (host, port) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(OriginError::new(
                    original,
                    "a wildcard may only stand for whole leading labels",
                ));
            }
            HostPattern::Suffix(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(OriginError::new(original, "bad host"));
        } else {
            // Normalise the way URLs are (IDNA, IP forms).
            let probe = Url::parse(&format!("http://{host}/"))
                .map_err(|e| OriginError::new(original, e.to_string()))?;
            HostPattern::Exact(probe.host_str().unwrap_or(&host).to_string())
        };
        let port = match port {
            None => match scheme.as_deref() {
                Some("http") => Some(80),
                Some("https") => Some(443),
                _ => {
                    return Err(OriginError::new(
                        original,
                        "a port is required when the scheme is `*`",
                    ));
                }
            },
            Some("*") => None,
            Some(p) => Some(
                p.parse()
                    .map_err(|_| OriginError::new(original, format!("bad port `{p}`")))?,
            ),
        };
        Ok(OriginPattern {
            scheme,
            host,
            port,
            text: text.to_string(),
        })
    }

    /// Whether `origin` falls under this pattern.
    pub fn matches(&self, origin: &Origin) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == origin.scheme);
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Suffix(suffix) => origin.host.ends_with(suffix.as_str()),
            HostPattern::Exact(host) => *host == origin.host,
        };
        let port_ok = self.port.is_none_or(|p| p == origin.port);
        scheme_ok && host_ok && port_ok
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The operator's grants (BUILDSNAP_ALLOW_HOSTS).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    patterns: Vec<OriginPattern>,
}

impl AllowList {
    /// Parse a comma-separated list; empty entries are ignored.
    pub fn parse(list: &str) -> Result<AllowList, OriginError> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(OriginPattern::parse)
            .collect::<Result<_, _>>()?;
        Ok(AllowList { patterns })
    }

    /// Whether the operator listed `origin` (any pattern matches).
    pub fn allows(&self, origin: &Origin) -> bool {
        self.patterns.iter().any(|p| p.matches(origin))
    }

    /// The one grant rule: an origin the operator listed, or the plugin's
    /// own default origin when the plugin's defaults are trusted
    /// (`own_default` is `Some` only for plugins bundled with the program;
    /// a plugin from the plugins folder is `None`, so that dropping a file
    /// there never opens an origin the operator did not write down).
    pub fn grants(&self, origin: &Origin, own_default: Option<&Origin>) -> bool {
        own_default == Some(origin) || self.allows(origin)
    }

    /// Whether the operator granted nothing (only bundled defaults apply).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    #[test]
    fn exact_pattern_defaults_port_by_scheme() {
        let p = OriginPattern::parse("https://circleci.example.com/").unwrap();
        assert!(p.matches(&origin("https://circleci.example.com")));
        assert!(p.matches(&origin("https://CIRCLECI.example.com:443/api")));
        assert!(!p.matches(&origin("http://circleci.example.com")));
        assert!(!p.matches(&origin("https://circleci.example.com:8443")));
        assert!(!p.matches(&origin("https://evil.circleci.example.com")));
    }

    #[test]
    fn wildcard_port_and_host() {
        let p = OriginPattern::parse("http://127.0.0.1:*").unwrap();
        assert!(p.matches(&origin("http://127.0.0.1:4567")));
        assert!(!p.matches(&origin("https://127.0.0.1:4567")));
        assert!(!p.matches(&origin("http://127.0.0.2:4567")));
        let s = OriginPattern::parse("https://*.example.com").unwrap();
        assert!(s.matches(&origin("https://ci.example.com")));
        assert!(!s.matches(&origin("https://example.com")));
        assert!(!s.matches(&origin("https://ci.example.com.evil.io")));
    }

    #[test]
    fn refuses_patterns_that_look_narrower_than_they_are() {
        for bad in [
            "circleci.com",
            "https://a.com/path",
            "https://u:p@a.com",
            "ftp://a.com",
            "https://a*.com",
            "*://a.com",
            "https://a.com:x",
        ] {
            assert!(
                OriginPattern::parse(bad).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn own_default_is_granted_only_when_trusted() {
        let default = origin("https://ci.example.com");
        let none = AllowList::default();
        assert!(none.grants(&default, Some(&default)));
        assert!(!none.grants(&default, None));
        assert!(!none.grants(&origin("https://other.example.com"), Some(&default)));
        let listed = AllowList::parse("https://ci.example.com").unwrap();
        assert!(listed.grants(&default, None));
    }

    #[test]
    fn declared_origins_carry_no_credentials() {
        let err = Origin::parse("https://user:hunter2@ci.example.com").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(Origin::parse("https://user@ci.example.com").is_err());
        let url = Url::parse("https://:pw@h.example.com/").unwrap();
        assert!(has_credentials(&url));
        assert!(!has_credentials(
            &Url::parse("https://h.example.com/").unwrap()
        ));
    }

    #[test]
    fn allow_list_parses_comma_separated() {
        let list = AllowList::parse(" https://a.example.com, http://127.0.0.1:*,").unwrap();
        assert!(list.allows(&origin("http://127.0.0.1:9")));
        assert!(list.allows(&origin("https://a.example.com")));
        assert!(!list.allows(&origin("https://circleci.com")));
        let err = AllowList::parse("https://ok.com,nope").unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
