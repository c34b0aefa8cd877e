//! Command-line arguments. External checks use these verbs and flags exactly.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Behavioral segmentation and lifecycle messaging in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct DataDir {
    /// The store's directory.
    #[arg(
        long = "data",
        value_name = "DIR",
        env = "HERALD_DATA",
        default_value = "./herald-data"
    )]
    pub dir: PathBuf,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a store; prints {"write_key": ..., "admin_token": ...} once.
    Init {
        #[command(flatten)]
        data: DataDir,
        /// Write key for the default source (random when absent).
        #[arg(long, env = "HERALD_WRITE_KEY", hide_env_values = true)]
        write_key: Option<String>,
        /// Read the write key from a file.
        #[arg(long, env = "HERALD_WRITE_KEY_FILE", conflicts_with = "write_key")]
        write_key_file: Option<PathBuf>,
        /// Admin token for the management API (random when absent). Only its hash is stored.
        #[arg(long, env = "HERALD_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Read the admin token from a file.
        #[arg(long, env = "HERALD_ADMIN_TOKEN_FILE", conflicts_with = "admin_token")]
        admin_token_file: Option<PathBuf>,
    },
    /// Serve the ingest and management APIs until SIGINT/SIGTERM.
    Serve {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Import NDJSON Segment messages, or CSV/whitespace files with --mapping. FILE `-` is stdin.
    Import {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// TOML mapping for CSV or whitespace-separated files (see examples/cdnow.toml).
        #[arg(long, value_name = "FILE.toml")]
        mapping: Option<PathBuf>,
    },
    /// Write realistic shop NDJSON (deterministic per seed and end).
    Generate {
        #[arg(long, default_value_t = 1000)]
        profiles: u64,
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// End of the generated period (RFC 3339); default: the start of today (UTC).
        #[arg(long)]
        end: Option<String>,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Generate a shop, ingest it, show what is there, and serve.
    Demo {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 2000)]
        profiles: u64,
        #[arg(long, default_value_t = 400)]
        days: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stop after showing what is there instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Print {"events": N, "profiles": M}.
    Stats {
        #[command(flatten)]
        data: DataDir,
    },
    /// Write the whole event log as NDJSON, oldest first.
    Export {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Define segments and look at their members.
    #[command(subcommand)]
    Segments(SegmentsCommand),
    /// Define journeys (what happens after a trigger), look at them, backtest them.
    #[command(subcommand)]
    Journeys(JourneysCommand),
    /// The messages journeys decided to send.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Message templates: apply, list, preview for a real person.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// The product catalog: import items (CSV or NDJSON), list them.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print "recommended for you" for a person as JSON, or `evaluate` recommendations
    /// against a popularity baseline on held-out purchases.
    Recommend(RecommendArgs),
    /// Offers (coupon pools): define them, add codes, see how many are left.
    #[command(subcommand)]
    Offers(OffersCommand),
}

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Store the items of FILE (`.csv` with a header row including product_id, or `.ndjson`
    /// with one item object per line); prints a JSON summary. Bad records are reported with
    /// their line and skipped; the exit status is then non-zero.
    Import {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print catalog items as JSON lines, by product_id.
    List {
        #[command(flatten)]
        data: DataDir,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RecommendArgs {
    #[command(subcommand)]
    pub command: Option<RecommendCommand>,
    /// The person (userId or anonymousId).
    #[arg(required = true)]
    pub id: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
    /// How many items.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
}

#[derive(Subcommand)]
pub enum RecommendCommand {
    /// Train on the history before the last N days, recommend 10 items to everyone who buys in
    /// those days, and print hit rate and NDCG at 10 for Herald and for a popularity baseline.
    Evaluate {
        #[command(flatten)]
        data: DataDir,
        /// Length of the held-out period at the end of the history, in days.
        #[arg(long)]
        holdout_days: u32,
        /// End of the history (RFC 3339); default: the newest event.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum OffersCommand {
    /// Define or replace an offer. Without --pattern its codes are imported with `offers codes`.
    Put {
        /// Lowercase letters, digits and `_`; templates read it as `offers.NAME`.
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// Make a unique code per person from a pattern, e.g. `CART-{XXXXXX}`.
        #[arg(long)]
        pattern: Option<String>,
        /// Days an assigned code stays valid.
        #[arg(long)]
        valid_days: Option<u32>,
        /// No codes are given out after this (RFC 3339).
        #[arg(long)]
        ends_at: Option<String>,
        /// Report the pool as running low below this many available codes.
        #[arg(long)]
        low_water: Option<u64>,
        /// Shown to templates, e.g. `--attr percent_off=10` (numbers stay numbers).
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// Add the codes in FILE (one per line; blank lines and `#` comments skipped) to an offer.
    Codes {
        name: String,
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print each offer with its counts as JSON lines; pools running low are flagged.
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// Print the template library (every template the journey library sends), ready for
    /// `templates apply`.
    Library,
    /// Validate and store the templates in FILE (the template text form); a changed template
    /// gets a new version.
    Apply {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Only say what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// One line per live template: `name<TAB>channel<TAB>version`.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Render a live template for a person (userId or anonymousId) and print it as JSON.
    Preview {
        name: String,
        id: String,
        #[command(flatten)]
        data: DataDir,
        /// email, sms, push or webhook (default: the template's only channel, else email).
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum JourneysCommand {
    /// Print the journey library (and its messaging rules) in the text form, ready for
    /// `journeys apply`.
    Library,
    /// Validate and apply the journeys and rules in FILE (text, or the JSON form). Changed
    /// journeys get a new version; running instances finish on theirs.
    Apply {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Only say what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print each live journey as JSON: version, running instances and per-step counts.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Move running instances of older versions of a journey to its live version (each to the
    /// step at the same place, when it is of the same kind); prints one JSON line per instance.
    Migrate {
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// Only say what would happen.
        #[arg(long)]
        dry_run: bool,
    },
    /// Replay stored history from --from to --to through journeys with a simulated clock
    /// (segments included) and print one JSON line per action, then a summary line. Nothing
    /// is sent.
    Backtest {
        /// A journeys file (text or JSON), or the name of a stored or library journey.
        journey: String,
        #[command(flatten)]
        data: DataDir,
        /// Start of the period (RFC 3339).
        #[arg(long)]
        from: String,
        /// End of the period (RFC 3339); default now.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum MessagesCommand {
    /// Print the outbox as JSON lines, oldest first.
    List {
        #[command(flatten)]
        data: DataDir,
        /// Only this person's (userId or anonymousId).
        #[arg(long)]
        profile: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Only messages after this outbox position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Only queued messages whose delivery is pending, delivered, suppressed or failed (the
        /// dead-letter list); not with --profile.
        #[arg(long, conflicts_with = "profile")]
        state: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum SegmentsCommand {
    /// Print the behavioral segment library in the text form, ready for `segments apply`.
    Library,
    /// Validate, preview and apply the segments in FILE (text, or JSON: one definition or an array).
    Apply {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Only print the preview.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print each segment's name and size.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the members' ids (userId, else anonymousId), one per line, sorted.
    Members {
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// Membership as of this instant (RFC 3339), counting only events at or before it.
        #[arg(long)]
        at: Option<String>,
    },
    /// Show which conditions hold for a profile, with the values and events behind them.
    Explain {
        name: String,
        id: String,
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        at: Option<String>,
    },
}

impl Command {
    pub fn is_server(&self) -> bool {
        matches!(self, Command::Serve { .. } | Command::Demo { .. })
    }
}
