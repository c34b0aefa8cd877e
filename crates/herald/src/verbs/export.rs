//! `herald export`: the event log as NDJSON, oldest first.

use herald_store::Store;
use herald_store_sqlite::Access;
use std::io::{BufWriter, Write};
use std::path::Path;

pub async fn run(dir: &Path, output: Option<&Path>) -> anyhow::Result<()> {
    let store = super::open(dir, Access::ReadOnly)?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut after = 0;
    loop {
        let events = store.scan_events(after, 10_000).await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        for e in &events {
            serde_json::to_writer(&mut out, &e.to_json())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
