//! `herald generate`: realistic shop NDJSON.

use anyhow::Context;
use herald_generate::{Options, default_end, write_ndjson};
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn parse_end(end: Option<&str>) -> anyhow::Result<jiff::Timestamp> {
    match end {
        None => Ok(default_end()),
        Some("now") => Ok(jiff::Timestamp::now()),
        Some(s) => herald_core::time::parse_timestamp(s).with_context(|| format!("--end {s}")),
    }
}

pub fn run(
    profiles: u64,
    days: u32,
    seed: u64,
    end: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let opts = Options::new(profiles, days, seed, parse_end(end)?);
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("could not create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock())),
    };
    let summary = match write_ndjson(&opts, &mut out) {
        Ok(s) => s,
        // `herald generate | head` closes the pipe early: that is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    eprintln!(
        "generated {} events for {} profiles ({} identified, {} orders)",
        summary.events, summary.profiles, summary.identified, summary.orders
    );
    Ok(())
}
