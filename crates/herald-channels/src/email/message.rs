//! The MIME message Herald sends: [`Email`] is a finished message (rendered subject, text and
//! HTML, list-unsubscribe links); [`Email::to_message`] makes it the RFC 5322 message that goes
//! on the wire, DKIM-signed when given a [`DkimSigner`].

use lettre::Message;
use lettre::message::header::{
    self, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, SinglePart};

use super::dkim::DkimSigner;
use crate::SendError;

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
