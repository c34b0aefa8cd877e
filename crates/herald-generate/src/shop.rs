//! Shopping visits: browsing products, carts, checkout and orders.
//!
//! The funnel leaks where real ones do, so that cart- and checkout-abandonment segments and
//! journeys have people to find: most views add nothing to the cart, many carts are left behind,
//! some checkouts are never completed, and some abandoned carts are picked up again a few days
//! later and bought then. Product choice follows the person's tastes, each category's best
//! sellers, and "viewed together" companions, which gives recommendations real co-occurrence to
//! learn from.

use crate::catalog::{Item, category_names};
use crate::generator::Ctx;
use crate::json::Obj;
use crate::person::{Cart, Person};
use crate::persona::Signup;
use crate::rng::hash;
use crate::session::{ORIGIN, Page, page, pause, server_track, sign_up, track};
use crate::timeline::flags;
use std::fmt::Write;

/// Chance that a checkout, once started, is completed.
const COMPLETE_CHECKOUT: f64 = 0.85;
/// Chance that an abandoned cart is picked up again a few days later.
const COME_BACK: f64 = 0.35;
/// Chance that a returning visitor buys the cart this time.
const BUY_ON_RETURN: f64 = 0.75;
/// Chance of looking at the last product's companion next.
const FOLLOW_COMPANION: f64 = 0.3;

const REFERRERS: [Option<&str>; 5] = [
    None,
    None,
    Some("https://www.google.com/"),
    Some("https://www.instagram.com/"),
    Some("https://www.bing.com/"),
];

/// A browsing visit starting at `t`; returns when it ends.
pub(crate) fn visit(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, signs_up_now: bool) -> i64 {
    let b = p.persona.behaviour();
    let referrer = p.rng.pick(&REFERRERS);
    let mut t = t;
    let mut last = None;
    match p.rng.weighted(&[50, 30, 20]) {
        0 => page(
            p,
            ctx,
            t,
            &Page {
                referrer,
                ..Page::new("Home", ["/", ""], "")
            },
        ),
        1 => {
            let (slug, title) = category_names(p.profile.draw_category(&mut p.rng));
            let entry = Page::new("Category", ["/", slug], title);
            page(p, ctx, t, &Page { referrer, ..entry });
        }
        // Landing straight on a product, as from a search result.
        _ => {
            let item = choose(p, ctx, None);
            view(p, ctx, t, item, referrer, None);
            last = Some(item);
        }
    }
    if signs_up_now {
        t += pause(p, 5, 40);
        t = sign_up(p, ctx, t);
    }
    let views = (p.rng.poisson(b.views - 1.0) + 1).min(12);
    let mut added = false;
    for _ in 0..views {
        t += pause(p, 8, 90);
        let item = choose(p, ctx, last);
        view(p, ctx, t, item, None, None);
        last = Some(item);
        if p.rng.chance(b.add_to_cart) {
            t += pause(p, 5, 40);
            add_to_cart(p, ctx, t, item);
            added = true;
        }
    }
    if added {
        t += pause(p, 10, 60);
        page(p, ctx, t, &Page::new("Cart", ["/cart", ""], "Your cart"));
        if p.rng.chance(b.checkout) {
            t += pause(p, 5, 30);
            t = checkout(p, ctx, t);
        } else {
            maybe_come_back(p, ctx);
        }
    }
    t + pause(p, 5, 60)
}

/// The visit of someone who comes back for a cart they left: straight to the cart, then usually
/// the checkout.
pub(crate) fn return_to_cart(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) -> i64 {
    if let Some(cart) = p.state.cart.as_mut() {
        cart.return_day = None;
    }
    p.state.visits += 1;
    page(p, ctx, t, &Page::new("Cart", ["/cart", ""], "Your cart"));
    let t = t + pause(p, 10, 90);
    if p.rng.chance(BUY_ON_RETURN) {
        checkout(p, ctx, t)
    } else {
        t
    }
}

/// The next product to look at.
fn choose(p: &mut Person, ctx: &Ctx<'_>, last: Option<usize>) -> usize {
    if let Some(last) = last
        && p.rng.chance(FOLLOW_COMPANION)
    {
        return ctx.catalog.items[last].companion;
    }
    let category = p.profile.draw_category(&mut p.rng);
    let item = ctx.catalog.popular(category, &mut p.rng);
    if p.persona.behaviour().spend > 1.5 {
        // Big spenders look at the dearer of two candidates.
        let other = ctx.catalog.popular(category, &mut p.rng);
        if ctx.catalog.items[other].cents > ctx.catalog.items[item].cents {
            return other;
        }
    }
    item
}

/// A product page and its `Product Viewed`; `campaign` is the email that led there, if any.
pub(crate) fn view(
    p: &mut Person,
    ctx: &mut Ctx<'_>,
    t: i64,
    item: usize,
    referrer: Option<&'static str>,
    campaign: Option<&str>,
) {
    let catalog = ctx.catalog;
    let it = &catalog.items[item];
    let product_page = Page::new("Product", ["/", &it.path], &it.product.name);
    page(
        p,
        ctx,
        t,
        &Page {
            referrer,
            campaign,
            ..product_page
        },
    );
    let t = t + p.rng.between(200, 1_500);
    track(p, ctx, t, "Product Viewed", |o| {
        product_fields(o, it);
        o.str("currency", "USD").text("url", |s| write_url(s, it));
    });
}

fn add_to_cart(p: &mut Person, ctx: &mut Ctx<'_>, t: i64, item: usize) {
    let spend = p.persona.behaviour().spend;
    let quantity = if p.rng.chance(0.8 / spend.max(1.0)) {
        1
    } else {
        p.rng.between(2, 3) as u32
    };
    if p.state.cart.is_none() {
        p.state.carts += 1;
        p.state.cart = Some(Cart {
            number: p.state.carts,
            items: Vec::new(),
            return_day: None,
        });
    }
    let cart = p.state.cart.as_mut().expect("just ensured");
    match cart.items.iter_mut().find(|(i, _)| *i == item) {
        Some((_, q)) => *q += quantity,
        None => cart.items.push((item, quantity)),
    }
    let number = cart.number;
    let (seed, index, it) = (ctx.seed, p.index, &ctx.catalog.items[item]);
    track(p, ctx, t, "Product Added", |o| {
        o.text("cart_id", |s| write_cart_id(s, seed, index, number));
        product_fields(o, it);
        o.int("quantity", i64::from(quantity))
            .str("currency", "USD")
            .text("url", |s| write_url(s, it));
    });
}

/// Checkout of the current cart; unknown visitors who mean to sign up do so first, the others
/// buy as guests. Returns when it is done.
fn checkout(p: &mut Person, ctx: &mut Ctx<'_>, t: i64) -> i64 {
    let mut t = t;
    if !p.state.known && matches!(p.signup, Signup::During { .. }) {
        t = sign_up(p, ctx, t);
    }
    let Some(cart) = p.state.cart.take() else {
        return t;
    };
    page(
        p,
        ctx,
        t,
        &Page::new("Checkout", ["/checkout", ""], "Checkout"),
    );
    t += pause(p, 20, 120);
    p.state.checkouts += 1;
    let order = p.state.checkouts;
    let (seed, index, catalog) = (ctx.seed, p.index, ctx.catalog);
    let revenue: u64 = cart
        .items
        .iter()
        .map(|&(i, q)| catalog.items[i].cents * u64::from(q))
        .sum();
    let ids = |o: &mut Obj<'_>| {
        o.text("order_id", |s| write_order_id(s, seed, index, order))
            .text("cart_id", |s| write_cart_id(s, seed, index, cart.number));
    };
    let products = |o: &mut Obj<'_>| {
        o.objs("products", &cart.items, |po, &(i, q)| {
            product_fields(po, &catalog.items[i]);
            po.int("quantity", i64::from(q));
        });
    };
    track(p, ctx, t, "Checkout Started", |o| {
        ids(o);
        o.money("value", revenue)
            .money("revenue", revenue)
            .str("currency", "USD");
        products(o);
    });
    t += pause(p, 60, 420);
    if p.rng.chance(COMPLETE_CHECKOUT) {
        let shipping = if revenue >= 7_500 { 0 } else { 599 };
        let tax = revenue * 8 / 100;
        server_track(p, ctx, t, "Order Completed", flags::ORDER, |o| {
            ids(o);
            o.money("total", revenue + shipping + tax)
                .money("revenue", revenue)
                .money("shipping", shipping)
                .money("tax", tax)
                .str("currency", "USD");
            products(o);
        });
        p.state.last_order_day = Some(i64::from(ctx.day));
    } else {
        p.state.cart = Some(cart);
        maybe_come_back(p, ctx);
    }
    t
}

/// Leaves the cart behind, sometimes with a plan to return for it within a few days.
fn maybe_come_back(p: &mut Person, ctx: &Ctx<'_>) {
    let back = p.rng.chance(COME_BACK);
    let day = ctx.day + p.rng.between(1, 5) as u32;
    if let Some(cart) = p.state.cart.as_mut()
        && back
    {
        cart.return_day = Some(day);
    }
}

/// The fields Segment's ecommerce spec gives a product.
fn product_fields(o: &mut Obj<'_>, it: &Item) {
    o.str("product_id", &it.product.id)
        .str("sku", &it.sku)
        .str("name", &it.product.name)
        .str("category", &it.product.category)
        .str("brand", &it.product.brand)
        .money("price", it.cents)
        .str("image_url", &it.product.image_url);
}

pub(crate) fn write_url(s: &mut String, it: &Item) {
    s.push_str(ORIGIN);
    s.push('/');
    s.push_str(&it.path);
}

fn write_cart_id(s: &mut String, seed: u64, person: u32, number: u32) {
    let _ = write!(
        s,
        "cart_{:016x}",
        hash(seed, 0xCA27, u64::from(person), u64::from(number))
    );
}

fn write_order_id(s: &mut String, seed: u64, person: u32, number: u32) {
    let _ = write!(
        s,
        "ord_{:016x}",
        hash(seed, 0x02DE, u64::from(person), u64::from(number))
    );
}
