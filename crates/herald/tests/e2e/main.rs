//! The `herald` binary end to end: CLI verbs, a real Segment SDK against `herald serve`, and
//! `kill -9` in the middle of a load.

mod cli;
mod common;
mod crash;
mod journeys;
mod journeys_crash;
mod messages;
mod sdk;
mod segments;
mod shop;
