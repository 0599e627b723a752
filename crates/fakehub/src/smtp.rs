//! A local SMTP server for tests and the demo, speaking what a mail submission server speaks
//! (RFC 5321, 3207, 4954): `EHLO` advertising `STARTTLS` and `AUTH PLAIN LOGIN`, `STARTTLS`
//! with a certificate its own CA signed at start (the CA's PEM is given to the client to
//! trust), `AUTH PLAIN` and `AUTH LOGIN`, `MAIL FROM`, `RCPT TO`, `DATA` with dot-unstuffing,
//! `RSET`, `NOOP`, `QUIT`. It refuses mail before `STARTTLS` when TLS is required (530), a
//! wrong password (535), and meets injected faults at `MAIL FROM` (a 451 or a 550).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// A mail as the server took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The user that signed in, if any.
    pub user: Option<String>,
}

#[derive(Default)]
struct Inner {
    require_tls: bool,
    login: Option<(String, String)>,
    faults: VecDeque<u16>,
    mails: Vec<Mail>,
    sessions: u64,
}

/// The server's state, shared with its running listener.
#[derive(Clone)]
pub struct Smtp {
    inner: Arc<Mutex<Inner>>,
    tls: Arc<ServerConfig>,
    ca_pem: String,
}

impl Smtp {
    /// A server that requires `STARTTLS` before mail when `require_tls`, and a sign-in when
    /// `login` is given.
    pub fn new(require_tls: bool, login: Option<(&str, &str)>) -> Result<Self, String> {
        let ca_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut ca_params = rcgen::CertificateParams::default();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fakehub SMTP CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).map_err(|e| e.to_string())?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .map_err(|e| e.to_string())?;
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let leaf = params
            .signed_by(&key, &ca, &ca_key)
            .map_err(|e| e.to_string())?;
        let private = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| e.to_string())?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], private)
            .map_err(|e| e.to_string())?;
        let inner = Inner {
            require_tls,
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            ..Default::default()
        };
        Ok(Smtp {
            inner: Arc::new(Mutex::new(inner)),
            tls: Arc::new(tls),
            ca_pem: ca.pem(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// The CA that signed the server's certificate, PEM: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The reply the next `MAIL FROM` gets instead of 250 (451: try later, 550: refused).
    pub fn push_fault(&self, code: u16) {
        self.with(|i| i.faults.push_back(code));
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.with(|i| i.mails.clone())
    }

    /// Connections accepted.
    pub fn sessions(&self) -> u64 {
        self.with(|i| i.sessions)
    }

    /// Listens on 127.0.0.1 (port 0: any free one); returns its address.
    pub async fn serve(&self, port: u16) -> std::io::Result<SocketAddr> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                me.with(|i| i.sessions += 1);
                let me = me.clone();
                tokio::spawn(async move {
                    crate::journal::note("smtp connection");
                    if let Ok(Some(tcp)) = me.session(tcp, false).await {
                        let acceptor = TlsAcceptor::from(me.tls.clone());
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            let _ = me.session(tls, true).await;
                        }
                    }
                });
            }
        });
        Ok(addr)
    }

    /// One SMTP session until `QUIT` (`None`) or `STARTTLS` (the stream, to be secured).
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        tls: bool,
    ) -> std::io::Result<Option<S>> {
        let mut io = BufReader::new(stream);
        if !tls {
            io.get_mut()
                .write_all(b"220 fakehub ESMTP ready\r\n")
                .await?;
        }
        let (mut from, mut to, mut user): (Option<String>, Vec<String>, Option<String>) =
            (None, Vec::new(), None);
        let mut greeted = false;
        loop {
            let mut line = String::new();
            if io.read_line(&mut line).await? == 0 {
                return Ok(None);
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let upper = line.to_ascii_uppercase();
            let verb = upper.split_whitespace().next().unwrap_or("");
            let reply = match verb {
                "EHLO" | "HELO" => {
                    greeted = true;
                    let mut r = String::from("250-fakehub\r\n");
                    if !tls {
                        r.push_str("250-STARTTLS\r\n");
                    }
                    r.push_str("250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
                    r
                }
                "STARTTLS" if !tls => {
                    io.get_mut()
                        .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                        .await?;
                    return Ok(Some(io.into_inner()));
                }
                _ if !greeted && verb != "QUIT" && verb != "NOOP" => {
                    "503 5.5.1 EHLO first\r\n".into()
                }
                "AUTH" => {
                    let parts: Vec<&str> = line.split_whitespace().collect();
                    let creds = match parts.get(1).map(|m| m.to_ascii_uppercase()).as_deref() {
                        Some("PLAIN") => {
                            let b64 = match parts.get(2) {
                                Some(b) => b.to_string(),
                                None => {
                                    io.get_mut().write_all(b"334 \r\n").await?;
                                    read_line(&mut io).await?
                                }
                            };
                            decode_b64(&b64).and_then(|raw| {
                                let f: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
                                match f.as_slice() {
                                    [_, u, p] => Some((
                                        String::from_utf8_lossy(u).into_owned(),
                                        String::from_utf8_lossy(p).into_owned(),
                                    )),
                                    _ => None,
                                }
                            })
                        }
                        Some("LOGIN") => {
                            io.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                            let u = read_line(&mut io).await?;
                            io.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                            let p = read_line(&mut io).await?;
                            decode_b64(&u).zip(decode_b64(&p)).map(|(u, p)| {
                                (
                                    String::from_utf8_lossy(&u).into_owned(),
                                    String::from_utf8_lossy(&p).into_owned(),
                                )
                            })
                        }
                        _ => None,
                    };
                    let want = self.with(|i| i.login.clone());
                    match (creds, want) {
                        (_, _) if self.with(|i| i.require_tls) && !tls => {
                            "538 5.7.11 Encryption required for requested authentication mechanism\r\n".into()
                        }
                        (Some(c), Some(w)) if c == w => {
                            user = Some(c.0);
                            "235 2.7.0 Authentication successful\r\n".into()
                        }
                        _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
                    }
                }
                "MAIL" => {
                    let (require_tls, login, fault) =
                        self.with(|i| (i.require_tls, i.login.is_some(), i.faults.pop_front()));
                    if require_tls && !tls {
                        "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
                    } else if login && user.is_none() {
                        "530 5.7.0 Authentication required\r\n".into()
                    } else if let Some(code) = fault {
                        format!(
                            "{code} {} injected\r\n",
                            if code < 500 { "4.3.0" } else { "5.7.1" }
                        )
                    } else {
                        from = Some(address(line));
                        to.clear();
                        "250 2.1.0 OK\r\n".into()
                    }
                }
                "RCPT" if from.is_some() => {
                    to.push(address(line));
                    "250 2.1.5 OK\r\n".into()
                }
                "RCPT" => "503 5.5.1 MAIL first\r\n".into(),
                "DATA" if from.is_some() && !to.is_empty() => {
                    io.get_mut()
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if io.read_line(&mut l).await? == 0 {
                            return Ok(None);
                        }
                        if l == ".\r\n" || l == ".\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    let mail = Mail {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        data,
                        tls,
                        user: user.clone(),
                    };
                    self.with(|i| i.mails.push(mail));
                    "250 2.0.0 OK queued\r\n".into()
                }
                "DATA" => "503 5.5.1 RCPT first\r\n".into(),
                "RSET" => {
                    from = None;
                    to.clear();
                    "250 2.0.0 OK\r\n".into()
                }
                "NOOP" => "250 2.0.0 OK\r\n".into(),
                "QUIT" => {
                    io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                    return Ok(None);
                }
                _ => "502 5.5.2 Command not recognized\r\n".into(),
            };
            io.get_mut().write_all(reply.as_bytes()).await?;
        }
    }
}

async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
) -> std::io::Result<String> {
    let mut l = String::new();
    io.read_line(&mut l).await?;
    Ok(l.trim_end_matches(['\r', '\n']).to_string())
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

/// Standard base64, as SMTP AUTH sends it.
fn decode_b64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim().bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_auth_sends_it() {
        assert_eq!(decode_b64("AHVzZXIAcGFzcw==").unwrap(), b"\0user\0pass");
        assert_eq!(decode_b64("VXNlcm5hbWU6").unwrap(), b"Username:");
        assert!(decode_b64("not base64!").is_none());
    }
}
