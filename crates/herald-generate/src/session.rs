//! A person's day on the site: when they visit, what kind of visit it is, and the lifecycle moments
//! that happen in visits (signing up, a trial ending).
//!
//! Visits start at plausible local hours (people browse at lunch and in the evening, rarely at 4am)
//! and never overlap, so one person's events read as a believable sequence. The content of a visit
//! lives in [`crate::shop`] and [`crate::content`].

use crate::clock::{DAY, HOUR, MINUTE, SECOND};
use crate::content;
use crate::email;
use crate::generator::Ctx;
use crate::json::Obj;
use crate::person::{Person, Plan, Source};
use crate::persona::{Persona, Signup, Usage, Visit};
use crate::shop;
use crate::timeline::Kind;

/// The shop's origin, prefixed to every page path.
pub(crate) const ORIGIN: &str = "https://shop.example";

/// Relative chance of a visit starting in each local hour: a lunch bump, an evening peak.
const HOUR_WEIGHTS: [u32; 24] = [
    2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 11, 13, 12, 11, 10, 10, 11, 14, 17, 18, 16, 11, 5,
];

/// More visits than this in a day would be a bot, not a person.
const MAX_VISITS_PER_DAY: u32 = 4;

/// Trial length, in days.
pub(crate) const TRIAL_DAYS: u32 = 14;

/// One `page` call.
pub(crate) struct Page<'a> {
    pub name: &'static str,
    /// Path below the origin, written as the concatenation of these parts.
    pub path: [&'a str; 2],
    /// Title before the site name; empty for the bare site name.
    pub title: &'a str,
    pub referrer: Option<&'static str>,
    /// The email campaign that brought the visitor, if any.
    pub campaign: Option<&'a str>,
}

impl<'a> Page<'a> {
    pub(crate) fn new(name: &'static str, path: [&'a str; 2], title: &'a str) -> Self {
        Page {
            name,
            path,
            title,
            referrer: None,
            campaign: None,
        }
    }
}

/// Simulates one day of a person who has already discovered the shop (or is a customer).
pub(crate) fn live_day(p: &mut Person, ctx: &mut Ctx<'_>) {
    let rate = p.visit_rate();
    // Visits keep ten minutes apart; before the first one, nothing is in the way.
    let mut free_from = ctx.day_start - 10 * MINUTE;
    if p.state.trial_ends == Some(ctx.day) {
        // The billing job runs as the day begins, so the day's usage already carries the new plan.
        let t = ctx.day_start + p.rng.between(SECOND, 10 * MINUTE);
        end_trial(p, ctx, t);
        free_from = t;
    }
    let returning = p
        .state
        .cart
        .as_ref()
        .is_some_and(|c| c.return_day == Some(ctx.day));
    if returning {
        let t = local_time(p, ctx);
        free_from = shop::return_to_cart(p, ctx, t);
    }
    let mut visits = p.rng.poisson(rate);
    if ctx.day == p.first_day && p.state.visits == 0 && p.signup != Signup::Existing {
        // The day someone discovers the shop is the day of their first visit.
        visits = visits.max(1);
    }
    let mut starts = [0i64; MAX_VISITS_PER_DAY as usize];
    let starts = &mut starts[..visits.min(MAX_VISITS_PER_DAY) as usize];
    for s in starts.iter_mut() {
        *s = local_time(p, ctx);
    }
    starts.sort_unstable();
    for &start in starts.iter() {
        let start = start.max(free_from + 10 * MINUTE);
        free_from = visit(p, ctx, start);
    }
}

/// A moment of today's window day at a plausible local hour for the person.
pub(crate) fn local_time(p: &mut Person, ctx: &Ctx<'_>) -> i64 {
    let hour = p.rng.weighted(&HOUR_WEIGHTS) as i64;
    let local = hour * HOUR + p.rng.below(HOUR as u64) as i64;
    let utc = local - p.profile.zone.offset_minutes * MINUTE;
    // The window's days need not start at UTC midnight, so place the time of day within it.
    let into_day = (utc - ctx.day_start).rem_euclid(DAY).max(SECOND);
    ctx.day_start + into_day
}

/// A pause of `lo..=hi` seconds, with millisecond jitter so events rarely share a timestamp.
pub(crate) fn pause(p: &mut Person, lo: i64, hi: i64) -> i64 {
    p.rng.between(lo * SECOND, hi * SECOND)
}

/// One visit starting at `t`; returns when it ends.
fn visit(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) -> i64 {
    p.state.visits += 1;
    let signs_up_now = match p.signup {
        Signup::During { session } => !p.state.known && p.state.visits >= session,
        _ => false,
    };
    match p.persona.draw_visit(&mut p.rng) {
        Visit::Shop => shop::visit(p, ctx, t, signs_up_now),
        Visit::Content => content::read(p, ctx, t, signs_up_now),
        Visit::App => content::use_app(p, ctx, t, signs_up_now),
    }
}

/// Writes a `page` call.
pub(crate) fn page(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, page: &Page<'_>) {
    let [a, b] = page.path;
    let title = page.title;
    let zone = p.profile.zone.name;
    p.emit(ctx, t, Kind::Page, Source::Browser, 0, |o| {
        o.str("name", page.name).obj("properties", |props| {
            props
                .text("path", |s| {
                    s.push_str(a);
                    s.push_str(b);
                })
                .text("url", |s| {
                    s.push_str(ORIGIN);
                    s.push_str(a);
                    s.push_str(b);
                });
            if title.is_empty() {
                props.str("title", "Herald Shop");
            } else {
                props.text("title", |s| {
                    s.push_str(title);
                    s.push_str(" | Herald Shop");
                });
            }
            if let Some(referrer) = page.referrer {
                props.str("referrer", referrer);
            }
        });
        browser_context(o, zone, page.campaign);
    });
}

/// Writes a browser-side `track` call with the properties `props` fills.
pub(crate) fn track(
    p: &mut Person,
    ctx: &mut Ctx<'_>,
    t: i64,
    event: &'static str,
    props: impl FnOnce(&mut Obj<'_>),
) {
    let zone = p.profile.zone.name;
    p.emit(ctx, t, Kind::Track, Source::Browser, 0, |o| {
        o.str("event", event).obj("properties", props);
        browser_context(o, zone, None);
    });
}

/// Writes a server-side `track` call (orders, trials, email), which carries no browser context.
pub(crate) fn server_track(
    p: &mut Person,
    ctx: &mut Ctx<'_>,
    t: i64,
    event: &'static str,
    flags: u8,
    props: impl FnOnce(&mut Obj<'_>),
) {
    p.emit(ctx, t, Kind::Track, Source::Server, flags, |o| {
        o.str("event", event).obj("properties", props);
    });
}

/// The `context` analytics.js adds: library, time zone, and the UTM campaign of email visits.
fn browser_context(o: &mut Obj<'_>, zone: &str, campaign: Option<&str>) {
    o.obj("context", |c| {
        c.obj("library", |l| {
            l.str("name", "analytics.js").str("version", "5.2.1");
        })
        .str("timezone", zone);
        if let Some(campaign) = campaign {
            c.obj("campaign", |utm| {
                utm.str("name", campaign)
                    .str("source", "email")
                    .str("medium", "email");
            });
        }
    });
}

/// The sign-up flow: the form page, the `identify` that turns the anonymous browser into a known
/// customer, `Signed Up`, and for trial users `Trial Started`. Returns when it is done.
pub(crate) fn sign_up(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) -> i64 {
    page(
        p,
        ctx,
        t,
        &Page::new("Sign Up", ["/signup", ""], "Create your account"),
    );
    let t = t + pause(p, 20, 120);
    let b = p.persona.behaviour();
    p.state.known = true;
    p.state.created_at = t;
    p.state.plan = if p.persona == Persona::TrialUser {
        Plan::Trial
    } else {
        Plan::Free
    };
    p.state.subscribed = p.rng.chance(b.subscribe);
    p.state.last_open_day = i64::from(ctx.day);
    p.identify(ctx, t, Source::Browser);
    let t = t + pause(p, 0, 1) + 300;
    let method = p.rng.pick(&["email", "email", "google", "apple"]);
    let plan = p.state.plan;
    track(p, ctx, t, "Signed Up", |o| {
        o.str("method", method).str("plan", plan.as_str());
    });
    if plan == Plan::Trial {
        p.state.trial_ends = Some(ctx.day + TRIAL_DAYS);
        server_track(p, ctx, t + 500, "Trial Started", 0, |o| {
            o.str("trial_plan", "pro")
                .int("trial_days", i64::from(TRIAL_DAYS));
        });
    }
    if p.state.subscribed {
        let at = t + pause(p, 60, 600);
        email::welcome(p, ctx, at);
    }
    t + pause(p, 5, 30)
}

/// The end of a trial: converted or back to the free plan, depending on how much the app was used.
fn end_trial(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) {
    p.state.trial_ends = None;
    let chance = match p.usage {
        Usage::Light => 0.15,
        Usage::Mid => 0.35,
        Usage::Heavy => 0.6,
    };
    let converted = p.rng.chance(chance);
    server_track(p, ctx, t, "Trial Ended", 0, |o| {
        o.str("trial_plan", "pro").bool("converted", converted);
    });
    let plan = if converted { Plan::Pro } else { Plan::Free };
    p.update_plan(ctx, t + 200, plan);
}
