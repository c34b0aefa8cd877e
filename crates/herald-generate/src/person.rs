//! A simulated person: profile, persona, and where they are in their lifecycle.
//!
//! Every event a person causes goes through [`Person::emit`], which keeps identity consistent the
//! way a real tracking setup does: anonymous visitors carry only their browser's `anonymousId`;
//! once known, browser events carry the `userId` (and, from people whose browser stays linked, the
//! `anonymousId` too) while server-side events (orders, email) carry only the `userId`; and a known
//! customer is always introduced by an `identify` with their traits before anything else of theirs.

use crate::clock::{DAY, write_timestamp};
use crate::generator::Ctx;
use crate::json::Obj;
use crate::persona::{Persona, Signup, Usage};
use crate::profile::{Company, Profile, write_anonymous_id, write_user_id};
use crate::rng::{Rng, exp};
use crate::timeline::{Kind, flags};

/// Where an event is recorded, which decides the ids it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Browser,
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Free,
    Trial,
    Pro,
}

impl Plan {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Trial => "trial",
            Plan::Pro => "pro",
        }
    }
}

/// A shopping cart that outlived its visit.
pub(crate) struct Cart {
    /// Per-person cart number, turned into a `cart_id`.
    pub number: u32,
    /// (catalog item, quantity).
    pub items: Vec<(usize, u32)>,
    /// The window day the person comes back to check out, if they do.
    pub return_day: Option<u32>,
}

/// How a person treats marketing email.
pub(crate) struct EmailHabits {
    pub open: f64,
    /// Chance to click, given an open.
    pub click: f64,
    /// Last window day the person still opens anything: inactive subscribers stop engaging.
    pub engaged_until: u32,
}

pub(crate) struct Person {
    pub index: u32,
    pub persona: Persona,
    pub rng: Rng,
    pub profile: Profile,
    pub signup: Signup,
    pub usage: Usage,
    pub email: EmailHabits,
    /// Whether known browser events still carry the `anonymousId` (a linked browser).
    linked_browser: bool,
    /// The window day of the first visit (0 for existing customers).
    pub first_day: u32,
    /// Current visit rates per day, fading daily by the factors beside them.
    burst: f64,
    burst_fade: f64,
    baseline: f64,
    baseline_fade: f64,
    pub state: State,
}

/// What changes as the simulation runs.
pub(crate) struct State {
    /// Has a `userId`: signed up, or a customer from before the window.
    pub known: bool,
    /// An `identify` has been written.
    announced: bool,
    /// Any event has been written.
    appeared: bool,
    /// When the account was created, in ms.
    pub created_at: i64,
    pub visits: u32,
    pub plan: Plan,
    pub trial_ends: Option<u32>,
    pub subscribed: bool,
    /// Window day of the last email opened (or of subscribing): the email platform stops sending
    /// to people who have not opened anything for a long time.
    pub last_open_day: i64,
    pub cart: Option<Cart>,
    /// Window day of the last order; negative for orders before the window.
    pub last_order_day: Option<i64>,
    /// Carts and checkouts started so far, numbering their ids.
    pub carts: u32,
    pub checkouts: u32,
    grouped: bool,
}

impl Person {
    pub(crate) fn new(seed: u64, index: u32, population: u64, days: u32, start: i64) -> Self {
        let mut rng = Rng::stream(seed, 0x9E05, u64::from(index));
        let persona = Persona::draw(&mut rng);
        let b = persona.behaviour();
        let profile = Profile::draw(&mut rng, population, b.b2b);
        let signup = persona.draw_signup(&mut rng);
        let usage = Usage::draw(&mut rng);
        let activity = rng.log_normal(0.6);
        let existing = signup == Signup::Existing;
        let first_day = if existing {
            0
        } else {
            rng.below(u64::from(days.max(1))) as u32
        };
        let open = if rng.chance(0.2) {
            0.0
        } else {
            0.15 + 0.55 * rng.unit()
        };
        let email = EmailHabits {
            open,
            click: 0.05 + 0.3 * rng.unit(),
            // A quarter of subscribers go quiet at some point in the window.
            engaged_until: if rng.chance(0.25) {
                rng.below(u64::from(days.max(1))) as u32
            } else {
                u32::MAX
            },
        };
        let app_factor = if b.visits_app() {
            usage.visit_factor()
        } else {
            1.0
        };
        let mut state = State {
            known: false,
            announced: false,
            appeared: false,
            created_at: 0,
            visits: 0,
            plan: Plan::Free,
            trial_ends: None,
            subscribed: false,
            last_open_day: 0,
            cart: None,
            last_order_day: None,
            carts: 0,
            checkouts: 0,
            grouped: false,
        };
        if existing {
            let tenure = rng.between(20, 1_500);
            state.known = true;
            state.created_at = start - tenure * DAY + rng.between(0, DAY - 1);
            state.subscribed = rng.chance(b.subscribe);
            state.last_open_day = -rng.between(0, 60);
            if persona == Persona::TrialUser {
                state.plan = if rng.chance(0.5) {
                    Plan::Pro
                } else {
                    Plan::Free
                };
            }
            if b.checkout > 0.3 {
                let ago = match persona {
                    Persona::Lapsing => rng.between(20, 150),
                    _ => rng.between(1, 90),
                };
                state.last_order_day = Some(-ago);
            }
        }
        Person {
            index,
            persona,
            profile,
            signup,
            usage,
            email,
            linked_browser: rng.chance(0.7),
            first_day,
            burst: if existing {
                0.0
            } else {
                b.burst * activity * app_factor
            },
            burst_fade: exp(-1.0 / b.burst_days),
            baseline: b.baseline * activity * app_factor,
            baseline_fade: exp(-1.0 / b.baseline_days),
            state,
            rng,
        }
    }

    /// Today's visit rate; interest then fades for tomorrow.
    pub(crate) fn visit_rate(&mut self) -> f64 {
        let rate = self.burst + self.baseline;
        self.burst *= self.burst_fade;
        self.baseline *= self.baseline_fade;
        rate
    }

    pub(crate) fn company(&self) -> Option<Company> {
        self.profile.company.map(Company)
    }

    /// Records one event of this person at `ts`; `body` writes the fields besides the ids.
    pub(crate) fn emit(
        &mut self,
        ctx: &mut Ctx<'_>,
        ts: i64,
        kind: Kind,
        source: Source,
        extra_flags: u8,
        body: impl FnOnce(&mut Obj<'_>),
    ) {
        if self.state.known && !self.state.announced {
            // A customer from before the window: the nightly CRM sync identifies them at the start
            // of the first day they do anything, so their identify precedes all their events even
            // though a day's events are not simulated in time order.
            let at = ctx.day_start + self.rng.between(1, 999);
            self.identify(ctx, at, Source::Server);
        }
        let mut flags = extra_flags;
        if !self.state.appeared {
            self.state.appeared = true;
            flags |= flags::FIRST_OF_PROFILE;
        }
        let (seed, person) = (ctx.seed, &*self);
        ctx.tl.push(ts, kind, flags, |o| {
            person.write_ids(o, seed, source);
            body(o);
        });
    }

    fn write_ids(&self, o: &mut Obj<'_>, seed: u64, source: Source) {
        if self.state.known {
            o.text("userId", |s| write_user_id(s, seed, self.index));
        }
        let anonymous = !self.state.known || (source == Source::Browser && self.linked_browser);
        if anonymous {
            o.text("anonymousId", |s| write_anonymous_id(s, seed, self.index));
        }
    }

    /// Writes an `identify` with all traits (and the `group` call of business users).
    pub(crate) fn identify(&mut self, ctx: &mut Ctx<'_>, ts: i64, source: Source) {
        let mut flags = flags::FIRST_IDENTIFY;
        if !self.state.appeared {
            self.state.appeared = true;
            flags |= flags::FIRST_OF_PROFILE;
        }
        self.state.announced = true;
        let (seed, person) = (ctx.seed, &*self);
        let p = &person.profile;
        ctx.tl.push(ts, Kind::Identify, flags, |o| {
            o.text("userId", |s| write_user_id(s, seed, person.index));
            // The identify is what links the browser's history to the account, so it carries the
            // anonymousId whenever a browser sent it.
            if source == Source::Browser {
                o.text("anonymousId", |s| write_anonymous_id(s, seed, person.index));
            }
            o.obj("traits", |t| {
                t.text("email", |s| p.write_email(s, person.index));
                if p.has_phone() {
                    t.text("phone", |s| p.write_phone(s));
                }
                t.str("timezone", p.zone.name)
                    .text("birthday", |s| p.write_birthday(s))
                    .str("plan", person.state.plan.as_str())
                    .str("first_name", p.first_name)
                    .str("last_name", p.last_name)
                    .text("created_at", |s| {
                        write_timestamp(s, person.state.created_at)
                    });
            });
        });
        if let Some(company) = self.company().filter(|_| !self.state.grouped) {
            self.state.grouped = true;
            let index = self.index;
            ctx.tl.push(ts + 150, Kind::Group, 0, |o| {
                o.text("userId", |s| write_user_id(s, seed, index))
                    .text("groupId", |s| company.write_group_id(s, seed))
                    .obj("traits", |t| {
                        t.text("name", |s| company.write_name(s, seed))
                            .str("industry", company.industry(seed))
                            .int("employees", i64::from(company.employees(seed)));
                    });
            });
        }
    }

    /// Writes an `identify` carrying only a changed plan.
    pub(crate) fn update_plan(&mut self, ctx: &mut Ctx<'_>, ts: i64, plan: Plan) {
        self.state.plan = plan;
        self.emit(ctx, ts, Kind::Identify, Source::Server, 0, |o| {
            o.obj("traits", |t| {
                t.str("plan", plan.as_str());
            });
        });
    }
}
