//! HTTPS for `serve --tls`: the certificate — the user's own files (`--tls-cert/--tls-key`, from
//! a VPN's or the company's CA), or one made here on first use under a local CA that a phone
//! can be told to trust — and a listener that hands axum finished TLS streams.
//!
//! Why a local CA and not one self-signed certificate: a phone installs a CA certificate as a
//! trust anchor, and the server certificate it signs can then carry this machine's names and
//! addresses (and be remade with new ones) without the phone installing anything again.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A TLS handshake that takes longer is dropped, so a stalled client holds nothing.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{cert} and {key} do not go together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("making a certificate in {dir}: {reason}")]
    Make { dir: PathBuf, reason: String },
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// What the server speaks TLS with, and what a front end shows of it.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the server certificate, `AB:CD:…`, to compare with what a browser shows.
    pub fingerprint: String,
    /// The local CA's certificate (PEM) when the certificate was made here: what a phone
    /// installs to trust this server. `None` for the user's own certificate.
    pub ca_pem: Option<String>,
    /// The certificate file in use.
    pub cert_file: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .field("cert_file", &self.cert_file)
            .finish_non_exhaustive()
    }
}

/// What the settings ask for: the user's certificate, one made here (in the data dir's `tls/`,
/// for the names below), or none (plain HTTP, or a TLS proxy in front).
pub fn for_settings(settings: &flightdeck_core::config::Settings) -> Result<Option<Tls>, TlsError> {
    use flightdeck_core::config::Transport;
    match &settings.transport {
        Transport::TlsSelfMade => {
            self_made(&settings.data_dir.join("tls"), &certificate_names(settings)).map(Some)
        }
        Transport::TlsFiles { cert, key } => from_files(cert, key).map(Some),
        Transport::Plain | Transport::BehindProxy => Ok(None),
    }
}

/// The names and addresses the certificate made here is for: `[server] hosts`, the bound
/// address, and this machine's host name (and its `.local` mDNS name).
fn certificate_names(settings: &flightdeck_core::config::Settings) -> Vec<String> {
    let mut names = settings.hosts.clone();
    if !settings.bind.is_unspecified() {
        names.push(settings.bind.to_string());
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        });
    if let Some(h) = host {
        if !h.contains('.') {
            names.push(format!("{h}.local"));
        }
        names.push(h);
    }
    names
}

/// The user's certificate chain and private key, PEM files.
pub fn from_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, pem_reason(e)))?;
    let Some(leaf) = chain.first() else {
        return Err(file_error(
            cert,
            "no certificate in it (expected PEM \"BEGIN CERTIFICATE\")",
        ));
    };
    let fingerprint = fingerprint(leaf);
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        file_error(
            key,
            match e {
                rustls_pki_types::pem::Error::NoItemsFound => {
                    "no private key in it (expected PEM PKCS#8, PKCS#1 or SEC1)".to_string()
                }
                other => pem_reason(other),
            },
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error(cert, e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        ca_pem: None,
        cert_file: cert.to_path_buf(),
    })
}

fn pem_reason(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(e) => e.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "nothing readable in it".into(),
        other => format!("not a valid PEM file ({other:?})"),
    }
}

/// The certificate made here, in `dir` (`ca.pem`, `ca-key.pem`, `cert.pem`, `key.pem`; keys
/// readable by this user only): made on first use for `names` (host names and addresses,
/// loopback always included), loaded after. A server certificate that lacks one of `names` is
/// made again under the same CA, so a phone that trusts the CA needs nothing new.
pub fn self_made(dir: &Path, names: &[String]) -> Result<Tls, TlsError> {
    let make_err = |reason: String| TlsError::Make {
        dir: dir.to_path_buf(),
        reason,
    };
    let (ca_pem, ca_key_path, cert, key) = (
        dir.join("ca.pem"),
        dir.join("ca-key.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    let mut wanted: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in names {
        if !wanted.contains(n) {
            wanted.push(n.clone());
        }
    }
    let covered = std::fs::read_to_string(dir.join("names"))
        .map(|t| {
            let have: Vec<&str> = t.lines().collect();
            wanted.iter().all(|w| have.contains(&w.as_str()))
        })
        .unwrap_or(false);
    if !(ca_pem.is_file() && ca_key_path.is_file() && cert.is_file() && key.is_file() && covered) {
        std::fs::create_dir_all(dir).map_err(|e| make_err(e.to_string()))?;
        let (ca, ca_key) = if ca_pem.is_file() && ca_key_path.is_file() {
            load_ca(&ca_pem, &ca_key_path)?
        } else {
            let ca_key = rcgen::KeyPair::generate().map_err(|e| make_err(e.to_string()))?;
            let ca = ca_params()
                .self_signed(&ca_key)
                .map_err(|e| make_err(e.to_string()))?;
            write_private(&ca_key_path, &ca_key.serialize_pem())?;
            std::fs::write(&ca_pem, ca.pem()).map_err(|e| file_error(&ca_pem, e))?;
            (ca, ca_key)
        };
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| make_err(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Flightdeck");
        for n in &wanted {
            params.subject_alt_names.push(match n.parse::<IpAddr>() {
                Ok(ip) => rcgen::SanType::IpAddress(ip),
                Err(_) => rcgen::SanType::DnsName(
                    n.clone()
                        .try_into()
                        .map_err(|e| make_err(format!("host name `{n}`: {e}")))?,
                ),
            });
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        // Browsers refuse server certificates valid for more than 398 days.
        params.not_before = day(-1);
        params.not_after = day(397);
        let leaf_key = rcgen::KeyPair::generate().map_err(|e| make_err(e.to_string()))?;
        let leaf = params
            .signed_by(&leaf_key, &ca, &ca_key)
            .map_err(|e| make_err(e.to_string()))?;
        write_private(&key, &leaf_key.serialize_pem())?;
        // The chain a browser needs: the server certificate, then the CA's — the one on disk
        // (a CA re-made from its key to sign has other dates; the phone trusts the first).
        let ca_text = std::fs::read_to_string(&ca_pem).map_err(|e| file_error(&ca_pem, e))?;
        std::fs::write(&cert, format!("{}{}", leaf.pem(), ca_text))
            .map_err(|e| file_error(&cert, e))?;
        std::fs::write(dir.join("names"), wanted.join("\n"))
            .map_err(|e| make_err(e.to_string()))?;
    }
    let mut tls = from_files(&cert, &key)?;
    tls.ca_pem = Some(std::fs::read_to_string(&ca_pem).map_err(|e| file_error(&ca_pem, e))?);
    Ok(tls)
}

/// The local CA's parameters. Always the same, so the CA can sign again from its key alone:
/// what a signature takes from its issuer is the name, key usages and key.
fn ca_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Flightdeck local CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = day(-1);
    params.not_after = day(3650);
    params
}

/// The CA kept in `cert` and `key`, ready to sign.
fn load_ca(cert: &Path, key: &Path) -> Result<(rcgen::Certificate, rcgen::KeyPair), TlsError> {
    let text = std::fs::read_to_string(key).map_err(|e| file_error(key, e))?;
    let ca_key = rcgen::KeyPair::from_pem(&text).map_err(|e| file_error(key, e))?;
    let ca = ca_params()
        .self_signed(&ca_key)
        .map_err(|e| file_error(cert, e))?;
    Ok((ca, ca_key))
}

/// Midnight UTC `offset` days from today.
fn day(offset: i64) -> time::OffsetDateTime {
    use chrono::Datelike;
    let d = chrono::Utc::now().date_naive() + chrono::Duration::days(offset);
    rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
}

/// Writes a private key readable by this user only.
fn write_private(path: &Path, pem: &str) -> Result<(), TlsError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| file_error(path, e))?;
    // `mode` applies only to a new file: one left with wider rights is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| file_error(path, e))?;
    }
    f.write_all(pem.as_bytes()).map_err(|e| file_error(path, e))
}

/// `AB:CD:…` SHA-256 of a certificate.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts TCP connections and finishes their TLS handshakes off the accept loop (a slow or
/// silent client holds only its own task), handing axum the streams that made it.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, as axum's own loop does.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_WAIT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        // A browser that does not trust the certificate yet, a port scan:
                        // nothing to serve, nothing to report above debug.
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer}: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            _task: task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self._task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task ended (it never does while the listener lives): no more
            // connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
