//! Email over SMTP: the MIME message Herald sends, and a pooled client for an SMTP relay.
//!
//! [`Email`] is a finished message (rendered subject, text and HTML, list-unsubscribe links);
//! [`Email::to_message`] makes it the RFC 5322 message that goes on the wire, DKIM-signed when
//! given a [`DkimSigner`]. [`SmtpSender`] delivers it through a relay named by a URL (see
//! [`SmtpConfig::parse`]) over a pool of kept-open connections, and sorts failures into
//! [`SendError`]s: 4xx replies and network trouble are transient, a rejected mailbox (5.1.x)
//! is an invalid recipient, other 5xx replies are permanent.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use lettre::message::header::{
    self, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParametersBuilder};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self as lettre_smtp, AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::dkim::DkimSigner;
use crate::{Receipt, SendError};

/// One message to one recipient, ready to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Email {
    /// The Message-ID without its angle brackets (`"0b7c...@mail.example.com"`); the caller
    /// chooses it so that replies, bounces and complaints can be matched to the send.
    pub message_id: String,
    /// `"Name <address>"` or a bare address.
    pub from: String,
    /// `"Name <address>"` or a bare address; also the envelope recipient.
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    /// The HTML alternative (with its preheader already in it), or `None` for text only.
    pub html: Option<String>,
    /// The plain-text body, always sent (first, as the fallback alternative).
    pub text: String,
    pub list_unsubscribe: Option<ListUnsubscribe>,
    /// More header fields, such as `X-Herald-Message`. Fields the message already has
    /// (From, Subject, Content-Type, ...) are refused rather than silently replaced.
    pub headers: Vec<(String, String)>,
}

/// The `List-Unsubscribe` links of a message (RFC 2369), with one-click unsubscription (RFC
/// 8058) through `url`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// The `https://` address that unsubscribes on a POST of `List-Unsubscribe=One-Click`.
    pub url: String,
    /// A `mailto:` address (with or without the `mailto:`) for clients that only send mail.
    pub mailto: Option<String>,
}

/// Header fields [`Email::to_message`] writes itself, so not accepted in [`Email::headers`].
const OWN_HEADERS: &str = "From To Cc Bcc Sender Reply-To Subject Date Message-ID MIME-Version \
Content-Type Content-Transfer-Encoding DKIM-Signature List-Unsubscribe List-Unsubscribe-Post";

impl Email {
    /// The message as it goes on the wire: `multipart/alternative` with the text part first and
    /// the HTML part second (or `text/plain` alone), UTF-8, each part quoted-printable or base64
    /// as lettre finds shorter, signed by `dkim` if given.
    pub fn to_message(&self, dkim: Option<&DkimSigner>) -> Result<Message, SendError> {
        let from = mailbox("From", &self.from, SendError::Permanent)?;
        let to = mailbox("To", &self.to, SendError::InvalidRecipient)?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(one_line(&self.subject))
            .message_id(Some(format!("<{}>", message_id(&self.message_id)?)))
            .date_now();
        if let Some(reply_to) = &self.reply_to {
            let reply_to = mailbox("Reply-To", reply_to, SendError::Permanent)?;
            builder = builder.reply_to(reply_to);
        }
        if let Some(unsubscribe) = &self.list_unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    list_unsubscribe_value(unsubscribe)?,
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        for (name, value) in &self.headers {
            builder = builder.raw_header(extra_header(name, value)?);
        }
        // The body's own header fields (Content-Type, Content-Transfer-Encoding) are set on the
        // message rather than left to a lettre MIME part: lettre's DKIM signer sees only the
        // message's header fields, so a Content-Type written by a part would be named in the
        // signature's h= but left out of its hash, and the signature would fail.
        let builder = builder.header(header::MIME_VERSION_1_0);
        let built = match &self.html {
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(self.text.clone()),
            Some(html) => {
                let (content_type, body) = alternative(&self.text, html);
                builder.header(content_type).body(body)
            }
        };
        let mut message =
            built.map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))?;
        if let Some(dkim) = dkim {
            dkim.sign(&mut message);
        }
        Ok(message)
    }
}

fn mailbox(field: &str, value: &str, error: fn(String) -> SendError) -> Result<Mailbox, SendError> {
    value.trim().parse().map_err(|e| {
        error(format!(
            "{field} {value:?} is not an address ({e}); accepted: \"name@example.com\" or \
             \"Name <name@example.com>\""
        ))
    })
}

/// A header field value must stay on one line: a line break from a template is a space.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id between the angle brackets, checked to be `left@right` without spaces or brackets
/// (RFC 5322's msg-id, loosely). Brackets given anyway are taken off.
fn message_id(id: &str) -> Result<&str, SendError> {
    let id = id.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .unwrap_or(id);
    let well_formed = id
        .split_once('@')
        .is_some_and(|(left, right)| !left.is_empty() && !right.is_empty() && !right.contains('@'))
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b));
    if well_formed {
        Ok(id)
    } else {
        Err(SendError::Permanent(format!(
            "Message-ID {id:?} is not usable: it must look like \"unique-part@domain\" \
             (printable ASCII without spaces, quotes or angle brackets)"
        )))
    }
}

fn list_unsubscribe_value(links: &ListUnsubscribe) -> Result<String, SendError> {
    // Angle brackets delimit each link, so neither they nor spaces may appear inside one.
    let clean = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    };
    let url = links.url.trim();
    let lower = url.to_ascii_lowercase();
    // RFC 8058 wants https; plain http is let through only for a server on this machine, which
    // is what development and tests run (no mailbox provider will ever reach it anyway).
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            lower.starts_with(p) && matches!(lower.as_bytes().get(p.len()), Some(b':' | b'/'))
        });
    if !(lower.starts_with("https://") || local) || !clean(url) {
        return Err(SendError::Permanent(format!(
            "List-Unsubscribe URL {url:?} is not usable: one-click unsubscription (RFC 8058) \
             needs an https:// URL (http:// only on 127.0.0.1 or localhost) in printable ASCII \
             without spaces or angle brackets; set HERALD_PUBLIC_URL"
        )));
    }
    let mut value = format!("<{url}>");
    if let Some(mailto) = &links.mailto {
        let mailto = mailto.trim();
        let mailto = match mailto.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => mailto.to_owned(),
            _ => format!("mailto:{mailto}"),
        };
        if !clean(&mailto) || !mailto.contains('@') {
            return Err(SendError::Permanent(format!(
                "List-Unsubscribe mailto {mailto:?} is not usable: it must be an address \
                 (percent-encode spaces and other characters in the subject or body)"
            )));
        }
        value.push_str(&format!(", <{mailto}>"));
    }
    Ok(value)
}

fn extra_header(name: &str, value: &str) -> Result<HeaderValue, SendError> {
    // RFC 5322 field names: printable ASCII except ':'. lettre's own check lets control
    // characters through.
    let valid_name = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid_name {
        return Err(SendError::Permanent(format!(
            "header name {name:?} is not usable: printable ASCII without spaces or ':'"
        )));
    }
    if OWN_HEADERS
        .split_ascii_whitespace()
        .any(|own| own.eq_ignore_ascii_case(name))
    {
        return Err(SendError::Permanent(format!(
            "header {name:?} is written from the email's own fields and cannot be given in \
             `headers`"
        )));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| SendError::Permanent(format!("header name {name:?} is not usable")))?;
    Ok(HeaderValue::new(name, one_line(value)))
}

/// `multipart/alternative` of the text and the HTML, as the Content-Type of the message and its
/// already encoded body.
fn alternative(text: &str, html: &str) -> (ContentType, Body) {
    // "=_" cannot occur in quoted-printable or base64 output, so the boundary cannot collide
    // with an encoded part; the random rest covers 7bit parts.
    let boundary = format!("=_herald_{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(text.len() + html.len() + 512);
    for part in [
        SinglePart::plain(text.to_owned()),
        SinglePart::html(html.to_owned()),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(&part.formatted());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type =
        ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary}\""))
            .expect("a multipart content type with a quoted boundary parses");
    // Every part is 7bit, quoted-printable or base64, so the whole is 7bit ASCII with short
    // lines; lettre would otherwise re-encode it, which a multipart body must not be.
    debug_assert!(body.is_ascii());
    (
        content_type,
        Body::dangerous_pre_encoded(body, ContentTransferEncoding::SevenBit),
    )
}

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
/// Use and drop it inside a Tokio runtime: lettre's pool runs (and on drop, spawns) tasks.
pub struct SmtpSender {
    config: SmtpConfig,
    builder: AsyncSmtpTransportBuilder,
    /// The pool, built on first use (lettre's pool starts a Tokio task when it is made, and a
    /// sender may be made before the runtime runs) and again after a send timed out.
    transport: Mutex<Option<AsyncSmtpTransport<Tokio1Executor>>>,
    dkim: Option<DkimSigner>,
}

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
            SmtpSecurity::Implicit => Tls::Wrapper(tls_parameters(&config)?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.pool_size));
        if let Some(credentials) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                credentials.username.clone(),
                credentials.password.clone(),
            ));
        }
        if let Some(hello) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(hello.clone()));
        }
        Ok(SmtpSender {
            config,
            builder,
            transport: Mutex::new(None),
            dkim,
        })
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// The signer, for showing the DNS record it needs.
    pub fn dkim(&self) -> Option<&DkimSigner> {
        self.dkim.as_ref()
    }

    /// The exact bytes [`Self::send`] would hand the relay for `email` (Date, boundary and
    /// signature time differ from call to call).
    pub fn formatted(&self, email: &Email) -> Result<Vec<u8>, SendError> {
        Ok(email.to_message(self.dkim.as_ref())?.formatted())
    }

    /// Sends `email`; the receipt's `provider_id` is the relay's reply, such as
    /// `"250 2.0.0 Ok: queued as 4Z1x"`.
    pub async fn send(&self, email: &Email) -> Result<Receipt, SendError> {
        let message = email.to_message(self.dkim.as_ref())?;
        let transport = self
            .slot()
            .get_or_insert_with(|| self.builder.clone().build())
            .clone();
        // lettre bounds only the connect with its timeout; a relay that stops answering
        // mid-conversation would hold this send forever without this one.
        let sent = tokio::time::timeout(self.config.timeout, transport.send(message)).await;
        match sent {
            Ok(Ok(response)) => {
                let text = response.message().collect::<Vec<_>>().join(" ");
                Ok(Receipt {
                    provider_id: Some(format!("{} {text}", response.code())),
                })
            }
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => {
                // lettre puts the connection of the abandoned send back in its pool in the
                // middle of a transaction, where the next send would read the replies meant
                // for this one. A new pool for later sends; the old one closes its connections.
                if let Some(stale) = self.slot().take() {
                    let limit = self.config.timeout;
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(limit, stale.shutdown()).await;
                    });
                }
                Err(SendError::Transient(format!(
                    "SMTP relay {}:{} did not finish within {}s",
                    self.config.host,
                    self.config.port,
                    self.config.timeout.as_secs()
                )))
            }
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<AsyncSmtpTransport<Tokio1Executor>>> {
        // Only ever held to clone or swap the handle, so a panic cannot leave it half-changed.
        self.transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the pooled connections (politely, with QUIT, for at most the timeout).
    pub async fn shutdown(&self) {
        let transport = self.slot().take();
        if let Some(transport) = transport {
            let _ = tokio::time::timeout(self.config.timeout, transport.shutdown()).await;
        }
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

fn tls_parameters(
    config: &SmtpConfig,
) -> Result<lettre_smtp::client::TlsParameters, SmtpConfigError> {
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
fn classify(e: &lettre_smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_transient() || e.is_timeout() {
        return SendError::Transient(format!("SMTP relay: {text}"));
    }
    if let Some(code) = e.status().filter(|_| e.is_permanent()) {
        let code = u16::from(code);
        // The enhanced status code (RFC 3463) starts the reply text when the server has them.
        let reply = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        if rejects_mailbox(code, &reply) {
            return SendError::InvalidRecipient(format!(
                "the relay refused the mailbox: {code} {reply}"
            ));
        }
        return SendError::Permanent(format!("the relay refused the message: {code} {reply}"));
    }
    if e.is_client() || e.is_tls() || tls_refused(e) {
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
