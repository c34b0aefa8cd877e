//! The shop end to end: a generated shop imported with its catalog (CSV, one bad record),
//! coupon codes imported from a file, and `herald serve` sending to a real SMTP server
//! (aiosmtpd). A price drop reaches someone who viewed the product recently as a `price_drop`
//! email with the new price, the scarcity line and similar items; a restock reaches someone else
//! as a `back_in_stock` email with a code from the pool, which a `Coupon Applied` then redeems.
//! "Recommended for you" leaves out what the person bought and what is sold out; the API answers
//! bad input with clear errors; and `herald recommend` / `recommend evaluate` print JSON.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(90);

/// The generated history, as the tests need it.
struct Shop {
    dir: PathBuf,
    /// product id → (name, price, category, url, image_url)
    products: HashMap<String, Value>,
    /// (userId, product id, timestamp) of every `Product Viewed` by a known user.
    views: Vec<(String, String, jiff::Timestamp)>,
    events: Vec<Value>,
}

fn d(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

/// A store with a generated shop, the segment, journey and template libraries, and a catalog
/// of every product seen in the events.
fn shop(tmp: &TempDir, profiles: &str, days: &str) -> Shop {
    let dir = tmp.path().join("store");
    init(&dir);
    let gen_file = tmp.path().join("gen.ndjson");
    ok(&run(&[
        "generate",
        "--profiles",
        profiles,
        "--days",
        days,
        "--seed",
        "11",
        "--output",
        gen_file.to_str().unwrap(),
    ]));
    ok(&run(&[
        "import",
        gen_file.to_str().unwrap(),
        "--data",
        d(&dir),
    ]));
    for (what, file) in [
        ("segments", "s.segments"),
        ("journeys", "j.journeys"),
        ("templates", "t.templates"),
    ] {
        let text = ok(&run(&[what, "library"]));
        let path = tmp.path().join(file);
        std::fs::write(&path, text).unwrap();
        ok(&run(&[
            what,
            "apply",
            path.to_str().unwrap(),
            "--data",
            d(&dir),
        ]));
    }
    let events: Vec<Value> = std::fs::read_to_string(&gen_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut products = HashMap::new();
    let mut views = Vec::new();
    for e in &events {
        if e["event"] != "Product Viewed" {
            continue;
        }
        let p = &e["properties"];
        let id = p["product_id"].as_str().unwrap().to_owned();
        products.entry(id.clone()).or_insert_with(|| p.clone());
        if let Some(user) = e["userId"].as_str() {
            let at: jiff::Timestamp = e["timestamp"].as_str().unwrap().parse().unwrap();
            views.push((user.to_owned(), id, at));
        }
    }
    let mut csv =
        String::from("product_id,name,price,currency,category,brand,url,image_url,stock,colour\n");
    let mut ids: Vec<&String> = products.keys().collect();
    ids.sort();
    for id in ids {
        let p = &products[id];
        csv.push_str(&format!(
            "{id},\"{}\",{},USD,{},\"{}\",{},{},50,blue\n",
            p["name"].as_str().unwrap(),
            p["price"],
            p["category"].as_str().unwrap(),
            p["brand"].as_str().unwrap(),
            p["url"].as_str().unwrap(),
            p["image_url"].as_str().unwrap(),
        ));
    }
    // One bad record: the rest are imported, and the exit status says so.
    csv.push_str("bad-1,Broken,not-a-price,USD,shoes,X,https://shop.example/x,,1,red\n");
    let file = tmp.path().join("catalog.csv");
    std::fs::write(&file, csv).unwrap();
    let o = run(&[
        "catalog",
        "import",
        file.to_str().unwrap(),
        "--data",
        d(&dir),
    ]);
    assert!(!o.status.success(), "a bad record must fail the import");
    let summary: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(summary["rejected"], 1, "{summary}");
    assert_eq!(summary["stored"], products.len() as u64, "{summary}");
    assert!(
        stderr(&o).contains("line") && stderr(&o).contains("price"),
        "{}",
        stderr(&o)
    );
    Shop {
        dir,
        products,
        views,
        events,
    }
}

/// The most recent viewer of a product viewed in the last `days` days by a known user, other
/// than `not`.
fn recently_viewed(shop: &Shop, days: i64, not: &[&str]) -> (String, String) {
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days);
    let (user, product, _) = shop
        .views
        .iter()
        .filter(|(u, p, at)| {
            *at > since && !not.contains(&u.as_str()) && !not.contains(&p.as_str())
        })
        .max_by_key(|(_, _, at)| *at)
        .expect("a recent view");
    (user.clone(), product.clone())
}

fn put_items(server: &Server, items: Value) -> Value {
    let (status, _, body) = http(
        "PUT",
        &server.url("/api/v1/catalog/items"),
        true,
        Some("application/json"),
        serde_json::to_vec(&json!({ "items": items })).unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The first mail to `to` whose subject contains `subject`.
fn mail_with(sink: &Sink, subject: &str, to: &str) -> Value {
    wait_for(&format!("a mail about `{subject}` to {to}"), LIMIT, || {
        sink.mails().iter().map(|m| read_mail(m, None)).find(|m| {
            m["subject"].as_str().unwrap_or_default().contains(subject)
                && m["to"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .contains(to)
        })
    })
}

#[test]
fn price_drops_restocks_coupons_and_recommendations() {
    let tmp = TempDir::new().unwrap();
    let shop = shop(&tmp, "300", "45");
    let (buyer, restocked) = recently_viewed(&shop, 20, &[]);
    let (viewer, dropped) = recently_viewed(&shop, 20, &[&buyer, &restocked]);

    let codes = tmp.path().join("codes.txt");
    let pool: Vec<String> = (0..50).map(|i| format!("RS-{i:05}")).collect();
    std::fs::write(&codes, format!("# restock pool\n{}\n", pool.join("\n"))).unwrap();
    ok(&run(&[
        "offers",
        "put",
        "restock",
        "--data",
        d(&shop.dir),
        "--valid-days",
        "10",
        "--low-water",
        "100",
        "--attr",
        "percent_off=12",
    ]));
    ok(&run(&[
        "offers",
        "codes",
        "restock",
        codes.to_str().unwrap(),
        "--data",
        d(&shop.dir),
    ]));

    let sink = Sink::start(&tmp.path().join("mail"), 0);
    let smtp = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let server = Server::start_with(
        &shop.dir,
        "127.0.0.1:0",
        &[
            ("HERALD_SMTP_URL", smtp.as_str()),
            ("HERALD_EMAIL_FROM", "Shop <news@shop.example>"),
            ("HERALD_PUBLIC_URL", "http://127.0.0.1:9"),
        ],
    );
    wait_for("the recommendation model", LIMIT, || {
        let v = admin_get(
            &server.base,
            &format!("/api/v1/profiles/{buyer}/recommendations?n=5"),
        );
        (v["ready"] == true).then_some(v)
    });
    // Sold out: never recommended, even to someone who just looked at it.
    let p = shop.products[&restocked].clone();
    let mut restock = json!({"product_id": restocked, "name": p["name"], "price": p["price"],
        "currency": "USD", "category": p["category"], "url": p["url"], "image_url": p["image_url"],
        "stock": 0});
    let report = put_items(&server, json!([restock.clone()]));
    assert_eq!(
        (report["stored"].as_u64(), report["events"].as_u64()),
        (Some(1), Some(0))
    );
    let recs = admin_get(
        &server.base,
        &format!("/api/v1/profiles/{buyer}/recommendations?n=5"),
    );
    let items = recs["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{recs}");
    let profile = admin_get(&server.base, &format!("/api/v1/profiles/{buyer}"));
    let mut ids: HashSet<&str> = profile["anonymous_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    ids.insert(buyer.as_str());
    let bought: HashSet<&str> = shop
        .events
        .iter()
        .filter(|e| e["event"] == "Order Completed")
        .filter(|e| {
            [&e["userId"], &e["anonymousId"]]
                .iter()
                .any(|i| i.as_str().is_some_and(|i| ids.contains(i)))
        })
        .flat_map(|e| e["properties"]["products"].as_array().unwrap().iter())
        .map(|p| p["product_id"].as_str().unwrap())
        .collect();
    for item in items {
        let id = item["product_id"].as_str().unwrap();
        assert!(!bought.contains(id), "recommended a bought product {id}");
        assert_ne!(id, restocked, "recommended a sold-out product");
        assert!(
            item["name"].is_string() && item["in_stock"] == true,
            "{item}"
        );
    }
    let similar = admin_get(
        &server.base,
        &format!("/api/v1/catalog/items/{dropped}/similar?n=3"),
    );
    assert_eq!(similar["items"].as_array().unwrap().len(), 3, "{similar}");

    // A price drop (and low stock) for a product the viewer looked at recently.
    let before = &shop.products[&dropped];
    let new_price = (before["price"].as_f64().unwrap() * 0.7 * 100.0).round() / 100.0;
    let mut item = json!({"product_id": dropped, "name": before["name"], "price": new_price,
        "currency": "USD", "category": before["category"], "brand": before["brand"],
        "url": before["url"], "image_url": before["image_url"], "stock": 3,
        "attributes": {"colour": "blue"}});
    let report = put_items(&server, json!([item.clone()]));
    assert_eq!(report["price_dropped"], 1, "{report}");
    assert!(report["events"].as_u64().unwrap() >= 1, "{report}");
    let address = admin_get(&server.base, &format!("/api/v1/profiles/{viewer}"))["traits"]["email"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    let mail = mail_with(&sink, "Price drop", &address);
    let html = mail["html"].as_str().unwrap();
    let name = before["name"].as_str().unwrap();
    assert!(
        mail["subject"].as_str().unwrap().contains(name),
        "{}",
        mail["subject"]
    );
    assert!(html.contains(&format!("${new_price:.2}")), "{html}");
    assert!(html.contains("Only 3 left"), "{html}");
    assert!(html.contains("You might also like"), "{html}");
    // The same update again changes nothing and raises nothing.
    item["stock"] = json!(3);
    let again = put_items(&server, json!([item]));
    assert_eq!(
        (again["stored"].as_u64(), again["events"].as_u64()),
        (Some(0), Some(0))
    );

    // The sold-out product comes back: its recent viewer gets a code from the pool.
    restock["stock"] = json!(40);
    let report = put_items(&server, json!([restock]));
    assert_eq!(report["back_in_stock"], 1, "{report}");
    let address = admin_get(&server.base, &format!("/api/v1/profiles/{buyer}"))["traits"]["email"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    let mail = mail_with(&sink, "It's back", &address);
    let html = mail["html"].as_str().unwrap();
    let code = pool
        .iter()
        .find(|c| html.contains(c.as_str()))
        .unwrap_or_else(|| panic!("no pool code in {html}"));
    assert!(html.contains("12% off"), "{html}");
    let coupons = admin_get(&server.base, &format!("/api/v1/profiles/{buyer}/coupons"));
    assert_eq!(coupons["coupons"][0]["code"], code.as_str(), "{coupons}");
    ingest(
        &server.base,
        vec![
            json!({"type": "track", "userId": buyer, "event": "Coupon Applied",
                    "messageId": "coupon-applied-1", "properties": {"coupon_id": code}}),
        ],
    );
    let offer = wait_for("the redemption", LIMIT, || {
        let o = admin_get(&server.base, "/api/v1/offers/restock");
        (o["counts"]["redeemed"] == 1).then_some(o)
    });
    let assigned = offer["counts"]["assigned"].as_u64().unwrap();
    assert!(assigned >= 1, "{offer}");
    assert_eq!(offer["counts"]["available"], 50 - assigned, "{offer}");
    assert_eq!(offer["running_low"], true, "{offer}");
    // Every recent viewer got one code, and nobody the same one.
    let coupons: Vec<String> = shop
        .events
        .iter()
        .filter_map(|e| e["userId"].as_str().map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .flat_map(|u| {
            admin_get(&server.base, &format!("/api/v1/profiles/{u}/coupons"))["coupons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(coupons.len() as u64, assigned);
    assert_eq!(coupons.iter().collect::<HashSet<_>>().len(), coupons.len());
    server.stop();
    drop(sink);

    // The command line, on the same store.
    let out = ok(&run(&[
        "recommend",
        &viewer,
        "--data",
        d(&shop.dir),
        "--n",
        "3",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["profile"], viewer.as_str());
    let o = run(&["recommend", "nobody-at-all", "--data", d(&shop.dir)]);
    assert!(
        !o.status.success() && stderr(&o).contains("nobody is known"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn evaluation_beats_the_popularity_baseline() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("store");
    init(&dir);
    let gen_file = tmp.path().join("gen.ndjson");
    ok(&run(&[
        "generate",
        "--profiles",
        "1500",
        "--days",
        "120",
        "--seed",
        "3",
        "--output",
        gen_file.to_str().unwrap(),
    ]));
    ok(&run(&[
        "import",
        gen_file.to_str().unwrap(),
        "--data",
        d(&dir),
    ]));
    let out = ok(&run(&[
        "recommend",
        "evaluate",
        "--data",
        d(&dir),
        "--holdout-days",
        "14",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    eprintln!("{v}");
    let metric = |who: &str, m: &str| {
        v[who][m]
            .as_f64()
            .unwrap_or_else(|| panic!("{who}.{m} in {v}"))
    };
    assert!(v["test_profiles"].as_u64().unwrap() > 50, "{v}");
    assert!(
        metric("herald", "hit_rate_at_10") > metric("popularity", "hit_rate_at_10"),
        "{v}"
    );
    assert!(
        metric("herald", "ndcg_at_10") > metric("popularity", "ndcg_at_10"),
        "{v}"
    );
    let o = run(&[
        "recommend",
        "evaluate",
        "--data",
        d(&dir),
        "--holdout-days",
        "0",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("--holdout-days"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn catalog_and_offer_endpoints_refuse_bad_input() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("store");
    init(&dir);
    let server = Server::start(&dir);
    let put = |body: &[u8]| {
        let (status, _, text) = http(
            "PUT",
            &server.url("/api/v1/catalog/items"),
            true,
            Some("application/json"),
            body.to_vec(),
        );
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v)
    };
    let (s, v) = put(b"{\"items\": [");
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_json")), "{v}");
    let (s, v) = put(b"{\"itemz\": []}");
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (s, v) = put(b"{\"items\": []}");
    assert_eq!(s, 400, "{v}");
    let (s, v) = put(
        br#"{"items": [{"product_id": "a", "price": 1}, {"product_id": "b", "price": "cheap"}, {"name": "no id"}]}"#,
    );
    assert_eq!((s, v["code"].as_str()), (422, Some("invalid_item")), "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("items[1]") && message.contains("items[2]"),
        "{message}"
    );
    // Nothing of a refused batch was stored.
    let (s, _, _) = http(
        "GET",
        &server.url("/api/v1/catalog/items/a"),
        true,
        None,
        vec![],
    );
    assert_eq!(s, 404);
    let (s, v) = put(br#"{"items": [{"product_id": "a", "prcie": 1}]}"#);
    assert_eq!(s, 422, "{v}");
    assert!(v["message"].as_str().unwrap().contains("prcie"), "{v}");
    // A gzip bomb: small on the wire, far over the limit inflated.
    let bomb = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
        gz.finish().unwrap()
    };
    let (status, code) = block_on(async {
        let r = client()
            .put(server.url("/api/v1/catalog/items"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-encoding", "gzip")
            .body(bomb)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        (status, body["code"].as_str().map(str::to_owned))
    });
    assert_eq!((status, code.as_deref()), (400, Some("body_too_large")));
    // Without the admin token.
    let (s, _, _) = http(
        "PUT",
        &server.url("/api/v1/catalog/items"),
        false,
        Some("application/json"),
        b"{\"items\": [{\"product_id\": \"a\"}]}".to_vec(),
    );
    assert_eq!(s, 401);
    let good = put(br#"{"items": [{"product_id": "a", "name": "A", "price": 1.5, "stock": 2}]}"#);
    assert_eq!(good.0, 200, "{}", good.1);
    let item = admin_get(&server.base, "/api/v1/catalog/items/a");
    assert_eq!(
        (item["price"].as_f64(), item["in_stock"].as_bool()),
        (Some(1.5), Some(true))
    );

    let (s, _, text) = http(
        "GET",
        &server.url("/api/v1/profiles/nobody/recommendations?n=5"),
        true,
        None,
        vec![],
    );
    assert_eq!(s, 404, "{text}");
    let (s, _, text) = http(
        "GET",
        &server.url("/api/v1/catalog/items/a/similar?n=0"),
        true,
        None,
        vec![],
    );
    assert_eq!(s, 400, "{text}");
    let (s, _, text) = http(
        "GET",
        &server.url("/api/v1/catalog/items/a/similar?count=3"),
        true,
        None,
        vec![],
    );
    assert_eq!(s, 400, "{text}");

    let offer = |name: &str, body: &str| {
        let (s, _, text) = http(
            "PUT",
            &server.url(&format!("/api/v1/offers/{name}")),
            true,
            Some("application/json"),
            body.as_bytes().to_vec(),
        );
        (s, text)
    };
    assert_eq!(offer("Bad Name", "{}").0, 400);
    let (s, text) = offer("short", r#"{"pattern": "X-{XX}"}"#);
    assert_eq!(s, 400, "{text}");
    let (s, text) = offer("cart", r#"{"pattern": "CART-{XXXXXX}", "valid_dayz": 7}"#);
    assert!(s == 400 && text.contains("valid_dayz"), "{text}");
    let (s, text) = offer("cart", r#"{"pattern": "CART-{XXXXXX}", "valid_days": 7}"#);
    assert_eq!(s, 200, "{text}");
    let codes = |name: &str, body: &str| {
        http(
            "POST",
            &server.url(&format!("/api/v1/offers/{name}/codes")),
            true,
            Some("application/json"),
            body.as_bytes().to_vec(),
        )
        .0
    };
    assert_eq!(codes("missing", r#"{"codes": ["A1"]}"#), 404);
    assert_eq!(
        codes("cart", r#"{"codes": ["A1"]}"#),
        400,
        "a pattern pool takes no codes"
    );
    assert_eq!(offer("pool", "{}").0, 200);
    assert_eq!(codes("pool", r#"{"codes": ["ok-1", "not ok"]}"#), 400);
    assert_eq!(codes("pool", r#"{"codes": "A1"}"#), 400);
    assert_eq!(codes("pool", r#"{"codes": ["ok-1", "ok-2"]}"#), 200);
    let pool = admin_get(&server.base, "/api/v1/offers/pool");
    assert_eq!(pool["counts"]["available"], 2, "{pool}");
    server.stop();
}
