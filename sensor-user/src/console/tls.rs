//! HTTPS for the console: a rustls server configuration (ring provider, TLS 1.2 and 1.3)
//! from a PEM certificate chain and private key.

use std::{path::Path, sync::Arc};

use super::ConsoleError;

/// The server configuration for `cert` (PEM chain) and `key` (PEM PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// [`ConsoleError::Tls`] naming the file and what is wrong.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ConsoleError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| ConsoleError::Tls(format!("{}: {e}", p.display())));
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ConsoleError::Tls(format!("{}: no PEM certificate in it", cert.display())));
    }
    let key_der = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ConsoleError::Tls(format!("{}: no PEM private key in it", key.display())))?;
    // ring, as the fleet client uses: aws-lc-rs (post-quantum key exchange) would add a
    // C build of its own for a loopback-first console.
    #[allow(deprecated, reason = "ring has no post-quantum groups; see above")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| ConsoleError::Tls(format!("{} and {}: {e}", cert.display(), key.display())))?;
    Ok(Arc::new(cfg))
}
