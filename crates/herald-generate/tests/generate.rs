//! End-to-end properties of generated data: determinism, time order, validity for Herald, and the
//! behaviours segments and journeys rely on being present.

use herald_generate::{Generator, Options, Summary, catalog, default_end, write_ndjson};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

fn end() -> jiff::Timestamp {
    "2024-06-01T00:00:00Z".parse().unwrap()
}

fn options(profiles: u64, days: u32, seed: u64) -> Options {
    Options::new(profiles, days, seed, end())
}

fn ndjson(opts: &Options) -> (Vec<u8>, Summary) {
    let mut out = Vec::new();
    let summary = write_ndjson(opts, &mut out).unwrap();
    (out, summary)
}

/// One sample shared by the content tests: 1,000 profiles over 90 days.
struct Sample {
    lines: Vec<String>,
    events: Vec<Value>,
    summary: Summary,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let (bytes, summary) = ndjson(&options(1_000, 90, 7));
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let events = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        Sample {
            lines,
            events,
            summary,
        }
    })
}

fn named<'a>(event: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    sample()
        .events
        .iter()
        .filter(move |e| e["type"] == "track" && e["event"] == event)
}

fn prop<'a>(e: &'a Value, key: &str) -> &'a Value {
    &e["properties"][key]
}

#[test]
fn same_options_give_identical_bytes() {
    let opts = options(300, 30, 11);
    let (a, summary) = ndjson(&opts);
    let (b, _) = ndjson(&opts);
    assert!(a == b, "two runs differ");
    assert!(summary.events > 1_000);
    // The iterator yields exactly the lines write_ndjson writes.
    let joined: String = Generator::new(&opts).map(|l| l + "\n").collect();
    assert!(joined.as_bytes() == a.as_slice());
    let (other_seed, _) = ndjson(&options(300, 30, 12));
    assert!(a != other_seed, "another seed gives the same data");
}

#[test]
fn timestamps_are_inside_the_window_and_in_order() {
    let days = 90;
    let start = end() - jiff::SignedDuration::from_hours(24 * days);
    let mut previous = start;
    for e in &sample().events {
        let text = e["timestamp"].as_str().unwrap();
        assert!(
            text.len() == 24 && text.ends_with('Z') && text.as_bytes()[19] == b'.',
            "{text} is not RFC 3339 UTC with milliseconds"
        );
        let ts: jiff::Timestamp = text.parse().unwrap();
        assert!(ts > start && ts <= end(), "{text} is outside the window");
        assert!(ts >= previous, "{text} goes back in time");
        previous = ts;
    }
}

#[test]
fn every_line_is_accepted_by_herald() {
    let now = jiff::Timestamp::now();
    let mut ids = HashSet::new();
    for line in &sample().lines {
        assert!(!line.contains('\n'));
        let message = herald_core::parse::parse_line(line, now, &mut || "x".to_string())
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            ids.insert(message.message_id.as_str().to_owned()),
            "duplicate messageId in {line}"
        );
        assert!(!line.contains("sentAt"));
    }
}

#[test]
fn every_known_person_is_identified_with_an_email_first() {
    let mut identified: HashSet<&str> = HashSet::new();
    for e in &sample().events {
        let Some(user) = e["userId"].as_str() else {
            continue;
        };
        if e["type"] == "identify" && e["traits"]["email"].is_string() {
            let traits = &e["traits"];
            assert!(traits["email"].as_str().unwrap().contains('@'));
            for key in [
                "timezone",
                "birthday",
                "plan",
                "first_name",
                "last_name",
                "created_at",
            ] {
                assert!(traits[key].is_string(), "identify without {key}: {e}");
            }
            identified.insert(user);
        }
        assert!(
            identified.contains(user),
            "{user} acts before being identified: {e}"
        );
    }
    let s = &sample().summary;
    assert_eq!(identified.len() as u64, s.identified);
    assert!(s.identified > 200, "{s:?}");
    let phones = sample()
        .events
        .iter()
        .filter(|e| e["type"] == "identify" && e["traits"]["email"].is_string())
        .filter(|e| {
            e["traits"]["phone"]
                .as_str()
                .is_some_and(|p| p.starts_with('+'))
        })
        .count();
    let share = phones as f64 / identified.len() as f64;
    assert!((0.45..0.75).contains(&share), "{share} have phones");
}

#[test]
fn anonymous_visitors_become_known_and_some_stay_anonymous() {
    let mut linked: HashSet<&str> = HashSet::new();
    let mut anonymous: HashSet<&str> = HashSet::new();
    for e in &sample().events {
        if let Some(anon) = e["anonymousId"].as_str() {
            anonymous.insert(anon);
            if e["type"] == "identify" {
                linked.insert(anon);
            }
        }
    }
    let never_known = anonymous.difference(&linked).count();
    assert!(
        never_known > 100,
        "only {never_known} anonymous-only visitors"
    );
    assert!(named("Signed Up").count() > 50);
    // A sign-up's identify ties the browser to the account.
    let signups_linked = sample()
        .events
        .iter()
        .filter(|e| e["type"] == "identify" && e["anonymousId"].is_string())
        .count();
    assert!(signups_linked > 50);
}

#[test]
fn commerce_events_carry_carts_orders_and_products() {
    let mut added: BTreeMap<&str, &str> = BTreeMap::new();
    for e in named("Product Added") {
        let cart = prop(e, "cart_id")
            .as_str()
            .expect("Product Added has a cart_id");
        assert!(prop(e, "product_id").is_string() && prop(e, "quantity").is_u64());
        added
            .entry(cart)
            .or_insert(e["timestamp"].as_str().unwrap());
    }
    for e in named("Product Viewed") {
        for key in ["product_id", "sku", "name", "category", "brand", "url"] {
            assert!(prop(e, key).is_string(), "Product Viewed without {key}");
        }
        assert!(prop(e, "price").is_f64() && prop(e, "currency") == "USD");
    }
    let mut ordered: HashSet<&str> = HashSet::new();
    let mut later_day = 0;
    for e in named("Order Completed") {
        let products = prop(e, "products").as_array().expect("products[]");
        assert!(!products.is_empty());
        let mut sum = 0.0;
        for p in products {
            for key in ["product_id", "name", "category"] {
                assert!(p[key].is_string());
            }
            sum += p["price"].as_f64().unwrap() * p["quantity"].as_f64().unwrap();
        }
        let revenue = prop(e, "revenue").as_f64().expect("revenue");
        assert!((revenue - sum).abs() < 0.01, "revenue {revenue} != {sum}");
        assert!(prop(e, "total").as_f64().unwrap() >= revenue);
        assert!(prop(e, "order_id").is_string() && prop(e, "currency") == "USD");
        let cart = prop(e, "cart_id").as_str().unwrap();
        ordered.insert(cart);
        if added[cart][..10] != e["timestamp"].as_str().unwrap()[..10] {
            later_day += 1;
        }
    }
    let abandoned = added.keys().filter(|c| !ordered.contains(*c)).count();
    assert!(abandoned > 30, "only {abandoned} abandoned carts");
    assert!(
        later_day > 3,
        "only {later_day} orders after the day of the cart"
    );
    assert_eq!(ordered.len() as u64, sample().summary.orders);
    assert!(named("Checkout Started").count() > ordered.len());
}

#[test]
fn email_engagement_is_present_with_campaign_and_link_properties() {
    let mut delivered: HashSet<&str> = HashSet::new();
    let mut opened: HashSet<&str> = HashSet::new();
    let mut campaigns = BTreeSet::new();
    for e in named("Email Delivered") {
        for key in ["email_id", "email_subject", "campaign_id", "campaign_name"] {
            assert!(prop(e, key).is_string(), "Email Delivered without {key}");
        }
        campaigns.insert(prop(e, "campaign_id").as_str().unwrap());
        delivered.insert(e["userId"].as_str().unwrap());
    }
    for e in named("Email Opened") {
        assert!(prop(e, "campaign_id").is_string() && prop(e, "email_id").is_string());
        opened.insert(e["userId"].as_str().unwrap());
    }
    let clicks: Vec<&Value> = named("Email Link Clicked").collect();
    assert!(clicks.len() > 50, "{} clicks", clicks.len());
    for e in &clicks {
        assert!(prop(e, "link_id").is_string() && prop(e, "campaign_id").is_string());
        let url = prop(e, "link_url").as_str().unwrap();
        assert!(url.starts_with("https://shop.example/"), "{url}");
    }
    for id in ["welcome", "weekly_newsletter", "new_arrivals", "winback"] {
        assert!(campaigns.contains(id), "no {id} campaign in {campaigns:?}");
    }
    assert!(
        campaigns.iter().any(|c| c.ends_with("_sale")),
        "{campaigns:?}"
    );
    let inactive = delivered.difference(&opened).count();
    assert!(inactive > 30, "only {inactive} inactive subscribers");
    assert!(opened.len() > 100);
}

#[test]
fn forms_downloads_features_and_groups_appear() {
    let started = named("Form Started").count();
    let submitted = named("Form Submitted").count();
    assert!(
        submitted > 0 && started > submitted,
        "{started} started, {submitted} submitted"
    );
    let forms: HashSet<&str> = named("Form Started")
        .map(|e| prop(e, "form_id").as_str().unwrap())
        .collect();
    assert!(
        forms.contains("newsletter") && forms.contains("demo_request"),
        "{forms:?}"
    );
    let files: HashSet<&str> = named("File Downloaded")
        .map(|e| prop(e, "category").as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(named("Feature Used").all(|e| prop(e, "feature_name").is_string()));
    assert!(named("Feature Used").count() > 100);
    let groups: Vec<&Value> = sample()
        .events
        .iter()
        .filter(|e| e["type"] == "group")
        .collect();
    assert!(groups.len() > 10);
    for g in groups {
        assert!(g["groupId"].is_string() && g["traits"]["name"].is_string());
        assert!(g["traits"]["industry"].is_string() && g["traits"]["employees"].is_u64());
    }
    let pages: HashSet<&str> = sample()
        .events
        .iter()
        .filter(|e| e["type"] == "page")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in ["Home", "Category", "Product", "Cart", "Pricing", "Blog"] {
        assert!(pages.contains(name), "no {name} page in {pages:?}");
    }
}

#[test]
fn co_views_follow_tastes() {
    // People look at few categories, so a person's views concentrate on their favourites.
    let mut per_person: HashMap<&str, HashMap<&str, u32>> = HashMap::new();
    for e in named("Product Viewed") {
        let who = e["userId"].as_str().or(e["anonymousId"].as_str()).unwrap();
        *per_person
            .entry(who)
            .or_default()
            .entry(prop(e, "category").as_str().unwrap())
            .or_default() += 1;
    }
    let (mut top3, mut all) = (0, 0);
    for counts in per_person.values().filter(|c| c.values().sum::<u32>() >= 8) {
        let mut n: Vec<u32> = counts.values().copied().collect();
        n.sort_unstable_by(|a, b| b.cmp(a));
        top3 += n.iter().take(3).sum::<u32>();
        all += n.iter().sum::<u32>();
    }
    assert!(all > 0 && f64::from(top3) / f64::from(all) > 0.8);
}

#[test]
fn volume_and_summary_are_as_documented() {
    let s = &sample().summary;
    assert_eq!(s.events as usize, sample().lines.len());
    // Documented: about 28 events per profile over 90 days.
    let per_profile = s.events as f64 / 1_000.0;
    assert!(
        (20.0..40.0).contains(&per_profile),
        "{per_profile} events per profile"
    );
    assert!(s.profiles > 850 && s.profiles <= 1_000, "{s:?}");
    let users: HashSet<&str> = sample()
        .events
        .iter()
        .filter_map(|e| e["userId"].as_str().or(e["anonymousId"].as_str()))
        .collect();
    assert!(users.len() as u64 >= s.profiles);
}

#[test]
fn empty_windows_and_catalog() {
    assert_eq!(Generator::new(&options(0, 30, 1)).count(), 0);
    assert_eq!(Generator::new(&options(100, 0, 1)).count(), 0);
    let products = catalog(7);
    assert!((450..=550).contains(&products.len()));
    let viewed: HashSet<&str> = named("Product Viewed")
        .map(|e| prop(e, "product_id").as_str().unwrap())
        .collect();
    let ids: HashSet<&str> = products.iter().map(|p| p.id.as_str()).collect();
    assert!(
        viewed.is_subset(&ids),
        "views of products outside the catalog"
    );
}

#[test]
fn default_end_is_midnight_utc() {
    let end = default_end();
    assert_eq!(end.as_second() % 86_400, 0);
    assert!(end <= jiff::Timestamp::now());
    assert!(jiff::Timestamp::now().duration_since(end).as_secs() < 86_400);
}
