//! Opening one connection to PostgreSQL from a URL: the one place that
//! parses the URL and chooses the transport, shared by the store's pool
//! (`pool.rs`), the event listener (`listen.rs`) and the copy from SQLite
//! (`copy_to_postgres`).
//!
//! `sslmode` and `sslrootcert` mean what they mean to libpq, but the
//! `postgres` crate's parser knows only `disable`/`prefer`/`require` and no
//! `sslrootcert`, so both are taken out of the URL here (query form and
//! `key=value` form alike) and the rest is handed to [`Config`].

use postgres::config::SslMode as PgSslMode;
use postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, Check, Roots};
use crate::{Result, StoreError};

/// The URL's `sslmode`, with libpq's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain TCP, never TLS.
    Disable,
    /// TLS when the server offers it, plain when it declines; the
    /// certificate is not checked (unless `sslrootcert` is given). The
    /// default, as in libpq.
    Prefer,
    /// TLS or no connection; the certificate is not checked (unless
    /// `sslrootcert` is given: then as `VerifyCa`, as libpq does).
    Require,
    /// TLS, and the server's certificate must chain to a trusted root.
    VerifyCa,
    /// TLS, the chain, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's "allow" tries plain first and TLS second; the
            // `postgres` crate cannot fall back that way round.
            "allow" => {
                return Err(StoreError::Invalid(
                    "the PostgreSQL URL says sslmode=allow, which buildsnap does not support: \
                     use disable, prefer, require, verify-ca or verify-full"
                        .into(),
                ));
            }
            other => {
                return Err(StoreError::Invalid(format!(
                    "the PostgreSQL URL has an unknown sslmode={other:?}: use disable, prefer, \
                     require, verify-ca or verify-full (verify-full is the one that stops a \
                     server in the middle)"
                )));
            }
        })
    }
}

/// Where and how to connect: the `postgres` crate's settings (without the
/// TLS options) and the TLS connector they call for.
#[derive(Clone)]
pub(crate) struct Target {
    /// Host, user, database, ... and the `postgres` crate's own
    /// `sslmode` (`require` for every mode that insists on TLS).
    pub(crate) config: Config,
    /// `None` for `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
}

/// The parsed connection settings of `url` (a `postgres://` URL or a
/// `key=value` string). The root file of `sslrootcert` is read here, so a
/// bad one is refused before any connection is tried.
pub(crate) fn config(url: &str) -> Result<Target> {
    let (rest, options) = split_tls_options(url)?;
    let mode = match &options.sslmode {
        Some(value) => SslMode::parse(value)?,
        None => SslMode::Prefer,
    };
    let mut config: Config = rest.parse()?;
    let roots = options.sslrootcert.map(Roots::File);
    let check = match mode {
        SslMode::Disable => {
            config.ssl_mode(PgSslMode::Disable);
            return Ok(Target { config, tls: None });
        }
        SslMode::Prefer | SslMode::Require => {
            config.ssl_mode(if mode == SslMode::Prefer {
                PgSslMode::Prefer
            } else {
                PgSslMode::Require
            });
            roots.map_or(Check::Nothing, Check::Chain)
        }
        SslMode::VerifyCa => {
            config.ssl_mode(PgSslMode::Require);
            Check::Chain(roots.unwrap_or(Roots::Mozilla))
        }
        SslMode::VerifyFull => {
            config.ssl_mode(PgSslMode::Require);
            Check::ChainAndName(roots.unwrap_or(Roots::Mozilla))
        }
    };
    Ok(Target {
        config,
        tls: Some(tls::connector(&check)?),
    })
}

/// One new connection to `target`. With `sslmode=prefer` (the default)
/// the `postgres` crate asks the server for TLS and goes on in plain when
/// the server declines.
pub(crate) fn client(target: &Target) -> Result<Client> {
    Ok(match &target.tls {
        None => target.config.connect(NoTls)?,
        Some(tls) => target.config.connect(tls.clone())?,
    })
}

/// The TLS options taken out of a URL; the last of each wins, as in libpq.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsOptions {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

impl TlsOptions {
    /// Takes `key`'s `value` if it is one of ours: true when taken.
    fn take(&mut self, key: &str, value: String) -> bool {
        match key {
            "sslmode" => self.sslmode = Some(value),
            "sslrootcert" => self.sslrootcert = Some(value),
            _ => return false,
        }
        true
    }
}

/// `url` without `sslmode` and `sslrootcert`, and their values.
fn split_tls_options(url: &str) -> Result<(String, TlsOptions)> {
    let mut options = TlsOptions::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // A `?` can only start the query: in the user info it would have
        // to be percent-encoded.
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), options));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !options.take(&percent_decode(key)?, percent_decode(value)?) {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, options));
    }
    let mut kept = Vec::new();
    for (key, value, raw) in key_values(url)? {
        if !options.take(key, value) {
            kept.push(raw);
        }
    }
    Ok((kept.join(" "), options))
}

/// The pairs of a libpq `key=value` string: key, unquoted value, and the
/// pair's own text (kept as written for the `postgres` parser). Values may
/// be single-quoted; a backslash escapes the next character.
fn key_values(s: &str) -> Result<Vec<(&str, String, &str)>> {
    let bad = |why: &str| StoreError::Invalid(format!("the PostgreSQL connection string: {why}"));
    let bytes = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        if i == bytes.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        i = skip_space(i);
        if bytes.get(i) != Some(&b'=') {
            return Err(bad(&format!("{key:?} has no '=' and value")));
        }
        i = skip_space(i + 1);
        let mut value = Vec::new();
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        loop {
            match bytes.get(i) {
                None if quoted => {
                    return Err(bad(&format!("the value of {key} has no closing quote")));
                }
                None => break,
                Some(b'\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(c) if !quoted && c.is_ascii_whitespace() => break,
                Some(b'\\') if i + 1 < bytes.len() => {
                    value.push(bytes[i + 1]);
                    i += 2;
                }
                Some(&c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        // Bytes were split only at ASCII characters, so this is UTF-8.
        let value = String::from_utf8(value).map_err(|_| bad("not UTF-8"))?;
        pairs.push((key, value, &s[start..i]));
    }
}

/// `%XX` escapes of a URL query part decoded (and `+` left alone, as the
/// `postgres` crate does).
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    StoreError::Invalid(format!("the PostgreSQL URL has a bad %-escape in {s:?}"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        StoreError::Invalid(format!(
            "the PostgreSQL URL's {s:?} does not decode to UTF-8"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>, Option<String>) {
        let (rest, o) = split_tls_options(url).unwrap();
        (rest, o.sslmode, o.sslrootcert)
    }

    #[test]
    fn url_query_options_are_taken_out() {
        assert_eq!(
            split(
                "postgres://u:p@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem"
            ),
            (
                "postgres://u:p@h:5/db?application_name=x".into(),
                Some("verify-full".into()),
                Some("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            split("postgresql://h/db?sslmode=require"),
            ("postgresql://h/db".into(), Some("require".into()), None)
        );
        assert_eq!(
            split("postgres://h/db"),
            ("postgres://h/db".into(), None, None)
        );
    }

    #[test]
    fn key_value_options_are_taken_out() {
        assert_eq!(
            split(
                "host=h sslmode = verify-ca  password='a b\\'c' sslrootcert='/my dir/ca.pem' dbname=d"
            ),
            (
                "host=h password='a b\\'c' dbname=d".into(),
                Some("verify-ca".into()),
                Some("/my dir/ca.pem".into())
            )
        );
        assert!(split_tls_options("host=h sslrootcert='/x").is_err());
        assert!(split_tls_options("host").is_err());
    }

    #[test]
    fn modes() {
        for (url, pg) in [
            ("postgres://h/db", PgSslMode::Prefer),
            ("postgres://h/db?sslmode=disable", PgSslMode::Disable),
            ("postgres://h/db?sslmode=require", PgSslMode::Require),
            ("host=h sslmode=verify-full", PgSslMode::Require),
            ("host=h sslmode=verify-ca", PgSslMode::Require),
        ] {
            let target = config(url).unwrap();
            assert_eq!(target.config.get_ssl_mode(), pg, "{url}");
            assert_eq!(target.tls.is_none(), pg == PgSslMode::Disable, "{url}");
        }
        for (url, says) in [
            (
                "postgres://h/db?sslmode=verify_full",
                "unknown sslmode=\"verify_full\"",
            ),
            ("host=h sslmode=allow", "sslmode=allow"),
            (
                "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "sslrootcert=/nonexistent/ca.pem: cannot read it",
            ),
        ] {
            let err = config(url).err().expect(url).to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn bad_root_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let garbled = dir.path().join("garbled.pem");
        std::fs::write(
            &garbled,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for (file, says) in [
            (&empty, "no CERTIFICATE block"),
            (&garbled, "not valid PEM"),
        ] {
            let url = format!("host=h sslmode=verify-full sslrootcert={}", file.display());
            let err = config(&url).err().expect("refused").to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
