//! The rustls client configurations behind the URL's `sslmode`, one per way
//! of checking the server's certificate (`connect.rs` picks one).
//!
//! Always the `ring` provider, named explicitly rather than installed as the
//! process default: nothing else in the process has to agree on a provider,
//! and no C build (aws-lc) is needed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{Result, StoreError};

/// How the server's certificate is checked once the connection is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Not at all (libpq's `require` and `prefer` without a root file):
    /// protects against eavesdropping only, not against someone in the
    /// middle presenting a certificate of their own.
    Nothing,
    /// The chain up to a trusted root, but not the host name (`verify-ca`):
    /// any server holding a certificate from that CA is accepted.
    Chain(Roots),
    /// The chain and the host name (`verify-full`).
    ChainAndName(Roots),
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file (`sslrootcert=`), the usual case: PostgreSQL servers
    /// mostly have certificates from a private CA.
    File(String),
    /// Mozilla's roots as compiled in (`webpki-roots`), when no file is
    /// given: the same set on every machine, with no dependence on what
    /// the OS store holds; it changes only with a buildsnap release, and a
    /// server with a private CA needs `sslrootcert`.
    Mozilla,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The connector for `check`.
pub(crate) fn connector(check: &Check) -> Result<MakeRustlsConnect> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS to PostgreSQL: {e}")))?;
    let config = match check {
        Check::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth(),
        Check::Chain(roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                roots: Arc::new(root_store(roots)?),
                provider,
            }))
            .with_no_client_auth(),
        Check::ChainAndName(roots) => {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(roots)?), provider)
                    .build()
                    .map_err(|e| StoreError::Invalid(format!("TLS to PostgreSQL: {e}")))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The trusted roots: every certificate of the PEM file, or Mozilla's.
fn root_store(roots: &Roots) -> Result<RootCertStore> {
    let path = match roots {
        Roots::Mozilla => {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        }
        Roots::File(path) => path,
    };
    let bad = |why: String| {
        StoreError::Invalid(format!(
            "sslrootcert={path}: {why} (give a PEM file of the CA certificate(s) that signed the PostgreSQL server's certificate)"
        ))
    };
    let pem = std::fs::read(Path::new(path)).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block in it".into()));
    }
    let mut store = RootCertStore::empty();
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| bad(format!("a certificate in it is unusable: {e}")))?;
    }
    Ok(store)
}

/// The handshake's signatures, checked with the provider's algorithms
/// whatever the verifier thinks of the certificate: without this, the peer
/// would not even have to hold the key of the certificate it shows.
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// `sslmode=require`: any certificate, as libpq does without a root file.
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for AnyCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyCertificate")
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();
}

/// `sslmode=verify-ca`: the chain to one of `roots`, any host name.
struct ChainOnly {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for ChainOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainOnly")
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();
}
