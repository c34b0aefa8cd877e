//! Reading and product-usage visits: the blog, downloads and forms, and the SaaS app.
//!
//! These feed lead-generation and product-usage segments: forms are sometimes started and left
//! unfinished, downloads come in a few kinds, and app users fall into light, mid and heavy usage,
//! which decides how many `Feature Used` events they leave (and whether their trial converts).

use crate::catalog::category_names;
use crate::generator::Ctx;
use crate::person::{Person, Plan};
use crate::persona::Signup;
use crate::session::{Page, page, pause, sign_up, track};

/// Blog posts: slug, title, and the category a reader of it cares about.
const POSTS: [(&str, &str, usize); 16] = [
    (
        "trail-running-for-beginners",
        "Trail running for beginners",
        0,
    ),
    (
        "how-to-choose-a-hiking-boot",
        "How to choose a hiking boot",
        0,
    ),
    ("capsule-wardrobe-guide", "The capsule wardrobe guide", 1),
    ("caring-for-merino", "Caring for merino", 1),
    (
        "best-noise-cancelling-headphones",
        "The best noise-cancelling headphones",
        2,
    ),
    ("smartwatch-buying-guide", "Smartwatch buying guide", 2),
    ("summer-reading-list", "Our summer reading list", 3),
    ("books-for-new-runners", "Books for new runners", 3),
    ("cast-iron-care", "Cast iron care, demystified", 4),
    ("small-kitchen-upgrades", "Ten small kitchen upgrades", 4),
    ("skincare-routine-basics", "Skincare routine basics", 5),
    ("spf-explained", "SPF explained", 5),
    ("home-workout-kit", "Build a home workout kit", 6),
    ("first-camping-trip", "Planning your first camping trip", 6),
    ("screen-free-toys", "Screen-free toys kids love", 7),
    ("board-game-night", "Hosting a board game night", 7),
];

/// Downloadable files: name and Segment-style category.
const FILES: [(&str, &str); 7] = [
    ("lifecycle-marketing-playbook.pdf", "ebook"),
    ("segmentation-field-guide.pdf", "ebook"),
    ("holiday-gift-guide.pdf", "ebook"),
    ("email-benchmarks-report.pdf", "whitepaper"),
    ("state-of-retention.pdf", "whitepaper"),
    ("blue-harbor-case-study.pdf", "case_study"),
    ("northwind-case-study.pdf", "case_study"),
];

const FEATURES: [&str; 12] = [
    "dashboard",
    "segments",
    "journeys",
    "email_editor",
    "reports",
    "export_csv",
    "integrations",
    "ab_testing",
    "templates",
    "team_settings",
    "api_keys",
    "audience_sync",
];

/// A blog visit: a post or a few, sometimes a download or a form. Returns when it ends.
pub(crate) fn read(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, signs_up_now: bool) -> i64 {
    let posts = (1 + p.rng.poisson(0.8)).min(5);
    let mut t = t;
    for n in 0..posts {
        let (slug, title, _) = pick_post(p);
        let referrer = if n == 0 && p.rng.chance(0.5) {
            Some("https://www.google.com/")
        } else {
            None
        };
        let post = Page::new("Blog", ["/blog/", slug], title);
        page(p, ctx, t, &Page { referrer, ..post });
        t += pause(p, 40, 400);
    }
    if signs_up_now {
        t = sign_up(p, ctx, t);
    }
    if p.rng.chance(0.2) {
        let (file_name, category) = p.rng.pick(&FILES);
        track(p, ctx, t, "File Downloaded", |o| {
            o.str("file_name", file_name).str("category", category);
        });
        t += pause(p, 5, 60);
    }
    if p.rng.chance(0.12) {
        t = form(p, ctx, t, "newsletter", "Newsletter sign-up", 0.65);
    } else if p.rng.chance(0.03) {
        t = form(p, ctx, t, "contact", "Contact us", 0.5);
    }
    t
}

/// A post, favouring those about the person's categories.
fn pick_post(p: &mut Person) -> (&'static str, &'static str, usize) {
    for _ in 0..3 {
        let post = p.rng.pick(&POSTS);
        if p.profile.likes(post.2) {
            return post;
        }
    }
    p.rng.pick(&POSTS)
}

/// `Form Started`, and with the given chance `Form Submitted` a little later.
fn form(
    p: &mut Person,
    ctx: &mut Ctx<'_>,
    t: i64,
    form_id: &'static str,
    form_name: &'static str,
    submit: f64,
) -> i64 {
    track(p, ctx, t, "Form Started", |o| {
        o.str("form_id", form_id).str("form_name", form_name);
    });
    let t = t + pause(p, 15, 180);
    if p.rng.chance(submit) {
        track(p, ctx, t, "Form Submitted", |o| {
            o.str("form_id", form_id).str("form_name", form_name);
        });
    }
    t + pause(p, 5, 30)
}

/// A visit to the SaaS app: feature usage by usage tier. Visitors without an account (yet) look at
/// pricing instead, and sometimes ask for a demo. Returns when it ends.
pub(crate) fn use_app(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, signs_up_now: bool) -> i64 {
    let mut t = t;
    if !p.state.known {
        page(p, ctx, t, &Page::new("Home", ["/", ""], ""));
        t += pause(p, 10, 90);
        page(
            p,
            ctx,
            t,
            &Page::new("Pricing", ["/pricing", ""], "Pricing"),
        );
        t += pause(p, 20, 200);
        if signs_up_now || (p.signup != Signup::Never && p.rng.chance(0.3)) {
            return sign_up(p, ctx, t);
        }
        if p.rng.chance(0.25) {
            t = form(p, ctx, t, "demo_request", "Request a demo", 0.6);
        }
        return t;
    }
    page(
        p,
        ctx,
        t,
        &Page::new("App", ["/app/", "dashboard"], "Dashboard"),
    );
    let uses = (1 + p.rng.poisson(p.usage.features_per_visit() - 1.0)).min(25);
    let plan = p.state.plan;
    for _ in 0..uses {
        t += pause(p, 15, 600);
        let feature = p.rng.pick(&FEATURES);
        track(p, ctx, t, "Feature Used", |o| {
            o.str("feature_name", feature).str("plan", plan.as_str());
        });
    }
    if p.rng.chance(0.08) {
        t += pause(p, 10, 60);
        page(
            p,
            ctx,
            t,
            &Page::new("Pricing", ["/pricing", ""], "Pricing"),
        );
        if plan != Plan::Pro && p.rng.chance(0.3) {
            t += pause(p, 10, 60);
            t = form(p, ctx, t, "demo_request", "Request a demo", 0.7);
        }
    }
    if p.rng.chance(0.1) {
        // App users browse the shop too; keeps their tastes visible.
        let (slug, title) = category_names(p.profile.draw_category(&mut p.rng));
        t += pause(p, 10, 120);
        page(p, ctx, t, &Page::new("Category", ["/", slug], title));
    }
    t + pause(p, 5, 60)
}
