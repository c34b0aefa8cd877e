//! Marketing email: the campaign calendar, deliveries, opens, clicks and unsubscribes.
//!
//! Subscribers get one or two campaigns a week (a weekly newsletter, alternating sales and new
//! arrivals, a monthly win-back for lapsed buyers) plus a welcome email on sign-up. Reactions
//! follow each person's habits: opens come minutes to days after delivery, clicks point at products
//! in categories the person (or the campaign) cares about and often lead to a visit, and some
//! subscribers stop opening altogether, which is what an "inactive subscribers" segment looks for.

use crate::catalog::{CATEGORY_COUNT, category_names};
use crate::clock::{DAY, Date, HOUR, MINUTE, SECOND};
use crate::generator::Ctx;
use crate::json::Obj;
use crate::person::Person;
use crate::session::{pause, server_track};
use crate::shop::{self, write_url};

/// Days since the last order after which a buyer counts as lapsed.
const LAPSED_AFTER_DAYS: i64 = 60;
/// Days without an open after which the email platform stops sending to someone (a sunset policy:
/// they stay in "inactive subscriber" segments for months first).
const SUNSET_AFTER_DAYS: i64 = 120;
/// Chance that an opened email leads to an unsubscribe.
const UNSUBSCRIBE: f64 = 0.01;
/// Chance that a click is followed by a visit to the linked product.
const CLICK_THROUGH: f64 = 0.6;

/// Who a campaign goes to, among subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audience {
    Everyone,
    /// Those who like the featured category, and some others.
    Fans,
    /// Buyers whose last order is long ago.
    Lapsed,
}

enum Subject {
    Fixed(String),
    /// The recipient's first name followed by this text.
    Greeting(&'static str),
}

/// One send of a campaign.
pub(crate) struct Campaign {
    id: &'static str,
    name: &'static str,
    email_id: String,
    subject: Subject,
    /// Category the email features and mostly links to.
    featured: usize,
    audience: Audience,
    send_at: i64,
}

/// The campaigns sent on the window day starting at `day_start`. The calendar follows the real
/// date, so the same date sends the same campaigns whatever the window.
pub(crate) fn calendar(day_start: i64, seed: u64) -> Vec<Campaign> {
    // Sends go out at 14:00 UTC, whenever in that instant's day the window's days begin.
    let send_at = day_start + (14 * HOUR - day_start).rem_euclid(DAY).max(SECOND);
    let date = Date::of(send_at);
    let week = send_at.div_euclid(7 * DAY);
    let featured = ((week as u64).wrapping_add(seed) % CATEGORY_COUNT as u64) as usize;
    let (_, title) = category_names(featured);
    let email_id = |id: &str| {
        let mut s = format!("{id}-");
        date.write(&mut s);
        s
    };
    let mut out = Vec::new();
    match Date::weekday(send_at) {
        1 => out.push(Campaign {
            id: "weekly_newsletter",
            name: "Weekly Newsletter",
            email_id: email_id("weekly_newsletter"),
            subject: Subject::Fixed(format!("This week: our favourite {title} picks")),
            featured,
            audience: Audience::Everyone,
            send_at,
        }),
        4 if week % 4 == 0 => {
            let (id, name) = sale(date.month);
            out.push(Campaign {
                id,
                name,
                email_id: email_id(id),
                subject: Subject::Fixed(format!("{name}: up to 30% off {title}")),
                featured,
                audience: Audience::Everyone,
                send_at,
            });
        }
        4 if week % 4 == 2 => {
            let featured = (featured + 3) % CATEGORY_COUNT;
            let (_, title) = category_names(featured);
            out.push(Campaign {
                id: "new_arrivals",
                name: "New Arrivals",
                email_id: email_id("new_arrivals"),
                subject: Subject::Fixed(format!("Just landed in {title}")),
                featured,
                audience: Audience::Fans,
                send_at,
            });
        }
        0 if date.day <= 7 => out.push(Campaign {
            id: "winback",
            name: "Win-back",
            email_id: email_id("winback"),
            subject: Subject::Greeting(", we miss you: 15% off your next order"),
            featured,
            audience: Audience::Lapsed,
            send_at,
        }),
        _ => {}
    }
    out
}

/// The seasonal sale running in a month.
fn sale(month: u32) -> (&'static str, &'static str) {
    match month {
        1 | 2 => ("new_year_sale", "New Year Sale"),
        3..=5 => ("spring_sale", "Spring Sale"),
        6..=8 => ("summer_sale", "Summer Sale"),
        9 | 10 => ("fall_sale", "Fall Sale"),
        11 => ("black_friday", "Black Friday"),
        _ => ("holiday_sale", "Holiday Sale"),
    }
}

/// Sends `campaign` to the person if they are a subscriber in its audience.
pub(crate) fn deliver(p: &mut Person, ctx: &mut Ctx<'_>, campaign: &Campaign) {
    let day = i64::from(ctx.day);
    if !p.state.known || !p.state.subscribed || day - p.state.last_open_day > SUNSET_AFTER_DAYS {
        return;
    }
    let wanted = match campaign.audience {
        Audience::Everyone => true,
        Audience::Fans => p.profile.likes(campaign.featured) || p.rng.chance(0.3),
        Audience::Lapsed => p
            .state
            .last_order_day
            .is_some_and(|d| day - d >= LAPSED_AFTER_DAYS),
    };
    // A large send takes a while to go out; people who sign up later today miss it.
    let t = campaign.send_at + p.rng.between(0, 90 * MINUTE);
    if wanted && p.state.created_at < t {
        send(p, ctx, t, campaign);
    }
}

/// The welcome email, sent right after sign-up.
pub(crate) fn welcome(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) {
    let campaign = Campaign {
        id: "welcome",
        name: "Welcome Series",
        email_id: "welcome-1".to_owned(),
        subject: Subject::Greeting(", welcome to Herald Shop!"),
        featured: p.profile.draw_category(&mut p.rng),
        audience: Audience::Everyone,
        send_at: t,
    };
    send(p, ctx, t, &campaign);
}

/// Delivery and the person's reactions to it.
fn send(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, c: &Campaign) {
    let first_name = p.profile.first_name;
    let fields = |o: &mut Obj<'_>| {
        o.str("email_id", &c.email_id);
        match &c.subject {
            Subject::Fixed(text) => o.str("email_subject", text),
            Subject::Greeting(rest) => o.text("email_subject", |s| {
                s.push_str(first_name);
                s.push_str(rest);
            }),
        };
        o.str("campaign_id", c.id).str("campaign_name", c.name);
    };
    server_track(p, ctx, t, "Email Delivered", 0, fields);
    let engaged = ctx.day <= p.email.engaged_until;
    if !engaged || !p.rng.chance(p.email.open) {
        return;
    }
    let delay = match p.rng.weighted(&[45, 35, 20]) {
        0 => p.rng.exponential(30.0 * MINUTE as f64),
        1 => p.rng.exponential(5.0 * HOUR as f64),
        _ => p.rng.between(DAY, 4 * DAY) as f64,
    };
    let opened = t + 30 * SECOND + delay as i64;
    p.state.last_open_day = i64::from(ctx.day);
    server_track(p, ctx, opened, "Email Opened", 0, fields);
    if p.rng.chance(UNSUBSCRIBE) {
        p.state.subscribed = false;
        let at = opened + pause(p, 10, 120);
        server_track(p, ctx, at, "Unsubscribed", 0, fields);
        return;
    }
    if !p.rng.chance(p.email.click) {
        return;
    }
    // Links point at the featured category, or at one the reader likes.
    let category = if c.audience == Audience::Fans || p.rng.chance(0.4) {
        c.featured
    } else {
        p.profile.draw_category(&mut p.rng)
    };
    let catalog = ctx.catalog;
    let item = catalog.popular(category, &mut p.rng);
    let it = &catalog.items[item];
    let slot = 1 + p.rng.below(4);
    let clicked = opened + 5 * SECOND + p.rng.exponential(90.0 * SECOND as f64) as i64;
    server_track(p, ctx, clicked, "Email Link Clicked", 0, |o| {
        fields(o);
        o.text("link_id", |s| {
            s.push_str(c.id);
            s.push_str("_link_");
            s.push(char::from(b'0' + slot as u8));
        })
        .text("link_url", |s| {
            write_url(s, it);
            s.push_str("?utm_source=email&utm_medium=email&utm_campaign=");
            s.push_str(c.id);
        });
    });
    if p.rng.chance(CLICK_THROUGH) {
        let t = clicked + p.rng.between(2 * SECOND, 15 * SECOND);
        shop::view(p, ctx, t, item, None, Some(c.id));
    }
}
