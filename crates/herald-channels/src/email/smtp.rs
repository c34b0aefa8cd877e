//! Email over SMTP: a pooled client for an SMTP relay.
//!
//! [`SmtpSender`] delivers [`Email`]s through a relay named by a URL (see [`SmtpConfig::parse`])
//! over a pool of kept-open connections, and sorts failures into [`SendError`]s: 4xx replies and
//! network trouble are transient, a rejected mailbox (5.1.x) is an invalid recipient, other 5xx
//! replies are permanent.
//!
//! The SMTP conversation is lettre's ([`AsyncSmtpConnection`]), but over sockets of our own with
//! `TCP_NODELAY`: lettre writes a message and then its `<CRLF>.<CRLF>` terminator as two
//! segments, and with Nagle's algorithm on the terminator waits for the relay's delayed ACK: on
//! loopback that held a connection to about 90 messages a second.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use lettre::transport::smtp as lettre_smtp;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
#[allow(deprecated)] // see `ImplicitTls`
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters, TlsParametersBuilder,
};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::dkim::DkimSigner;
pub use super::message::{Email, ListUnsubscribe};
use crate::{Receipt, SendError};

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS when the server offers it, plain text when it does not. Only for a
    /// relay on a trusted network: someone in the path can hide the offer.
    Opportunistic,
    /// `smtp+starttls://`: STARTTLS, and no mail if the server does not offer it.
    StartTls,
    /// `smtps://`: TLS from the first byte (RFC 8314).
    Implicit,
    /// `smtp://...?tls=none`: plain text, even when STARTTLS is offered; for a relay on the same
    /// host or network whose certificate cannot be checked (a self-signed "snakeoil" one).
    None,
}

/// Login for the relay. Debug does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where and how to reach the SMTP relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<SmtpCredentials>,
    /// Most connections kept open at once.
    pub pool_size: u32,
    /// Bounds connecting, and a whole send on a connection.
    pub timeout: Duration,
    /// The name to give in EHLO (lettre's default is the address literal `[127.0.0.1]`).
    pub hello_name: Option<String>,
    /// A PEM file of extra certificate authorities to trust, for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// A URL that [`SmtpConfig::parse`] does not accept, or settings that do not make a client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SmtpConfigError(String);

const URL_FORMS: &str = "accepted: smtp://[user:password@]host[:port] (STARTTLS when offered, \
port 25), smtp+starttls://... (STARTTLS required, port 587), smtps://... (TLS from the start, \
port 465); user and password percent-encoded; options ?pool=N (connections, 1-100, default 4), \
timeout=SECONDS (default 60), hello=NAME (EHLO name), ca=/path/to/ca.pem (extra trusted CAs), \
tls=none (smtp:// only: never STARTTLS)";

impl SmtpConfig {
    /// Reads a relay URL; the accepted forms are in the error of a URL it refuses.
    pub fn parse(url: &str) -> Result<SmtpConfig, SmtpConfigError> {
        // Messages never repeat the URL: it may hold the password.
        let err = |why: String| SmtpConfigError(format!("invalid SMTP URL: {why}; {URL_FORMS}"));
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("no scheme (smtp://, smtp+starttls:// or smtps://)".into()))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => (SmtpSecurity::Opportunistic, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Implicit, 465),
            other => return Err(err(format!("unknown scheme {other:?}"))),
        };
        if rest.contains('#') {
            return Err(err("a fragment (#...) means nothing here".into()));
        }
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        if !path.is_empty() {
            return Err(err("a path means nothing here".into()));
        }
        // The last '@' ends the credentials: an unencoded '@' in a password still parses.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let (Some(username), Some(password)) =
                    (percent_decode(user), percent_decode(password))
                else {
                    return Err(err(
                        "the credentials are not valid percent-encoded UTF-8".into()
                    ));
                };
                if username.is_empty() {
                    return Err(err("credentials without a user name".into()));
                }
                Some(SmtpCredentials { username, password })
            }
        };
        let (host, port) = split_host_port(hostport).map_err(err)?;
        let mut config = SmtpConfig {
            host,
            port: port.unwrap_or(default_port),
            security,
            credentials,
            pool_size: 4,
            timeout: Duration::from_secs(60),
            hello_name: None,
            ca_file: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)
                .ok_or_else(|| err(format!("option {key:?} is not valid percent-encoded UTF-8")))?;
            match key {
                "pool" => {
                    config.pool_size = in_range(&value, 1..=100)
                        .ok_or_else(|| err(format!("pool={value:?} is not from 1 to 100")))?;
                }
                "timeout" => {
                    let secs = in_range(&value, 1..=3600).ok_or_else(|| {
                        err(format!("timeout={value:?} is not seconds from 1 to 3600"))
                    })?;
                    config.timeout = Duration::from_secs(secs);
                }
                "tls" if value == "none" && security == SmtpSecurity::Opportunistic => {
                    config.security = SmtpSecurity::None;
                }
                "tls" => return Err(err("only tls=none, and only with smtp://".into())),
                "hello" if is_hostname(&value) => config.hello_name = Some(value),
                "hello" => return Err(err(format!("hello={value:?} is not a host name"))),
                "ca" if !value.is_empty() => config.ca_file = Some(PathBuf::from(value)),
                other => return Err(err(format!("unknown or empty option {other:?}"))),
            }
        }
        Ok(config)
    }
}

impl std::str::FromStr for SmtpConfig {
    type Err = SmtpConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SmtpConfig::parse(s)
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = match hostport.strip_prefix('[') {
        // An IPv6 literal: bracketed in the URL, bare for lettre.
        Some(rest) => {
            let (host, after) = rest
                .split_once(']')
                .ok_or("an IPv6 host without its closing ']'")?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("[{host}] is not an IPv6 address"));
            }
            let port = (!after.is_empty())
                .then(|| after.strip_prefix(':').ok_or("text after the IPv6 host"))
                .transpose()?;
            (host, port)
        }
        None => {
            let (host, port) = hostport
                .split_once(':')
                .map_or((hostport, None), |(h, p)| (h, Some(p)));
            if host.is_empty() {
                return Err("no host".into());
            }
            if !is_hostname(host) {
                return Err(format!("{host:?} is not a host name or address"));
            }
            (host, port)
        }
    };
    let port = port
        .map(|port| {
            in_range(port, 1..=u16::MAX)
                .ok_or_else(|| format!("port {port:?} is not a number from 1 to 65535"))
        })
        .transpose()?;
    Ok((host.to_owned(), port))
}

fn in_range<T: std::str::FromStr + PartialOrd>(
    value: &str,
    range: std::ops::RangeInclusive<T>,
) -> Option<T> {
    value.parse().ok().filter(|n| range.contains(n))
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// `%XX` escapes to bytes, then UTF-8. `+` stays `+` (this is not form encoding).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Sends [`Email`]s through one SMTP relay over pooled connections.
///
/// At most `pool_size` connections are open at once: a send takes an idle connection or opens
/// one, and waits its turn while all are busy. Sends need a Tokio runtime.
pub struct SmtpSender {
    config: SmtpConfig,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// One permit for each connection that may be open.
    permits: Semaphore,
    /// Connections between sends, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    /// Shared with the blocking threads that sign.
    dkim: Option<Arc<DkimSigner>>,
}

/// How a connection starts TLS, with what to check the relay's certificate against.
enum Tls {
    None,
    /// STARTTLS when the relay offers it.
    Opportunistic(TlsParameters),
    /// STARTTLS, or no connection.
    Required(TlsParameters),
    /// TLS from the first byte.
    Implicit(TlsParameters),
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A connection idle for longer is closed rather than reused (the idle timeout of lettre's own
/// pool): relays close quiet connections themselves sooner or later.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// A connection idle for longer is asked NOOP before it takes a message, so that one the relay
/// closed in the meantime is replaced instead of failing the send. Under load connections are
/// reused sooner, and the round trip is saved.
const CHECK_IDLE: Duration = Duration::from_secs(1);

impl SmtpSender {
    /// A sender for the relay of `config`, signing with `dkim` if given. Nothing connects yet;
    /// this fails only on settings that cannot work (an unreadable CA file, a bad TLS setup).
    pub fn new(
        config: SmtpConfig,
        dkim: Option<DkimSigner>,
    ) -> Result<SmtpSender, SmtpConfigError> {
        let tls = match config.security {
            SmtpSecurity::Opportunistic => Tls::Opportunistic(tls_parameters(&config)?),
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(&config)?),
            SmtpSecurity::Implicit => Tls::Implicit(tls_parameters(&config)?),
            SmtpSecurity::None => Tls::None,
        };
        // Without a name, lettre's default: the address literal `[127.0.0.1]`.
        let hello = config
            .hello_name
            .clone()
            .map_or_else(ClientId::default, ClientId::Domain);
        let credentials = config
            .credentials
            .as_ref()
            .map(|c| Credentials::new(c.username.clone(), c.password.clone()));
        Ok(SmtpSender {
            tls,
            hello,
            credentials,
            permits: Semaphore::new(config.pool_size.max(1) as usize),
            idle: Mutex::new(Vec::new()),
            config,
            dkim: dkim.map(Arc::new),
        })
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// The signer, for showing the DNS record it needs.
    pub fn dkim(&self) -> Option<&DkimSigner> {
        self.dkim.as_deref()
    }

    /// The exact bytes [`Self::send`] would hand the relay for `email` (Date, boundary and
    /// signature time differ from call to call).
    pub fn formatted(&self, email: &Email) -> Result<Vec<u8>, SendError> {
        Ok(email.to_message(self.dkim.as_deref())?.formatted())
    }

    /// Sends `email`; the receipt's `provider_id` is the relay's reply, such as
    /// `"250 2.0.0 Ok: queued as 4Z1x"`.
    pub async fn send(&self, email: &Email) -> Result<Receipt, SendError> {
        let (message, raw) = match &self.dkim {
            // A signature is CPU work (milliseconds for RSA): on a blocking thread, so that
            // signing uses every core and never stalls the sends in flight.
            Some(dkim) => {
                let (dkim, email) = (dkim.clone(), email.clone());
                tokio::task::spawn_blocking(move || {
                    let message = email.to_message(Some(&dkim))?;
                    let raw = message.formatted();
                    Ok::<_, SendError>((message, raw))
                })
                .await
                .map_err(|e| SendError::Transient(format!("signing was interrupted: {e}")))??
            }
            None => {
                let message = email.to_message(None)?;
                let raw = message.formatted();
                (message, raw)
            }
        };
        // Waiting for a busy pool is not the relay being slow: the timeout starts after.
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let sent = tokio::time::timeout(self.config.timeout, async {
            let mut conn = self.connection().await?;
            // A connection whose send failed is dropped here: lettre has already ended a
            // refused transaction with QUIT, and one that failed otherwise is not to be trusted.
            let response = conn
                .send(message.envelope(), &raw)
                .await
                .map_err(classify)?;
            Ok((conn, response))
        })
        .await;
        match sent {
            Ok(Ok((conn, response))) => {
                self.park(conn);
                let text = response.message().collect::<Vec<_>>().join(" ");
                Ok(Receipt {
                    provider_id: Some(format!("{} {text}", response.code())),
                })
            }
            Ok(Err(e)) => Err(e),
            // The connection went with the abandoned future, closed in the middle of a
            // transaction: reused, it would read the replies meant for this send.
            Err(_) => Err(SendError::Transient(format!(
                "SMTP relay {}:{} did not finish within {}s",
                self.config.host,
                self.config.port,
                self.config.timeout.as_secs()
            ))),
        }
    }

    /// An idle connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, SendError> {
        while let Some(Idle { mut conn, since }) = self.take_idle() {
            let idle = since.elapsed();
            if conn.has_broken() || idle > MAX_IDLE {
                continue;
            }
            if idle < CHECK_IDLE || conn.test_connected().await {
                return Ok(conn);
            }
        }
        self.open().await
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle_list().pop()
    }

    /// Keeps `conn` for the next send, and closes connections idle for too long.
    fn park(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle_list();
        idle.retain(|i| i.since.elapsed() <= MAX_IDLE);
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // Never held across an await, and a push or pop cannot be left half-done by a panic.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connects, greets (EHLO), starts TLS as configured and logs in.
    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = self.connect().await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Tls::Implicit(tls) => Box::new(
                ImplicitTls::handshake(tcp, tls.clone())
                    .await
                    .map_err(classify)?,
            ),
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(classify)?;
        match &self.tls {
            // lettre refuses with a client error when the relay does not offer STARTTLS.
            Tls::Required(tls) => conn.starttls(tls.clone(), &self.hello).await,
            Tls::Opportunistic(tls) if conn.can_starttls() => {
                conn.starttls(tls.clone(), &self.hello).await
            }
            _ => Ok(()),
        }
        .map_err(classify)?;
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// A TCP connection to the relay, trying each of its addresses in turn.
    async fn connect(&self) -> Result<TcpStream, SendError> {
        let SmtpConfig {
            host,
            port,
            timeout,
            ..
        } = &self.config;
        let failed = |why: String| {
            SendError::Transient(format!(
                "SMTP relay: cannot connect to {host}:{port}: {why}"
            ))
        };
        let addresses = tokio::net::lookup_host((host.as_str(), *port))
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut last = None;
        for address in addresses {
            match tokio::time::timeout(*timeout, TcpStream::connect(address)).await {
                Ok(Ok(tcp)) => {
                    // See the module's documentation: without it, every message waits for the
                    // relay's delayed ACK before its terminator goes out.
                    tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
                    return Ok(tcp);
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some(format!("no answer within {}s", timeout.as_secs())),
            }
        }
        Err(failed(
            last.unwrap_or_else(|| "the name has no address".into()),
        ))
    }

    /// Waits (at most the timeout) for sends under way to give back their connections, then
    /// closes the idle ones politely, with QUIT (again for at most the timeout). The sender
    /// stays usable: a later send connects again.
    pub async fn shutdown(&self) {
        let limit = self.config.timeout;
        let all = self.permits.acquire_many(self.config.pool_size.max(1));
        let held = tokio::time::timeout(limit, all).await;
        let idle = std::mem::take(&mut *self.idle_list());
        let quits = idle
            .into_iter()
            .map(|Idle { mut conn, .. }| async move { conn.abort().await });
        let _ = tokio::time::timeout(limit, futures::future::join_all(quits)).await;
        drop(held);
    }
}

/// TLS from the first byte over our own socket, as the Tokio stream that
/// [`AsyncSmtpConnection::connect_with_transport`] takes.
///
/// lettre 0.11 makes such a stream only with `AsyncNetworkStream`, public but deprecated ("not
/// meant to be made public"); the handshake is lettre's, with the same parameters as STARTTLS,
/// so certificates are checked and failures reported alike. It speaks futures-io; this adapts it
/// to Tokio's traits.
#[allow(deprecated)]
#[derive(Debug)]
struct ImplicitTls(AsyncNetworkStream);

#[allow(deprecated)]
impl ImplicitTls {
    async fn handshake(
        tcp: TcpStream,
        tls: TlsParameters,
    ) -> Result<ImplicitTls, lettre_smtp::Error> {
        let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
        stream.upgrade_tls(tls).await?;
        Ok(ImplicitTls(stream))
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let n = ready!(futures::io::AsyncRead::poll_read(
            Pin::new(&mut self.0),
            cx,
            unfilled
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("config", &self.config)
            .field("dkim", &self.dkim)
            .finish_non_exhaustive()
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, SmtpConfigError> {
    let mut builder = TlsParametersBuilder::new(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            SmtpConfigError(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            SmtpConfigError(format!(
                "the CA file {} holds no usable PEM certificate: {e}",
                path.display()
            ))
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|e| SmtpConfigError(format!("TLS for {} cannot be set up: {e}", config.host)))
}

/// Sorts a failed send by whether trying again can help.
fn classify(e: lettre_smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_transient() || e.is_timeout() {
        return SendError::Transient(format!("SMTP relay: {text}"));
    }
    if let Some(code) = e.status().filter(|_| e.is_permanent()) {
        let code = u16::from(code);
        // The enhanced status code (RFC 3463) starts the reply text when the server has them.
        let reply = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        if rejects_mailbox(code, &reply) {
            return SendError::InvalidRecipient(format!(
                "the relay refused the mailbox: {code} {reply}"
            ));
        }
        return SendError::Permanent(format!("the relay refused the message: {code} {reply}"));
    }
    if e.is_client() || e.is_tls() || tls_refused(&e) {
        // A client error is lettre refusing (STARTTLS required but not offered, no common
        // AUTH mechanism, 8-bit content the server cannot take); a TLS error is an untrusted
        // certificate or TLS spoken to a plain port. Like bad credentials, retrying the same
        // message cannot fix either.
        return SendError::Permanent(format!(
            "SMTP relay: {text} (check the SMTP URL's scheme and port, and for a certificate \
             signed by a private CA add ?ca=/path/to/ca.pem)"
        ));
    }
    // Refused or dropped connections, unreadable replies, a pool shut down: the relay or the
    // network, not the message.
    SendError::Transient(format!("SMTP relay: {text}"))
}

/// Whether rustls refused the handshake. lettre files that under connection errors, with
/// rustls' error inside the I/O error, where `source()` does not lead.
fn tls_refused(e: &lettre_smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if [Some(err), inner]
            .into_iter()
            .flatten()
            .any(|err| err.is::<rustls::Error>())
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// Whether a 5xx reply says the recipient's mailbox does not exist or cannot take mail there.
fn rejects_mailbox(code: u16, reply: &str) -> bool {
    let enhanced = reply.split_whitespace().next().and_then(|word| {
        let mut parts = word.split('.');
        let class = parts.next()?;
        let subject = parts.next()?.parse::<u16>().ok()?;
        let detail = parts.next()?.parse::<u16>().ok()?;
        (class == "5" && parts.next().is_none()).then_some((subject, detail))
    });
    match enhanced {
        // X.1.x is the addressing subject: 0 other, 1 no such mailbox, 2 no such system,
        // 3 bad syntax, 4 ambiguous, 6 moved, 10 null MX. 7 and 8 are about the *sender's*
        // address, so they stay permanent failures of the message.
        Some((1, detail)) => matches!(detail, 0..=4 | 6 | 10),
        Some(_) => false,
        // Without enhanced codes only 551 ("user not local") is specific to the recipient;
        // a bare 550 is as often spam or policy.
        None => code == 551,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_rejections() {
        assert!(rejects_mailbox(
            550,
            "5.1.1 <x@y>: Recipient address rejected"
        ));
        assert!(rejects_mailbox(553, "5.1.3 bad address syntax"));
        assert!(rejects_mailbox(550, "5.1.10 null MX"));
        assert!(rejects_mailbox(551, "User not local"));
        assert!(!rejects_mailbox(
            553,
            "5.1.8 sender domain does not resolve"
        ));
        assert!(!rejects_mailbox(554, "5.7.1 spam"));
        assert!(!rejects_mailbox(550, "Mailbox unavailable"));
    }
}
