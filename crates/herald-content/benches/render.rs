//! Rendering throughput: the library's `recommendations` email for one person with four
//! recommended products, subject, preheader, HTML and the derived text.
//!
//! `cargo bench -p herald-content --bench render` prints renders per second on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_content::{Channel, Context, TemplateSet, library, render};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

fn context() -> Context {
    serde_json::from_value(json!({
        "profile": { "id": "p_1", "traits": { "first_name": "Charlotte", "locale": "fr-FR",
                     "timezone": "Europe/Paris", "currency": "EUR" },
                     "segments": ["product_viewers", "loyal_customers"] },
        "journey": { "name": "browse_recommendations" },
        "message": { "id": "m_1" },
        "links": { "unsubscribe_url": "https://shop.example/u/abc",
                   "preferences_url": "https://shop.example/prefs/abc" },
        "shop": { "name": "Northwind", "url": "https://shop.example" },
        "recommendations": { "for_you": (1..=4).map(|i| json!({
            "name": format!("Linen Shirt {i}"), "price": 39.5 * i as f64,
            "url": format!("https://shop.example/p/{i}"),
            "image_url": format!("https://cdn.example/{i}.jpg") })).collect::<Vec<_>>() }
    }))
    .expect("context")
}

fn bench(c: &mut Criterion) {
    let set = TemplateSet::new(library()).expect("library");
    let template = set
        .get("recommendations", Channel::Email)
        .expect("recommendations email");
    let ctx = context();

    // A plain timing first, so the figure is printed whatever criterion's output mode.
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(render(template, black_box(&ctx)).expect("renders"));
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    println!("render recommendations email (4 items): {per_sec:.0} renders/s on one core");

    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    g.bench_function("recommendations_email", |b| {
        b.iter(|| render(template, black_box(&ctx)).expect("renders"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
