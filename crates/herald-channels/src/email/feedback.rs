//! The mail system's feedback about mail Herald sent, as it arrives on the inbound endpoint:
//! the raw RFC 5322 bytes of a `multipart/report` (RFC 6522) message.
//!
//! Two kinds of report are understood:
//!
//! * Delivery status notifications (RFC 3464, and RFC 6533's `message/global-delivery-status`
//!   for internationalized addresses), `report-type=delivery-status`: one [`Bounce`] per
//!   per-recipient block, classified [`BounceKind::Hard`] or [`BounceKind::Soft`].
//! * Abuse reports in the Abuse Reporting Format (RFC 5965), `report-type=feedback-report`,
//!   sent by mailbox providers' feedback loops when a recipient marks mail as spam: one
//!   [`Complaint`].
//!
//! MIME structure and transfer encodings are left to `mail-parser`; the machine-readable
//! parts (`message/delivery-status`, `message/feedback-report`) are header-like field blocks
//! that `mail-parser` hands over as opaque bodies, so they are read here.
//!
//! Anything else is refused with a [`FeedbackError`] whose message tells the sender what Herald
//! expects, since the usual cause is a misrouted or hand-made message rather than a broken MTA.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

/// What one feedback message said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// A delivery status notification: one entry per recipient it reports on, in report order.
    Bounces(Vec<Bounce>),
    /// An abuse report (a recipient complained about a message).
    Complaint(Complaint),
}

/// One per-recipient block of a delivery status notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounce {
    /// The address the report is about (`Final-Recipient`), lowercased, without its address
    /// type.
    pub recipient: String,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded` (lowercased).
    pub action: String,
    /// The RFC 3463 status code, `class.subject.detail`, e.g. `5.1.1`.
    pub status: String,
    pub kind: BounceKind,
    /// The `Diagnostic-Code` as given, including its type (`smtp; 550 5.1.1 ...`), unfolded.
    pub diagnostic: Option<String>,
    /// The `Message-ID` of the returned message or headers, without angle brackets.
    pub original_message_id: Option<String>,
    /// The `Original-Recipient` (the ORCPT the sender gave), without its address type, as given.
    pub original_recipient: Option<String>,
}

/// Whether the address should be given up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BounceKind {
    /// Permanent: the action is `failed` with a 5.x.x status (other than 5.2.2). Stop sending.
    Hard,
    /// Anything that does not condemn the address: 4.x.x, `delayed`, a full mailbox, and also
    /// the success notices (`delivered`, `relayed`, `expanded`); check `action` to tell these
    /// apart.
    Soft,
}

/// An abuse report (RFC 5965).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Complaint {
    /// `abuse`, `fraud`, `auth-failure`, `not-spam`, `other`, ... (lowercased).
    pub feedback_type: String,
    /// `Original-Rcpt-To`, else the first `To` address of the returned message.
    pub original_recipient: Option<String>,
    /// `Original-Mail-From`, without angle brackets.
    pub original_mail_from: Option<String>,
    /// The software that generated the report.
    pub user_agent: Option<String>,
    /// `Arrival-Date` as given (not parsed: generators disagree on the date format).
    pub arrival_date: Option<String>,
    /// The `Message-ID` of the returned message or headers, without angle brackets.
    pub original_message_id: Option<String>,
}

/// Why the bytes were not a report Herald understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error(
        "the body is empty: expected the raw bytes of an RFC 5322 message, a multipart/report \
         delivery status notification (RFC 3464) or abuse report (RFC 5965)"
    )]
    Empty,
    #[error(
        "not an RFC 5322 message (no From, Date or Content-Type header field): expected the raw \
         bytes of a multipart/report delivery status notification (RFC 3464) or abuse report \
         (RFC 5965)"
    )]
    NotAMessage,
    #[error(
        "expected a multipart/report message (RFC 6522), but the Content-Type is {found}: \
         send the delivery status notification or abuse report itself, not a message about it"
    )]
    NotMultipartReport { found: String },
    #[error(
        "multipart/report with report-type {found}: only report-type=delivery-status \
         (RFC 3464) and report-type=feedback-report (RFC 5965) are accepted"
    )]
    UnsupportedReportType { found: String },
    #[error(
        "report-type={report_type} but the multipart/report has no {expected} part; \
         it must carry the machine-readable report after the human-readable part"
    )]
    MissingReportPart {
        report_type: &'static str,
        expected: &'static str,
    },
    #[error(
        "the delivery-status part has no per-recipient fields: after the per-message fields and \
         a blank line it needs at least one block with Final-Recipient, Action and Status"
    )]
    NoRecipients,
    #[error(
        "per-recipient block {index} of the delivery-status part lacks the required {field} field"
    )]
    MissingField { index: usize, field: &'static str },
    #[error(
        "per-recipient block {index} of the delivery-status part has Status {found:?}, which is \
         not an RFC 3463 code class.subject.detail such as 5.1.1"
    )]
    InvalidStatus { index: usize, found: String },
    #[error(
        "the feedback-report part lacks the required Feedback-Type field (RFC 5965 section 3.1)"
    )]
    MissingFeedbackType,
}

/// Reads one feedback message (raw RFC 5322 bytes, CRLF or LF line ends).
pub fn parse(raw: &[u8]) -> Result<Feedback, FeedbackError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(FeedbackError::Empty);
    }
    let message = MessageParser::new()
        .parse(raw)
        .ok_or(FeedbackError::NotAMessage)?;
    let root = message.root_part();
    // mail-parser reads almost anything as header fields (`{"json": 1}` becomes a field named
    // `{"json"`), so ask for a field that every real report carries before judging its type.
    let looks_like_mail = root.headers.iter().any(|header| {
        ["from", "date", "content-type", "mime-version"]
            .iter()
            .any(|name| header.name().eq_ignore_ascii_case(name))
    });
    if !looks_like_mail {
        return Err(FeedbackError::NotAMessage);
    }
    let Some(content_type) = root.content_type() else {
        return Err(FeedbackError::NotMultipartReport {
            found: "missing (plain text)".into(),
        });
    };
    if content_type.ctype() != "multipart" || content_type.subtype() != Some("report") {
        return Err(FeedbackError::NotMultipartReport {
            found: match content_type.subtype() {
                Some(subtype) => format!("{}/{subtype}", content_type.ctype()),
                None => content_type.ctype().to_owned(),
            },
        });
    }
    // Parameter names come lowercased from mail-parser, values do not, and RFC 6522 makes the
    // report-type value case-insensitive.
    let report_type = content_type
        .attribute("report-type")
        .map(|value| value.trim().to_ascii_lowercase());
    match report_type.as_deref() {
        Some("delivery-status") => bounces(&message).map(Feedback::Bounces),
        Some("feedback-report") => complaint(&message).map(Feedback::Complaint),
        Some(other) => Err(FeedbackError::UnsupportedReportType {
            found: format!("{other:?}"),
        }),
        None => Err(FeedbackError::UnsupportedReportType {
            found: "missing".into(),
        }),
    }
}

const STATUS_TYPES: &[(&str, &str)] = &[
    ("message", "delivery-status"),
    ("message", "global-delivery-status"),
];

const FEEDBACK_TYPES: &[(&str, &str)] = &[("message", "feedback-report")];

/// Where the returned original (or just its header section) may come back.
const RETURNED_TYPES: &[(&str, &str)] = &[
    ("message", "rfc822"),
    ("message", "global"),
    ("text", "rfc822-headers"),
    ("message", "global-headers"),
];

fn bounces(message: &Message<'_>) -> Result<Vec<Bounce>, FeedbackError> {
    let part = find_part(message, STATUS_TYPES).ok_or(FeedbackError::MissingReportPart {
        report_type: "delivery-status",
        expected: "message/delivery-status (or message/global-delivery-status)",
    })?;
    // RFC 6533 makes the global variant UTF-8; the plain one is ASCII, which this also covers.
    let text = String::from_utf8_lossy(part.contents());
    // Recognising per-recipient blocks by their fields rather than by position copes with
    // reports that leave out the per-message block or the blank line after it.
    let recipients: Vec<Fields> = field_blocks(&text)
        .into_iter()
        .filter(Fields::is_per_recipient)
        .collect();
    if recipients.is_empty() {
        return Err(FeedbackError::NoRecipients);
    }
    let original_message_id = returned_headers(message).message_id;
    recipients
        .iter()
        .enumerate()
        .map(|(i, fields)| bounce(i + 1, fields, &original_message_id))
        .collect()
}

fn bounce(
    index: usize,
    fields: &Fields,
    original_message_id: &Option<String>,
) -> Result<Bounce, FeedbackError> {
    let missing = |field| FeedbackError::MissingField { index, field };
    // Final-Recipient is required, but a report that only names the original recipient still
    // says who bounced.
    let recipient = fields
        .get("final-recipient")
        .or_else(|| fields.get("original-recipient"))
        .map(typed_address)
        .filter(|address| !address.is_empty())
        .ok_or_else(|| missing("Final-Recipient"))?
        .to_lowercase();
    let action = fields
        .get("action")
        .and_then(first_token)
        .ok_or_else(|| missing("Action"))?
        .to_ascii_lowercase();
    let status_field = fields.get("status").ok_or_else(|| missing("Status"))?;
    let status = status_code(status_field).ok_or_else(|| FeedbackError::InvalidStatus {
        index,
        found: status_field.to_owned(),
    })?;
    let kind = classify(&action, &status);
    Ok(Bounce {
        recipient,
        action,
        status,
        kind,
        diagnostic: fields.get("diagnostic-code").map(str::to_owned),
        original_message_id: original_message_id.clone(),
        original_recipient: fields
            .get("original-recipient")
            .map(typed_address)
            .filter(|address| !address.is_empty()),
    })
}

fn classify(action: &str, status: &str) -> BounceKind {
    // X.2.2 is "mailbox full", which RFC 3463 allows as permanent or transient, and many
    // receivers send it as 5.2.2 while the mailbox may be emptied tomorrow. The address
    // belongs to a real, reachable person, so suppressing it for good would cost more than
    // a few more attempts do.
    if action == "failed" && status.starts_with("5.") && status != "5.2.2" {
        BounceKind::Hard
    } else {
        BounceKind::Soft
    }
}

fn complaint(message: &Message<'_>) -> Result<Complaint, FeedbackError> {
    let part = find_part(message, FEEDBACK_TYPES).ok_or(FeedbackError::MissingReportPart {
        report_type: "feedback-report",
        expected: "message/feedback-report",
    })?;
    let text = String::from_utf8_lossy(part.contents());
    // The report is a single block; a stray blank line inside it should not hide fields.
    let fields = Fields(field_blocks(&text).into_iter().flat_map(|b| b.0).collect());
    let feedback_type = fields
        .get("feedback-type")
        .and_then(first_token)
        .ok_or(FeedbackError::MissingFeedbackType)?
        .to_ascii_lowercase();
    let returned = returned_headers(message);
    let address = |name| {
        fields
            .get(name)
            .map(|value| strip_angles(value).to_owned())
            .filter(|address| !address.is_empty())
    };
    Ok(Complaint {
        feedback_type,
        // Feedback loops often redact or drop Original-Rcpt-To; the returned message's To is
        // then the best remaining guess at which of our recipients complained.
        original_recipient: address("original-rcpt-to").or(returned.to),
        original_mail_from: address("original-mail-from"),
        user_agent: fields.get("user-agent").map(str::to_owned),
        // Received-Date is the name used by the drafts that preceded RFC 5965, still emitted by
        // some older feedback loops.
        arrival_date: fields
            .get("arrival-date")
            .or_else(|| fields.get("received-date"))
            .map(str::to_owned),
        original_message_id: returned.message_id,
    })
}

/// The first part of the report (outside any returned message) with one of the given types.
fn find_part<'m, 'x>(
    message: &'m Message<'x>,
    wanted: &[(&str, &str)],
) -> Option<&'m MessagePart<'x>> {
    // `parts` is flat: the root, then every part nested under it in order, except the insides
    // of returned messages, which are separate `Message`s. Looking beyond the direct children
    // tolerates generators that wrap the report in a further multipart.
    message.parts.iter().skip(1).find(|part| {
        part.content_type().is_some_and(|ct| {
            wanted
                .iter()
                .any(|&(ctype, subtype)| ct.ctype() == ctype && ct.subtype() == Some(subtype))
        })
    })
}

#[derive(Default)]
struct Returned {
    message_id: Option<String>,
    to: Option<String>,
}

fn returned_headers(message: &Message<'_>) -> Returned {
    let Some(part) = find_part(message, RETURNED_TYPES) else {
        return Returned::default();
    };
    match part.message() {
        Some(original) => returned_from(original),
        // Header-only parts, and message/rfc822 parts that mail-parser could not take apart,
        // arrive as plain bodies.
        None => MessageParser::new()
            .parse_headers(part.contents())
            .map(|original| returned_from(&original))
            .unwrap_or_default(),
    }
}

fn returned_from(original: &Message<'_>) -> Returned {
    Returned {
        message_id: original
            .message_id()
            .map(|id| strip_angles(id).to_owned())
            .filter(|id| !id.is_empty()),
        to: original
            .to()
            .and_then(|to| to.first())
            .and_then(|addr| addr.address())
            .map(str::to_owned),
    }
}

/// One block of `name: value` fields, names lowercased, values unfolded and trimmed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first non-empty value of a field (names are case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn is_per_recipient(&self) -> bool {
        self.0.iter().any(|(name, _)| {
            matches!(
                name.as_str(),
                "final-recipient" | "original-recipient" | "action" | "status"
            )
        })
    }
}

/// Splits a status or feedback part into its blank-line separated field blocks.
fn field_blocks(text: &str) -> Vec<Fields> {
    let mut blocks = Vec::new();
    let mut current = Fields::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.0.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            // A folded continuation. Joining with one space reads better in a diagnostic than
            // keeping the indentation, and loses nothing the fields carry.
            if let Some((_, value)) = current.0.last_mut() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current
                .0
                .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        // Anything else is not a field; skipping it keeps one bad line from losing the block.
    }
    if !current.0.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// The address of an `address-type; address` field (`rfc822; a@b.example`).
fn typed_address(value: &str) -> String {
    // Some generators leave out the type; the whole value is then the address.
    let (address_type, address) = match value.split_once(';') {
        Some((address_type, address)) => (address_type.trim(), address),
        None => ("", value),
    };
    let address = strip_angles(address);
    // No xtext decoding for rfc822: a literal `+` is common in local parts (`jane+news@`),
    // and an MTA that wrote an xtext-encoded ORCPT back undecoded is rarer than that.
    if address_type.eq_ignore_ascii_case("utf-8") {
        decode_unicode_escapes(address)
    } else {
        address.to_owned()
    }
}

/// RFC 6533 lets `utf-8` addresses spell characters as `\x{HEX}`.
fn decode_unicode_escapes(address: &str) -> String {
    let mut decoded = String::with_capacity(address.len());
    let mut rest = address;
    while let Some(start) = rest.find("\\x{") {
        decoded.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let escaped = after.find('}').and_then(|end| {
            u32::from_str_radix(&after[..end], 16)
                .ok()
                .and_then(char::from_u32)
                .map(|ch| (ch, end))
        });
        match escaped {
            Some((ch, end)) => {
                decoded.push(ch);
                rest = &after[end + 1..];
            }
            None => {
                decoded.push_str("\\x{");
                rest = after;
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

fn strip_angles(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
        .trim()
}

/// The first word of a field, before any comment (`failed (bad mailbox)`).
fn first_token(value: &str) -> Option<&str> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|token| !token.is_empty())
}

/// The RFC 3463 code in a Status field, normalised (`5.1.1`), ignoring comments around it
/// (`5.0.0 (permanent failure)`).
fn status_code(value: &str) -> Option<String> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .find_map(|token| {
            let mut numbers = token.split('.');
            let (class, subject, detail) = (numbers.next()?, numbers.next()?, numbers.next()?);
            let valid = numbers.next().is_none()
                && matches!(class, "2" | "4" | "5")
                && [subject, detail]
                    .iter()
                    .all(|n| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
            // Leading zeros are legal but would make "5.2.02" escape the 5.2.2 comparison.
            valid.then(|| {
                let number = |n: &str| n.parse::<u16>().unwrap_or_default();
                format!("{class}.{}.{}", number(subject), number(detail))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_continuations_and_splits_blocks() {
        let text = "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\n\
                    Diagnostic-Code: smtp; 550 no such\r\n    user here\r\n\tat all\r\n\r\n\r\n";
        let blocks = field_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].get("reporting-mta"), Some("dns; mx.example"));
        assert_eq!(
            blocks[1].get("diagnostic-code"),
            Some("smtp; 550 no such user here at all")
        );
        assert!(!blocks[0].is_per_recipient());
        assert!(blocks[1].is_per_recipient());
    }

    #[test]
    fn field_names_are_case_insensitive_and_empty_values_skipped() {
        let blocks = field_blocks("ACTION:\nAction: Failed\nnot a field line\n");
        assert_eq!(blocks[0].get("action"), Some("Failed"));
    }

    #[test]
    fn reads_status_codes() {
        assert_eq!(status_code("5.1.1").as_deref(), Some("5.1.1"));
        assert_eq!(
            status_code("5.0.0 (permanent failure)").as_deref(),
            Some("5.0.0")
        );
        assert_eq!(status_code("(mailbox) 4.2.02").as_deref(), Some("4.2.2"));
        assert_eq!(status_code("5.1.10").as_deref(), Some("5.1.10"));
        assert_eq!(status_code("550"), None);
        assert_eq!(status_code("3.1.1"), None);
        assert_eq!(status_code("5.1.1.1"), None);
        assert_eq!(status_code("5.1.1234"), None);
        assert_eq!(status_code("5..1"), None);
    }

    #[test]
    fn classifies() {
        assert_eq!(classify("failed", "5.1.1"), BounceKind::Hard);
        assert_eq!(classify("failed", "5.2.2"), BounceKind::Soft);
        assert_eq!(classify("failed", "4.4.7"), BounceKind::Soft);
        assert_eq!(classify("delayed", "4.4.1"), BounceKind::Soft);
        assert_eq!(classify("delayed", "5.1.1"), BounceKind::Soft);
        assert_eq!(classify("delivered", "2.0.0"), BounceKind::Soft);
    }

    #[test]
    fn reads_typed_addresses() {
        assert_eq!(
            typed_address("rfc822; <Jane@Example.org>"),
            "Jane@Example.org"
        );
        assert_eq!(
            typed_address("RFC822;jane+news@example.org"),
            "jane+news@example.org"
        );
        assert_eq!(typed_address("jane@example.org"), "jane@example.org");
        assert_eq!(
            typed_address("utf-8; jos\\x{E9}@ex\\x{e4}mple.de"),
            "josé@exämple.de"
        );
        assert_eq!(typed_address("utf-8; bad\\x{zz}@x"), "bad\\x{zz}@x");
        assert_eq!(typed_address("utf-8; open\\x{41"), "open\\x{41");
    }

    #[test]
    fn first_token_skips_comments() {
        assert_eq!(first_token(" failed (bad mailbox)"), Some("failed"));
        assert_eq!(first_token("abuse"), Some("abuse"));
        assert_eq!(first_token("  "), None);
    }
}
