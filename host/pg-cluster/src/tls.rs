//! The throwaway certificates of a cluster started with
//! [`Builder::tls`](crate::Builder::tls): a CA made for this cluster alone
//! and a server certificate it signs for `127.0.0.1` and `localhost`.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::Error;

/// PEM texts of the CA certificate and of the server's certificate and key.
pub(crate) struct ServerCertificates {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

fn cert_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |e| Error::Certificate(format!("{what}: {e}"))
}

/// A new CA: its certificate and the issuer that signs with its key.
fn new_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), Error> {
    let mut params = CertificateParams::new(Vec::new()).map_err(cert_err("CA parameters"))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().map_err(cert_err("CA key"))?;
    let cert = params
        .self_signed(&key)
        .map_err(cert_err("CA certificate"))?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A CA and a server certificate for [`LISTEN_ADDRESS`](crate::LISTEN_ADDRESS)
/// (an IP address SAN, which is what a client checks when it connects to
/// `127.0.0.1`) and `localhost` (a DNS SAN). rcgen's defaults make them
/// valid from 1975 to 4096: no clock trouble in a test.
pub(crate) fn server_certificates() -> Result<ServerCertificates, Error> {
    let (ca_pem, issuer) = new_ca("buildsnap-pg-cluster test CA")?;
    let mut params =
        CertificateParams::new(vec![crate::LISTEN_ADDRESS.to_string(), "localhost".into()])
            .map_err(cert_err("server certificate parameters"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, crate::LISTEN_ADDRESS);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(cert_err("server key"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(cert_err("server certificate"))?;
    Ok(ServerCertificates {
        ca_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The PEM certificate of a CA that signed nothing this harness made: a
/// root to trust in a test where verification must fail.
pub fn unrelated_ca_pem() -> Result<String, Error> {
    Ok(new_ca("buildsnap-pg-cluster unrelated CA")?.0)
}
