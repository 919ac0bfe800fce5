//! Encryption of provider tokens at rest, and the secret types.
//!
//! Cipher: ChaCha20-Poly1305 with a random 96-bit nonce per encryption (tokens
//! are re-encrypted only when an integration is enabled again, so random nonces
//! are nowhere near the birthday bound). The associated data binds each
//! ciphertext to its row (org id + provider), so a ciphertext copied to another
//! org's row does not decrypt.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::{Zeroize, Zeroizing};

const NONCE_LEN: usize = 12;

/// Why a secret key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The value is not 64 hex characters nor base64 of 32 bytes.
    #[error(
        "{source_name} is not a valid secret key: give exactly 32 bytes as 64 hexadecimal characters (e.g. the output of `openssl rand -hex 32`) or as standard base64 (44 characters, `openssl rand -base64 32`)"
    )]
    Format {
        /// Where the value came from (env var or file path).
        source_name: String,
    },
    /// Reading or writing the key file failed.
    #[error("secret key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// The 32-byte key that encrypts provider tokens. Redacted in `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// File name of the generated key inside the data directory.
    pub const FILE_NAME: &'static str = "secret.key";

    /// Parses the key format: 64 hex characters, or standard base64 (padded or
    /// not) of exactly 32 bytes. Surrounding whitespace is ignored. `source_name`
    /// names where the value came from, for the error message.
    pub fn parse(value: &str, source_name: &str) -> Result<SecretKey, KeyError> {
        let v = value.trim();
        let err = || KeyError::Format {
            source_name: source_name.to_string(),
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        if v.len() == 64 && v.bytes().all(|c| c.is_ascii_hexdigit()) {
            hex::decode_to_slice(v, &mut bytes[..]).map_err(|_| err())?;
            return Ok(SecretKey(bytes));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(v))
            .map(Zeroizing::new)
            .map_err(|_| err())?;
        if decoded.len() != 32 {
            return Err(err());
        }
        bytes.copy_from_slice(&decoded);
        Ok(SecretKey(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut bytes[..]).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey(bytes))
    }

    /// Reads a key file (same format as [`SecretKey::parse`]).
    pub fn from_file(path: &Path) -> Result<SecretKey, KeyError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyError::Io {
                    path: path.to_path_buf(),
                    source,
                })?,
            );
        SecretKey::parse(&text, &path.display().to_string())
    }

    /// The key to use: `env_value` (BUILDSNAP_SECRET_KEY) when given; otherwise
    /// the key file `secret.key` in `data_dir`, generated on first use with mode
    /// 0600 (written to a temporary file, synced, then renamed, so a crash never
    /// leaves a half-written key). A key file readable by group or others is
    /// used but logged as a warning.
    ///
    /// Trade-off: the key file next to the database protects against leaks of
    /// the database alone (backups, copies); an operator who wants the key away
    /// from the data sets BUILDSNAP_SECRET_KEY (or `--secret-key-file`) instead.
    pub fn load_or_create(data_dir: &Path, env_value: Option<&str>) -> Result<SecretKey, KeyError> {
        if let Some(v) = env_value {
            return SecretKey::parse(v, "BUILDSNAP_SECRET_KEY");
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        crate::data_dir::ensure_data_dir(data_dir).map_err(io(data_dir))?;
        let path = data_dir.join(Self::FILE_NAME);
        if path.exists() {
            warn_if_loose(&path);
            return SecretKey::from_file(&path);
        }
        let key = SecretKey::generate()?;
        let tmp = data_dir.join(format!("{}.tmp", Self::FILE_NAME));
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        let mut text = Zeroizing::new(hex::encode(&key.0[..]));
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(dir) = std::fs::File::open(data_dir) {
            let _ = dir.sync_all();
        }
        tracing::info!(path = %path.display(), "generated a new secret key file (mode 0600); back it up with the database");
        Ok(key)
    }

    /// Encrypts `plaintext`; the result is `nonce || ciphertext+tag`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> crate::Result<Vec<u8>> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0[..]));
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| crate::StoreError::Crypto(e.to_string()))?;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| crate::StoreError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`SecretKey::seal`] produced with the same `aad`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> crate::Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(crate::StoreError::Crypto("ciphertext too short".into()));
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0[..]));
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| crate::StoreError::WrongSecretKey)
    }
}

fn warn_if_loose(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", m.permissions().mode() & 0o777),
                "secret key file is readable by group or others; chmod 600 it");
        }
    }
}

/// A provider API token in memory. Write-only by construction: no `Display`,
/// no `Serialize`, `Debug` prints `ProviderToken(<redacted>)`, and the bytes are
/// zeroized on drop. [`ProviderToken::expose`] is the one way to read it (to put
/// it in an outbound request header).
#[derive(Clone)]
pub struct ProviderToken(Zeroizing<String>);

impl ProviderToken {
    /// Wraps a token (takes ownership so no plain copy stays behind).
    pub fn new(token: String) -> ProviderToken {
        ProviderToken(Zeroizing::new(token))
    }

    /// The token itself. Do not log or store what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_bytes(mut bytes: Zeroizing<Vec<u8>>) -> crate::Result<ProviderToken> {
        let v = std::mem::take(&mut *bytes);
        match String::from_utf8(v) {
            Ok(s) => Ok(ProviderToken::new(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(crate::StoreError::Crypto(
                    "stored token is not UTF-8".into(),
                ))
            }
        }
    }
}

impl fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderToken(<redacted>)")
    }
}

/// Deserialising lets an API request body carry a token straight into this
/// type; there is deliberately no `Serialize`.
impl<'de> serde::Deserialize<'de> for ProviderToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ProviderToken::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats() {
        let hex_key = "00".repeat(31) + "ff";
        assert!(SecretKey::parse(&hex_key, "t").is_ok());
        assert!(SecretKey::parse(&format!("  {hex_key}\n"), "t").is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(SecretKey::parse(&b64, "t").is_ok());
        for bad in [
            "",
            "abc",
            &"0".repeat(63),
            &"g".repeat(64),
            &base64::engine::general_purpose::STANDARD.encode([7u8; 31]),
        ] {
            let e = SecretKey::parse(bad, "BUILDSNAP_SECRET_KEY").unwrap_err();
            assert!(e.to_string().contains("BUILDSNAP_SECRET_KEY"), "{e}");
            assert!(e.to_string().contains("64 hexadecimal"), "{e}");
        }
    }

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = SecretKey::generate().unwrap();
        let sealed = k.seal(b"tok", b"1/circleci").unwrap();
        assert!(!sealed.windows(3).any(|w| w == b"tok"));
        assert_eq!(&k.open(&sealed, b"1/circleci").unwrap()[..], b"tok");
        assert!(k.open(&sealed, b"2/circleci").is_err());
        assert!(
            SecretKey::generate()
                .unwrap()
                .open(&sealed, b"1/circleci")
                .is_err()
        );
    }

    #[test]
    fn key_file_created_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = SecretKey::load_or_create(dir.path(), None).unwrap();
        let b = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(&a.0[..], &b.0[..]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SecretKey::FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = SecretKey::load_or_create(dir.path(), Some(&"11".repeat(32))).unwrap();
        assert_ne!(&env.0[..], &a.0[..]);
        assert!(SecretKey::load_or_create(dir.path(), Some("short")).is_err());
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = ProviderToken::new("s3cr3t-value".into());
        assert_eq!(format!("{t:?}"), "ProviderToken(<redacted>)");
        assert_eq!(t.expose(), "s3cr3t-value");
        assert_eq!(
            format!("{:?}", SecretKey::generate().unwrap()),
            "SecretKey(<redacted>)"
        );
    }
}
