//! TLS for HTTPS trackers: rustls 0.23 with the *ring* provider, verifying the
//! tracker's certificate against the system's roots (`rustls-native-certs`: the
//! distribution's bundle, or the files `$SSL_CERT_FILE` / `$SSL_CERT_DIR` name) plus
//! the CA certificates of `--ca-file`. The exchange itself is one HTTP/1.0 request on
//! a blocking socket, run off the async executor.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The client configuration for every HTTPS tracker of a run: the system's roots,
/// and those in `ca_file` (PEM) if given. An unreadable or empty `ca_file` is an error.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(file) = ca_file {
        let shown = file.display();
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("--ca-file {shown}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--ca-file {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("--ca-file {shown}: no PEM certificate in it"));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("--ca-file {shown}: {e}"))?;
        }
    } else if added == 0 {
        return Err(
            "no trusted root certificates found on this system (install ca-certificates, \
             or pass --ca-file)"
                .to_owned(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sends `request` to `host:port` over TLS and reads the whole response (at most
/// `limit` bytes), each socket operation bounded by `timeout`.
pub fn exchange(
    config: Arc<ClientConfig>,
    host: &str,
    port: u16,
    request: &[u8],
    limit: u64,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| format!("'{host}' is not a name TLS can verify"))?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connecting: {e}"))?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let connection = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
    let mut stream = StreamOwned::new(connection, tcp);
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|e| format!("TLS: {e}"))?;
    let mut response = Vec::new();
    match (&mut stream).take(limit).read_to_end(&mut response) {
        Ok(_) => Ok(response),
        // A server that closes without TLS's close_notify: the HTTP/1.0 response ends
        // at the close anyway, and a cut bencoded body does not parse.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !response.is_empty() => Ok(response),
        Err(e) => Err(format!("TLS: {e}")),
    }
}
