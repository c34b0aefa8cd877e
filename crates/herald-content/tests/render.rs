//! Rendering with a realistic context: carts, money per locale, dates per time zone, segment
//! blocks, missing variables; HTML → text; and every library template.

use herald_content::filters::format_money;
use herald_content::{
    Channel, Context, Rendered, Template, TemplateSet, html_to_text, library, parse, render,
};
use serde_json::json;

fn context(locale: &str, timezone: &str) -> Context {
    serde_json::from_value(json!({
        "profile": {
            "id": "p_123", "user_id": "u_9",
            "traits": { "first_name": "Charlotte", "locale": locale, "timezone": timezone,
                        "phone": "+33612345678", "orders_count": 4 },
            "segments": ["loyal_customers", "product_viewers"]
        },
        "event": { "cart_url": "https://shop.example/cart/c42", "currency": "EUR", "value": 1284.5,
                   "name": "Linen Shirt", "price": 59, "url": "https://shop.example/p/linen",
                   "title": "The Capsule Wardrobe", "order_id": "1042" },
        "journey": { "name": "abandoned_cart", "key": "c42", "items": [
            { "name": "Linen Shirt", "price": 59.0, "quantity": 2, "variant": "Blue / M",
              "url": "https://shop.example/p/linen", "image_url": "https://cdn.example/linen.jpg" },
            { "name": "Wool Coat", "price": 1166.5, "quantity": 1 }
        ]},
        "message": { "id": "m_1" },
        "links": { "unsubscribe_url": "https://shop.example/u/abc",
                   "preferences_url": "https://shop.example/prefs/abc" },
        "shop": { "name": "Northwind", "url": "https://shop.example",
                  "consultation_url": "https://shop.example/book" },
        "recommendations": {
            "for_you": (1..=4).map(|i| json!({ "name": format!("Pick {i}"), "price": 20.0 * i as f64,
                "url": format!("https://shop.example/p/{i}"), "image_url": format!("https://cdn.example/{i}.jpg") }))
                .collect::<Vec<_>>(),
            "related": [{ "name": "Cedar Hanger", "price": 12, "url": "https://shop.example/p/h" }],
            "new_arrivals": [{ "name": "Spring Jacket", "price": 189, "url": "https://shop.example/p/j" }]
        },
        "offers": { "winback": { "code": "BACK15", "percent_off": 15, "expires_at": "2026-03-01T23:30:00Z" },
                    "cart": { "code": "CART10", "percent_off": 10 } }
    }))
    .unwrap()
}

fn one(src: &str) -> Template {
    parse(src).unwrap().remove(0)
}

fn sms(body: &str, ctx: &Context) -> String {
    let t = one(&format!("template t sms\n--- body\n{body}\nend\n"));
    match render(&t, ctx).unwrap() {
        Rendered::Sms { body } => body,
        other => panic!("{other:?}"),
    }
}

#[test]
fn money_follows_locale_and_currency() {
    assert_eq!(format_money(19.9, "EUR", "en-US"), "€19.90");
    assert_eq!(format_money(19.9, "EUR", "fr-FR"), "19,90\u{a0}€");
    assert_eq!(format_money(1234.5, "EUR", "de-DE"), "1.234,50\u{a0}€");
    assert_eq!(format_money(1234.5, "EUR", "fr"), "1\u{202f}234,50\u{a0}€");
    assert_eq!(format_money(1234.5, "EUR", "es-ES"), "1234,50\u{a0}€");
    assert_eq!(format_money(1234567.891, "USD", "en-US"), "$1,234,567.89");
    assert_eq!(format_money(1234.4, "JPY", "ja-JP"), "¥1,234");
    assert_eq!(format_money(-5.0, "GBP", "en-GB"), "-£5.00");
    assert_eq!(format_money(10.0, "CHF", "en"), "CHF\u{a0}10.00");
    assert_eq!(format_money(10.0, "XYZ", "en"), "XYZ\u{a0}10.00");
    let en = context("en-US", "UTC");
    let fr = context("fr-FR", "Europe/Paris");
    assert_eq!(sms(r#"{{ 19.9 | money: "EUR" }}"#, &en), "€19.90");
    assert_eq!(sms(r#"{{ 19.9 | money: "EUR" }}"#, &fr), "19,90\u{a0}€");
    // Without an argument: the trait `currency`, else USD; non-numbers pass through.
    assert_eq!(
        sms(
            "{{ 5 | money }} {{ 'n/a' | money }} {{ nothing | money }}!",
            &en
        ),
        "$5.00 n/a !"
    );
}

#[test]
fn local_date_uses_the_persons_time_zone() {
    let src = r#"{{ "2026-03-01T23:30:00Z" | local_date: "%Y-%m-%d %H:%M" }}"#;
    assert_eq!(sms(src, &context("en", "UTC")), "2026-03-01 23:30");
    assert_eq!(sms(src, &context("en", "Europe/Paris")), "2026-03-02 00:30");
    assert_eq!(
        sms(src, &context("en", "America/Los_Angeles")),
        "2026-03-01 15:30"
    );
    assert_eq!(sms(src, &context("en", "Not/AZone")), "2026-03-01 23:30");
    let explicit = r#"{{ 0 | local_date: "%H:%M", "Asia/Tokyo" }}"#;
    assert_eq!(sms(explicit, &context("en", "UTC")), "09:00");
    assert_eq!(
        sms(r#"{{ "soon" | local_date: "%H" }}"#, &context("en", "UTC")),
        "soon"
    );
    let bad = one("template t sms\nbody: {{ 0 | local_date: \"%Q%\" }}\nend\n");
    let e = render(&bad, &context("en", "UTC")).unwrap_err();
    assert!(e.to_string().contains("strftime"), "{e}");
}

#[test]
fn cart_loop_segments_and_defaults() {
    let t = one(r#"template t email
subject: {{ profile.traits.first_name | default: "there" }}, {{ journey.items.size }} items
--- html
{% for item in journey.items %}<li>{{ item.name }} x{{ item.quantity | default: 1 }}: {{ item.price | money: event.currency }}{{ item.missing }}</li>{% endfor %}
{% if profile.segments contains "loyal_customers" %}<p>VIP</p>{% else %}<p>Join</p>{% endif %}
<p>{{ nope.deeper.still | default: "fallback" }} {{ recommendations.none.size }}</p>
{% for p in recommendations.absent %}never{% endfor %}
end
"#);
    let Rendered::Email {
        subject,
        html,
        text,
        ..
    } = render(&t, &context("fr", "UTC")).unwrap()
    else {
        panic!()
    };
    assert_eq!(subject, "Charlotte, 2 items");
    assert!(
        html.contains(
            "<li>Linen Shirt x2: 59,00\u{a0}€</li><li>Wool Coat x1: 1\u{202f}166,50\u{a0}€</li>"
        ),
        "{html}"
    );
    assert!(html.contains("<p>VIP</p>") && !html.contains("Join"));
    assert!(html.contains("<p>fallback 0</p>"));
    assert!(!html.contains("never"));
    assert!(text.starts_with("- Linen Shirt x2"), "{text}");
    let Rendered::Email { subject, html, .. } = render(&t, &Context::default()).unwrap() else {
        panic!()
    };
    assert_eq!(subject, "there, 0 items");
    assert!(html.contains("<p>Join</p>"));
}

#[test]
fn push_and_webhook() {
    let ts = parse(
        r#"template p push
title: Hi {{ profile.traits.first_name }}
body: Your order shipped
data.url: app://orders/{{ event.order_id }}
end

template w webhook
--- body
{"id": {{ profile.id | json }}, "name": {{ profile.traits.first_name | json }}, "n": {{ profile.traits.orders_count | json }}, "x": {{ nothing | json }}}
end

template bad webhook
--- body
{"name": {{ profile.traits.first_name }}}
end
"#,
    )
    .unwrap();
    let set = TemplateSet::new(ts).unwrap();
    let ctx = context("en", "UTC");
    let r = render(set.get("p", Channel::Push).unwrap(), &ctx).unwrap();
    assert!(
        matches!(&r, Rendered::Push { title, data, .. } if title == "Hi Charlotte" && data["url"] == "app://orders/1042")
    );
    let Rendered::Webhook { body } = render(set.get("w", Channel::Webhook).unwrap(), &ctx).unwrap()
    else {
        panic!()
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"id": "p_123", "name": "Charlotte", "n": 4, "x": null})
    );
    let e = render(set.get("bad", Channel::Webhook).unwrap(), &ctx).unwrap_err();
    assert!(e.to_string().contains("json"), "{e}");
}

#[test]
fn html_to_text_reads_like_an_email() {
    let html = r#"<!DOCTYPE html><html><head><title>T</title><style>p { color: red; }</style></head>
<body><div style="display: none">Preheader text &zwnj;</div>
<table><tr><td><h1>Welcome,   Charlotte!</h1>
<p>Thanks for joining <strong>Northwind</strong>. Here&rsquo;s what&#39;s next:</p>
<ul><li>Free shipping</li><li>Early access &amp; more</li></ul>
<p>Line one<br>Line two</p>
<p><a href="https://shop.example/best">Browse bestsellers</a> or <a href="https://shop.example">https://shop.example</a>
<a href="mailto:help@shop.example">help@shop.example</a></p>
<!-- a comment <p>hidden</p> -->
<ol><li>One</li><li>Two</li></ol>
<p style="font-size:12px"><a href="https://shop.example/u">Unsubscribe</a> &middot; 2 &lt; 3</p>
</td></tr></table></body></html>"#;
    let expected = "Welcome, Charlotte!\n\n\
Thanks for joining Northwind. Here’s what's next:\n\n\
- Free shipping\n- Early access & more\n\n\
Line one\nLine two\n\n\
Browse bestsellers (https://shop.example/best) or https://shop.example help@shop.example\n\n\
1. One\n2. Two\n\n\
Unsubscribe (https://shop.example/u) · 2 < 3";
    assert_eq!(html_to_text(html), expected);
}

#[test]
fn every_library_template_renders() {
    let lib = library();
    let full = context("en-US", "America/New_York");
    for t in &lib {
        for ctx in [
            &Context::default(),
            &full,
            &context("de-DE", "Europe/Berlin"),
        ] {
            let r = render(t, ctx).unwrap_or_else(|e| panic!("{}: {e}", t.name()));
            if let Rendered::Email {
                subject,
                html,
                text,
                ..
            } = &r
            {
                assert!(
                    !subject.is_empty() && !html.is_empty() && !text.is_empty(),
                    "{}",
                    t.name()
                );
                assert!(
                    !subject.contains("{{") && !text.contains("{%"),
                    "{}",
                    t.name()
                );
                assert!(
                    !subject.contains(" ,") && !subject.ends_with(','),
                    "{}: {subject}",
                    t.name()
                );
            }
        }
    }
    let Rendered::Email { html, text, .. } = render(
        TemplateSet::new(lib.clone())
            .unwrap()
            .get("recommendations", Channel::Email)
            .unwrap(),
        &full,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(html.matches("https://cdn.example/").count(), 4);
    assert!(text.contains("Pick 4 (https://shop.example/p/4)"), "{text}");
    assert!(
        text.contains("Unsubscribe (https://shop.example/u/abc)"),
        "{text}"
    );
}

#[test]
fn library_covers_the_journeys_and_sms_fits() {
    let set = TemplateSet::new(library()).unwrap();
    let journeys = include_str!("../../herald-journeys/library.journeys");
    for line in journeys.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["send", channel, name] = words.as_slice() {
            let channel: Channel = channel.parse().unwrap();
            assert!(
                set.get(name, channel).is_some(),
                "no template {name} ({channel})"
            );
        }
    }
    let mut ctx = context("en-US", "UTC");
    ctx.event
        .insert("cart_url".into(), json!("https://nw.example/c/a8f3k2"));
    for name in ["Charlotte", "Maximilian-Alexander"] {
        ctx.profile.traits.insert("first_name".into(), json!(name));
        for t in set.iter().filter(|t| t.channel() == Channel::Sms) {
            for c in [&ctx, &Context::default()] {
                let Rendered::Sms { body } = render(t, c).unwrap() else {
                    panic!()
                };
                assert!(
                    body.chars().count() <= 160,
                    "{} is {} chars: {body}",
                    t.name(),
                    body.chars().count()
                );
            }
        }
    }
}

#[test]
fn compiled_templates_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Template>();
    send_sync::<TemplateSet>();
    let t = library().remove(0);
    let ctx = context("en", "UTC");
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| render(&t, &ctx).unwrap()))
            .collect();
        let first = render(&t, &ctx).unwrap();
        for h in hs {
            assert_eq!(h.join().unwrap(), first);
        }
    });
}
