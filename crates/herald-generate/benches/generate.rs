//! Generation throughput: events per second written into a sink.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_generate::{Options, write_ndjson};
use std::hint::black_box;

fn options() -> Options {
    let end = "2024-06-01T00:00:00Z".parse().expect("valid timestamp");
    Options::new(2_000, 90, 42, end)
}

fn generate(c: &mut Criterion) {
    let opts = options();
    // Criterion reports throughput per iteration, so measure the event count once up front.
    let events = write_ndjson(&opts, &mut std::io::sink())
        .expect("a sink never fails")
        .events;
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function("2000_profiles_90_days_to_sink", |b| {
        b.iter(|| write_ndjson(black_box(&opts), &mut std::io::sink()).expect("sink"));
    });
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
