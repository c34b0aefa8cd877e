//! The text format: parse errors located with hints, Liquid errors located in the file, and
//! round trips text → templates → text and through JSON.

use herald_content::{Channel, Content, ContentError, LIBRARY, Template, parse, print};

fn err(src: &str) -> ContentError {
    parse(src).expect_err("should not parse")
}

#[test]
fn reads_every_kind_of_template() {
    let src = r#"
# a comment
template welcome_1 email
subject: Hi {{ profile.traits.first_name | default: "there" }}
preheader: Read me
--- html
<p>Hello</p>
\end
\---
--- text
Hello

end

template ping sms
body: Hi!
end

template new_order push
title: Thanks!
body: Order {{ event.order_id }} is in.
data.url: app://orders/{{ event.order_id }}
end

template crm webhook
--- body
{"id": {{ profile.id | json }}}
end
"#;
    let ts = parse(src).unwrap();
    assert_eq!(ts.len(), 4);
    let Content::Email(e) = ts[0].content() else {
        panic!("email")
    };
    assert_eq!(e.preheader.as_deref(), Some("Read me"));
    assert_eq!(e.html, "<p>Hello</p>\nend\n---");
    assert_eq!(e.text.as_deref(), Some("Hello"));
    assert_eq!(ts[1].key(), ("ping", Channel::Sms));
    let Content::Push(p) = ts[2].content() else {
        panic!("push")
    };
    assert_eq!(p.data["url"], "app://orders/{{ event.order_id }}");
    assert_eq!(ts[3].channel(), Channel::Webhook);
}

#[test]
fn syntax_errors_have_lines_and_hints() {
    let cases: &[(&str, usize, &str)] = &[
        ("\n\nsubject: hi\n", 3, "expected a template"),
        ("template x fax\nend\n", 1, "unknown channel `fax`"),
        ("template Bad! email\nend\n", 1, "characters other than"),
        (
            "template a email\nsubject: x\nbody: y\nend\n",
            3,
            "`body` is not a part",
        ),
        (
            "template a email\nsubject: x\nsubject: y\nend\n",
            3,
            "given twice",
        ),
        (
            "template a email\nsubject: x\n--- html\n<p>\n",
            4,
            "has no `end`",
        ),
        ("template a email\nsubject: x\nend\n", 1, "missing `html`"),
        (
            "template a sms\nthis is not a field\nend\n",
            2,
            "expected `part: value`",
        ),
        (
            "template a sms\nbody: x\nend\ntemplate a sms\nbody: y\nend\n",
            0,
            "defined twice",
        ),
    ];
    for (src, line, message) in cases {
        let e = err(src);
        let text = e.to_string();
        assert!(text.contains(message), "{src:?}: {text}");
        assert!(text.contains("hint:"), "{src:?}: {text}");
        if *line > 0 {
            assert!(
                matches!(e, ContentError::Syntax { line: l, .. } if l == *line),
                "{src:?}: {e:?}"
            );
        }
    }
}

#[test]
fn liquid_errors_point_into_the_file() {
    let src = "template a email\nsubject: ok\n--- html\n<p>one</p>\n<p>{{ x | shout }}</p>\nend\n";
    match err(src) {
        ContentError::Liquid {
            template,
            part,
            line,
            message,
            hint,
            ..
        } => {
            assert_eq!((template.as_str(), part.as_str(), line), ("a", "html", 5));
            assert!(message.contains("unknown filter `shout`"), "{message}");
            assert!(hint.contains("money"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    let src =
        "template a email\nsubject: {{ x | default: }}\n--- html\n<p>\n{% if x %}\n</p>\nend\n";
    let e = err(src);
    assert!(
        matches!(&e, ContentError::Liquid { part, line: 2, .. } if part == "subject"),
        "{e:?}"
    );
    let src = "template a email\nsubject: ok\n--- html\n<p>\n{% if x %}\n</p>\nend\n";
    let e = err(src);
    assert!(
        matches!(&e, ContentError::Liquid { part, line, .. } if part == "html" && (4..=7).contains(line)),
        "{e:?}"
    );
    assert!(e.to_string().contains("endif"), "{e}");
    // Given as JSON, the line is within the part.
    let json = r#"{"name":"a","channel":"sms","body":"hi\n{{ x | nope }}"}"#;
    let e = serde_json::from_str::<Template>(json).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn text_round_trips() {
    let templates = parse(LIBRARY).unwrap();
    let printed = print(&templates);
    let again = parse(&printed).unwrap();
    assert_eq!(templates, again);
    assert_eq!(printed, print(&again));
    // Lines that look like the format's own keywords survive.
    let tricky = "template t email\nsubject: s\n--- html\n\\end\n\\---\n\\\\end\n  end\nend\n";
    let t = parse(tricky).unwrap();
    let Content::Email(e) = t[0].content() else {
        panic!()
    };
    assert_eq!(e.html, "end\n---\n\\end\n  end");
    assert_eq!(parse(&print(&t)).unwrap(), t);
}

#[test]
fn json_round_trips() {
    let templates = parse(LIBRARY).unwrap();
    let json = serde_json::to_string(&templates).unwrap();
    let back: Vec<Template> = serde_json::from_str(&json).unwrap();
    assert_eq!(templates, back);
    let v: serde_json::Value = serde_json::to_value(&templates[0]).unwrap();
    assert_eq!(v["channel"], "email");
    assert_eq!(v["name"], "welcome_1");
    assert!(v["subject"].as_str().unwrap().contains("Welcome"));
}
