use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn parse(v: Value) -> Result<Item, ItemError> {
    Item::parse(&v, now())
}

fn refusal(v: Value) -> (String, String) {
    let e = parse(v).unwrap_err();
    (e.field().to_owned(), e.to_string())
}

#[test]
fn parses_a_full_item_trimming_and_normalising() {
    let item = parse(json!({
        "product_id": " sku-1 ",
        "name": "  Red Shoe ",
        "url": "https://shop.example/p/sku-1?ref=x",
        "image_url": "HTTP://cdn.example:8080/i.png",
        "price": "19.99",
        "currency": "eur",
        "category": "Shoes",
        "brand": "",
        "stock": 3,
        "attributes": {"color": "red", "sizes": [40, 41]}
    }))
    .unwrap();
    assert_eq!(item.product_id, "sku-1");
    assert_eq!(item.name.as_deref(), Some("Red Shoe"));
    assert_eq!(item.price, Some(19.99));
    assert_eq!(item.currency.as_deref(), Some("EUR"));
    assert_eq!(item.brand, None, "an empty string is not given");
    assert_eq!(item.stock, Some(3));
    assert_eq!(item.attributes["color"], "red");
    assert_eq!(item.updated_at, now());
    assert!(item.available());
}

#[test]
fn numbers_are_accepted_as_product_ids_and_nulls_as_absent() {
    let item = parse(json!({"product_id": 12345, "price": null, "stock": null})).unwrap();
    assert_eq!(item.product_id, "12345");
    assert_eq!((item.price, item.stock), (None, None));
    assert!(item.available(), "untracked stock counts as available");
    let item = parse(json!({"product_id": "p", "price": 0, "stock": 5.0})).unwrap();
    assert_eq!((item.price, item.stock), (Some(0.0), Some(5)));
}

#[test]
fn refuses_wrong_shapes_with_the_field_named() {
    let cases = [
        (json!("sku-1"), "", "expected a JSON object"),
        (json!({"name": "x"}), "product_id", "is missing"),
        (json!({"product_id": ""}), "product_id", "must not be empty"),
        (
            json!({"product_id": "  "}),
            "product_id",
            "must not be empty",
        ),
        (json!({"product_id": 1.5}), "product_id", "a whole number"),
        (json!({"product_id": ["a"]}), "product_id", "a string"),
        (
            json!({"product_id": "p", "name": 7}),
            "name",
            "expected a string",
        ),
        (
            json!({"product_id": "p", "attributes": [1]}),
            "attributes",
            "JSON object",
        ),
    ];
    for (value, field, message) in cases {
        let (f, m) = refusal(value.clone());
        assert_eq!(f, field, "{value}");
        assert!(m.contains(message), "{value}: {m}");
    }
    let (field, _) = refusal(json!({"product_id": "x".repeat(MAX_PRODUCT_ID_BYTES + 1)}));
    assert_eq!(field, "product_id");
    assert!(parse(json!({"product_id": "x".repeat(MAX_PRODUCT_ID_BYTES)})).is_ok());
}

#[test]
fn unknown_keys_are_refused_with_the_allowed_ones() {
    let (field, message) = refusal(json!({"product_id": "p", "colour": "red"}));
    assert_eq!(field, "colour");
    assert!(message.contains("product_id, name, url"), "{message}");
    assert!(message.contains("`attributes`"), "{message}");
    let (_, message) = refusal(json!({"product_id": "p", "in_stock": false}));
    assert!(message.contains("send `stock`"), "{message}");
    let (_, message) = refusal(json!({"product_id": "p", "updated_at": "2026-01-01T00:00:00Z"}));
    assert!(message.contains("set by Herald"), "{message}");
}

#[test]
fn refuses_bad_urls() {
    for url in [
        "/p/1",
        "shop.example/p/1",
        "ftp://shop.example/p/1",
        "javascript:alert(1)",
        "https://",
        "https:///p/1",
        "https://shop example/p",
        "https://:80/p",
    ] {
        let (field, message) = refusal(json!({"product_id": "p", "url": url}));
        assert_eq!(field, "url", "{url}");
        assert!(message.contains("absolute http(s) URL"), "{message}");
        let (field, _) = refusal(json!({"product_id": "p", "image_url": url}));
        assert_eq!(field, "image_url", "{url}");
    }
    for url in [
        "http://a.example",
        "https://user@a.example:8443/x#y",
        "https://a.example?q=1",
    ] {
        assert!(
            parse(json!({"product_id": "p", "url": url})).is_ok(),
            "{url}"
        );
    }
}

#[test]
fn refuses_bad_prices_currencies_and_stock() {
    for price in [
        json!(-1),
        json!("abc"),
        json!("NaN"),
        json!("inf"),
        json!("-0.5"),
        json!("1,99"),
        json!("$5"),
        json!("1.2.3"),
        json!(true),
        json!({"amount": 5}),
    ] {
        let (field, message) = refusal(json!({"product_id": "p", "price": price}));
        assert_eq!(field, "price", "{price}");
        assert!(message.contains("expected a number >= 0"), "{message}");
    }
    let (_, message) = refusal(json!({"product_id": "p", "price": "abc"}));
    assert_eq!(message, "`price`: expected a number >= 0, got \"abc\"");
    assert_eq!(
        parse(json!({"product_id": "p", "price": "-0"}))
            .unwrap()
            .price,
        Some(0.0)
    );
    for currency in [json!("EURO"), json!("E1R"), json!(978)] {
        let (field, _) = refusal(json!({"product_id": "p", "currency": currency}));
        assert_eq!(field, "currency", "{currency}");
    }
    for stock in [json!(-1), json!(2.5), json!("many"), json!("-3"), json!([])] {
        let (field, message) = refusal(json!({"product_id": "p", "stock": stock}));
        assert_eq!(field, "stock", "{stock}");
        assert!(message.contains("whole number >= 0"), "{message}");
    }
    assert_eq!(
        parse(json!({"product_id": "p", "stock": " 7 "}))
            .unwrap()
            .stock,
        Some(7)
    );
}

#[test]
fn long_values_are_cut_in_messages() {
    let (_, message) = refusal(json!({"product_id": "p", "price": "x".repeat(500)}));
    assert!(message.len() < 150, "{message}");
    assert!(message.ends_with("..."), "{message}");
}

#[test]
fn events_give_what_they_can() {
    let props = json!({
        "product_id": "sku-9",
        "sku": "ignored",
        "name": "Lamp",
        "price": "abc",
        "currency": "usd",
        "url": "not a url",
        "image_url": "https://cdn.example/lamp.png",
        "category": 5,
        "quantity": 2
    });
    let item = Item::from_event(props.as_object().unwrap(), now()).unwrap();
    assert_eq!(item.product_id, "sku-9");
    assert_eq!(item.name.as_deref(), Some("Lamp"));
    assert_eq!(item.price, None, "a bad price is ignored");
    assert_eq!(item.currency.as_deref(), Some("USD"));
    assert_eq!(item.url, None);
    assert_eq!(
        item.image_url.as_deref(),
        Some("https://cdn.example/lamp.png")
    );
    assert_eq!(item.category, None);
    assert!(item.attributes.is_empty());
    assert_eq!(item.stock, None);

    let by_sku = json!({"product_id": "", "sku": 42, "price": 3.5});
    let item = Item::from_event(by_sku.as_object().unwrap(), now()).unwrap();
    assert_eq!((item.product_id.as_str(), item.price), ("42", Some(3.5)));
    assert!(Item::from_event(json!({"name": "x"}).as_object().unwrap(), now()).is_none());
}

#[test]
fn json_has_present_fields_and_in_stock() {
    let mut item = parse(json!({"product_id": "p", "price": 5, "attributes": {"a": 1}})).unwrap();
    let v = item.to_json();
    assert_eq!(v["product_id"], "p");
    assert_eq!(v["price"], 5.0);
    assert_eq!(v["in_stock"], true);
    assert_eq!(v["attributes"]["a"], 1);
    assert_eq!(v["updated_at"], "2026-03-01T12:00:00Z");
    assert!(v.get("name").is_none(), "absent, not null");
    item.stock = Some(0);
    assert_eq!(item.to_json()["in_stock"], false);
    item.stock = Some(-2);
    assert!(!item.available());

    // What is stored reads back the same.
    let text = serde_json::to_string(&item).unwrap();
    assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), item);
}
