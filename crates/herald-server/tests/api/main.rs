//! The HTTP API, end to end over loopback: one server and one fresh store per test.

mod consent;
mod helpers;
mod ingest;
mod journeys;
mod profiles;
mod segments;
mod templates;
