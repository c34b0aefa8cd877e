//! Parsing the mail system's feedback: samples in tests/feedback/ follow RFC 3464, RFC 6533 and
//! RFC 5965 and the shapes Postfix, Exchange Online and mailbox providers' feedback loops send.

use herald_channels::email::feedback::{
    Bounce, BounceKind, Complaint, Feedback, FeedbackError, parse,
};

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/feedback/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The samples are stored with LF line ends; on the wire mail has CRLF.
fn with_crlf(raw: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(raw).expect("samples are UTF-8");
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// Parses a sample both as stored and with CRLF line ends, which must agree.
fn parse_sample(name: &str) -> Result<Feedback, FeedbackError> {
    let raw = sample(name);
    let parsed = parse(&raw);
    assert_eq!(
        parse(&with_crlf(&raw)),
        parsed,
        "{name} with CRLF line ends"
    );
    parsed
}

fn bounces(name: &str) -> Vec<Bounce> {
    match parse_sample(name) {
        Ok(Feedback::Bounces(bounces)) => bounces,
        other => panic!("{name}: expected bounces, got {other:?}"),
    }
}

fn complaint(name: &str) -> Complaint {
    match parse_sample(name) {
        Ok(Feedback::Complaint(complaint)) => complaint,
        other => panic!("{name}: expected a complaint, got {other:?}"),
    }
}

#[test]
fn postfix_hard_bounce_with_returned_headers() {
    assert_eq!(
        bounces("postfix_hard_5_1_1.eml"),
        vec![Bounce {
            recipient: "jane.doe@example.org".into(),
            action: "failed".into(),
            status: "5.1.1".into(),
            kind: BounceKind::Hard,
            diagnostic: Some(
                "smtp; 550 5.1.1 <Jane.Doe@Example.org>: Recipient address rejected: \
                 User unknown in virtual mailbox table"
                    .into()
            ),
            original_message_id: Some("01JHB5X8Q3ZK.welcome.a41c07@herald.example".into()),
            original_recipient: Some("Jane.Doe@Example.org".into()),
        }]
    );
}

#[test]
fn delayed_delivery_is_soft_and_lacks_optional_fields() {
    assert_eq!(
        bounces("postfix_delayed_4_4_1.eml"),
        vec![Bounce {
            recipient: "ops@slow.example.net".into(),
            action: "delayed".into(),
            status: "4.4.1".into(),
            kind: BounceKind::Soft,
            diagnostic: Some(
                "X-Postfix; connect to mx.slow.example.net[203.0.113.9]:25: Connection timed out"
                    .into()
            ),
            original_message_id: Some("01JHE7Q2M8VN.digest.9e3310@herald.example".into()),
            original_recipient: None,
        }]
    );
}

#[test]
fn two_recipients_one_unknown_one_mailbox_full() {
    let bounces = bounces("exchange_two_recipients.eml");
    assert_eq!(bounces.len(), 2);

    let unknown = &bounces[0];
    assert_eq!(unknown.recipient, "max.mustermann@contoso.example");
    assert_eq!(unknown.action, "failed");
    assert_eq!(unknown.status, "5.1.10");
    assert_eq!(unknown.kind, BounceKind::Hard);
    assert_eq!(
        unknown.diagnostic.as_deref(),
        Some(
            "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient \
             Max.Mustermann@contoso.example not found by SMTP address lookup"
        )
    );
    assert_eq!(unknown.original_recipient, None);

    let full = &bounces[1];
    assert_eq!(full.recipient, "full@contoso.example");
    assert_eq!(full.status, "5.2.2");
    assert_eq!(
        full.kind,
        BounceKind::Soft,
        "a full mailbox is not a dead one"
    );
    assert_eq!(
        full.original_recipient.as_deref(),
        Some("Full@contoso.example")
    );

    for bounce in &bounces {
        assert_eq!(
            bounce.original_message_id.as_deref(),
            Some("01JHGZ4T0B2R.promo.77b2e1@herald.example")
        );
    }
}

#[test]
fn global_delivery_status_with_utf8_addresses() {
    assert_eq!(
        bounces("global_delivery_status.eml"),
        vec![Bounce {
            recipient: "josé@exämple.de".into(),
            action: "failed".into(),
            status: "5.1.1".into(),
            kind: BounceKind::Hard,
            diagnostic: Some("smtp; 550 5.1.1 <José@Exämple.de>: Postfach unbekannt".into()),
            original_message_id: Some("01JHK2B7P5CC.order.c0ffee@herald.example".into()),
            original_recipient: Some("José@Exämple.de".into()),
        }]
    );
}

#[test]
fn arf_abuse_report_with_returned_message() {
    assert_eq!(
        complaint("arf_abuse.eml"),
        Complaint {
            feedback_type: "abuse".into(),
            original_recipient: Some("kim.lee@mailbox-provider.example".into()),
            original_mail_from: Some("bounces+5b8d02@herald.example".into()),
            user_agent: Some("ProviderFBL/2.4".into()),
            arrival_date: Some("Mon, 20 Jan 2025 17:03:44 -0500".into()),
            original_message_id: Some("01JJ0N5S9DFE.picks.5b8d02@herald.example".into()),
        }
    );
}

#[test]
fn arf_without_rcpt_to_falls_back_to_returned_to() {
    assert_eq!(
        complaint("arf_redacted_headers.eml"),
        Complaint {
            feedback_type: "abuse".into(),
            original_recipient: Some("redacted@webmail.example".into()),
            original_mail_from: None,
            user_agent: Some("Webmail-FBL/1.0".into()),
            arrival_date: Some("Tue, 21 Jan 2025 07:12:55 +0000".into()),
            original_message_id: Some("01JJ2A0H3N6Q.offer.1f4e90@herald.example".into()),
        }
    );
}

#[test]
fn plain_text_mail_is_not_a_report() {
    let err = parse_sample("plain_text.eml").unwrap_err();
    assert_eq!(
        err,
        FeedbackError::NotMultipartReport {
            found: "text/plain".into()
        }
    );
    assert!(err.to_string().contains("expected a multipart/report"));
}

#[test]
fn empty_input() {
    assert_eq!(parse(b""), Err(FeedbackError::Empty));
    assert_eq!(parse(b" \r\n\r\n"), Err(FeedbackError::Empty));
}

#[test]
fn garbage_is_refused() {
    let garbage: &[&[u8]] = &[
        b"\x00\x9f\xff\xfe\x01binary junk\x00\x00",
        b"just some words without any header\n",
        b"{\"type\": \"bounce\", \"email\": \"jane@example.org\"}",
        &[0xff; 64],
        b"Subject: no sender, no date, no type\n\nbody\n",
    ];
    for raw in garbage {
        assert_eq!(
            parse(raw),
            Err(FeedbackError::NotAMessage),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn report_without_status_part() {
    let err = parse_sample("report_without_status_part.eml").unwrap_err();
    assert!(matches!(
        err,
        FeedbackError::MissingReportPart {
            report_type: "delivery-status",
            ..
        }
    ));
    assert!(err.to_string().contains("message/delivery-status"));
}

#[test]
fn status_part_without_recipients() {
    assert_eq!(
        parse_sample("status_without_recipients.eml"),
        Err(FeedbackError::NoRecipients)
    );
}

#[test]
fn other_report_types_are_refused() {
    let err = parse_sample("mdn_read_receipt.eml").unwrap_err();
    assert_eq!(
        err,
        FeedbackError::UnsupportedReportType {
            found: "\"disposition-notification\"".into()
        }
    );
    assert!(err.to_string().contains("report-type=delivery-status"));
}

/// Takes a sample apart at its status part so single fields can be changed.
fn edit_postfix_status(from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(sample("postfix_hard_5_1_1.eml")).unwrap();
    assert!(text.contains(from), "sample lacks {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn missing_required_recipient_fields() {
    let no_status = edit_postfix_status("Status: 5.1.1\n", "");
    assert_eq!(
        parse(&no_status),
        Err(FeedbackError::MissingField {
            index: 1,
            field: "Status"
        })
    );

    let no_action = edit_postfix_status("Action: failed\n", "");
    assert_eq!(
        parse(&no_action),
        Err(FeedbackError::MissingField {
            index: 1,
            field: "Action"
        })
    );

    let bad_status = edit_postfix_status("Status: 5.1.1\n", "Status: user unknown\n");
    let err = parse(&bad_status).unwrap_err();
    assert_eq!(
        err,
        FeedbackError::InvalidStatus {
            index: 1,
            found: "user unknown".into()
        }
    );
    assert!(err.to_string().contains("5.1.1"));
}

#[test]
fn final_recipient_falls_back_to_original_recipient() {
    let raw = edit_postfix_status("Final-Recipient: rfc822; Jane.Doe@Example.org\n", "");
    let Ok(Feedback::Bounces(bounces)) = parse(&raw) else {
        panic!("expected bounces");
    };
    assert_eq!(bounces[0].recipient, "jane.doe@example.org");
}

#[test]
fn status_comments_and_missing_returned_part() {
    let text = String::from_utf8(sample("postfix_hard_5_1_1.eml")).unwrap();
    let cut = text
        .find("--4YbR2k0QvTz3nPq.1736845923/mta1.herald.example\nContent-Description: Undelivered")
        .expect("returned part");
    let raw = format!(
        "{}--4YbR2k0QvTz3nPq.1736845923/mta1.herald.example--\n",
        &text[..cut]
    )
    .replacen("Status: 5.1.1", "Status: 5.0.0 (permanent failure)", 1);
    let Ok(Feedback::Bounces(bounces)) = parse(raw.as_bytes()) else {
        panic!("expected bounces");
    };
    assert_eq!(bounces[0].status, "5.0.0");
    assert_eq!(bounces[0].kind, BounceKind::Hard);
    assert_eq!(bounces[0].original_message_id, None);
}

#[test]
fn arf_without_feedback_type() {
    let text = String::from_utf8(sample("arf_abuse.eml")).unwrap();
    let raw = text.replacen("Feedback-Type: abuse\n", "", 1);
    assert_eq!(
        parse(raw.as_bytes()),
        Err(FeedbackError::MissingFeedbackType)
    );
}

#[test]
fn arf_without_feedback_part() {
    let text = String::from_utf8(sample("arf_abuse.eml")).unwrap();
    let raw = text.replacen("message/feedback-report", "text/plain", 1);
    assert!(matches!(
        parse(raw.as_bytes()),
        Err(FeedbackError::MissingReportPart {
            report_type: "feedback-report",
            ..
        })
    ));
}

#[test]
fn per_recipient_fields_without_the_blank_line_before_them() {
    let raw = edit_postfix_status("(UTC)\n\nFinal-Recipient", "(UTC)\nFinal-Recipient");
    let Ok(Feedback::Bounces(bounces)) = parse(&raw) else {
        panic!("expected bounces");
    };
    assert_eq!(bounces.len(), 1);
    assert_eq!(bounces[0].recipient, "jane.doe@example.org");
    assert_eq!(bounces[0].kind, BounceKind::Hard);
}

#[test]
fn success_notices_are_not_hard() {
    let raw = edit_postfix_status(
        "Action: failed\nStatus: 5.1.1",
        "Action: Delivered\nStatus: 2.0.0",
    );
    let Ok(Feedback::Bounces(bounces)) = parse(&raw) else {
        panic!("expected bounces");
    };
    assert_eq!(bounces[0].action, "delivered");
    assert_eq!(bounces[0].status, "2.0.0");
    assert_eq!(bounces[0].kind, BounceKind::Soft);
}
