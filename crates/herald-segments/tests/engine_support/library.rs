//! The library's meanings (a contract: names and meanings), written as syntax trees so the
//! engine tests do not depend on the text parser.

use super::*;
use herald_segments::ast::*;

const OC: &str = "Order Completed";

fn oc() -> EventSelector {
    event(OC)
}

fn md(s: &str) -> MonthDay {
    MonthDay::parse(s).unwrap()
}

pub fn library() -> Vec<Definition> {
    use CmpOp::*;
    let ever = || Window::Ever;
    vec![
        def("frequent_buyers", count(oc(), last("90 days"), Ge, 3.0)),
        def("one_time_buyers", count(oc(), ever(), Eq, 1.0)),
        def(
            "high_value_buyers",
            metric(
                Measure::Sum(path("revenue")),
                oc(),
                last("365 days"),
                Ge,
                500.0,
            ),
        ),
        def(
            "lapsed_buyers",
            all(vec![
                count(oc(), ever(), Ge, 1.0),
                count(oc(), last("90 days"), Eq, 0.0),
            ]),
        ),
        def("recent_buyers", count(oc(), last("30 days"), Ge, 1.0)),
        def(
            "product_viewers",
            all(vec![
                count(event("Product Viewed"), last("7 days"), Ge, 1.0),
                count(oc(), last("7 days"), Eq, 0.0),
            ]),
        ),
        def(
            "product_page_3x",
            Condition::PerKey(PerKey {
                measure: Measure::Count,
                events: event("Product Viewed"),
                key: path("product_id"),
                window: last("7 days"),
                compare: Comparison { op: Gt, value: 3.0 },
            }),
        ),
        def(
            "cart_abandoners",
            Condition::Sequence(Sequence {
                pick: Pick::Latest,
                first: event("Product Added"),
                window: last("7 days"),
                older_than: Some(span("1 hour")),
                followed: false,
                second: oc(),
                same: None,
                within: None,
            }),
        ),
        def(
            "form_abandoners",
            Condition::Sequence(Sequence {
                pick: Pick::Any,
                first: event("Form Started"),
                window: last("7 days"),
                older_than: Some(span("30 minutes")),
                followed: false,
                second: event("Form Submitted"),
                same: Some(path("form_id")),
                within: Some(span("30 minutes")),
            }),
        ),
        def(
            "active_engagers",
            count(event("Email Link Clicked"), last("30 days"), Ge, 1.0),
        ),
        def(
            "passive_engagers",
            all(vec![
                count(event("Email Opened"), last("30 days"), Ge, 1.0),
                count(event("Email Link Clicked"), last("30 days"), Eq, 0.0),
            ]),
        ),
        def(
            "inactive_subscribers",
            all(vec![
                count(event("Email Delivered"), last("60 days"), Ge, 1.0),
                count(event("Email Opened"), last("60 days"), Eq, 0.0),
            ]),
        ),
        def(
            "ctr_shoes",
            count(
                event_where(
                    "Email Link Clicked",
                    vec![filter("link_url", FilterOp::Contains, text("/shoes"))],
                ),
                last("30 days"),
                Ge,
                1.0,
            ),
        ),
        def(
            "welcome_opened_not_clicked",
            all(vec![
                count(
                    event_where(
                        "Email Opened",
                        vec![filter("campaign_id", FilterOp::Eq, text("welcome"))],
                    ),
                    ever(),
                    Ge,
                    1.0,
                ),
                count(
                    event_where(
                        "Email Link Clicked",
                        vec![filter("campaign_id", FilterOp::Eq, text("welcome"))],
                    ),
                    ever(),
                    Eq,
                    0.0,
                ),
            ]),
        ),
        def(
            "ebook_downloaders",
            count(
                event_where(
                    "File Downloaded",
                    vec![filter("category", FilterOp::Eq, text("ebook"))],
                ),
                last("30 days"),
                Ge,
                1.0,
            ),
        ),
        def(
            "new_subscribers",
            count(event("Signed Up"), last("14 days"), Ge, 1.0),
        ),
        def(
            "trial_users",
            Condition::Trait(TraitCondition {
                path: path("plan"),
                test: TraitTest::Value {
                    op: FilterOp::Eq,
                    value: text("trial"),
                },
            }),
        ),
        def(
            "long_term_customers",
            all(vec![
                Condition::Occurrence(Occurrence {
                    which: Which::First,
                    events: oc(),
                    time: TimeTest::Before(TimePoint::Ago(span("365 days"))),
                }),
                count(oc(), ever(), Ge, 4.0),
            ]),
        ),
        def(
            "churn_risk",
            all(vec![
                count(oc(), ever(), Ge, 2.0),
                count(any_event(), last("45 days"), Eq, 0.0),
            ]),
        ),
        def(
            "light_users",
            all(vec![
                count(event("Feature Used"), last("30 days"), Ge, 1.0),
                count(event("Feature Used"), last("30 days"), Le, 4.0),
            ]),
        ),
        def(
            "mid_users",
            all(vec![
                count(event("Feature Used"), last("30 days"), Ge, 5.0),
                count(event("Feature Used"), last("30 days"), Le, 19.0),
            ]),
        ),
        def(
            "heavy_users",
            count(event("Feature Used"), last("30 days"), Ge, 20.0),
        ),
        def(
            "loyal_customers",
            Condition::AtLeast {
                n: 3,
                of: vec![
                    count(oc(), last("90 days"), Ge, 1.0),
                    count(oc(), between("180 days", "90 days"), Ge, 1.0),
                    count(oc(), between("270 days", "180 days"), Ge, 1.0),
                    count(oc(), between("360 days", "270 days"), Ge, 1.0),
                ],
            },
        ),
        def(
            "birthday_this_week",
            Condition::Trait(TraitCondition {
                path: path("birthday"),
                test: TraitTest::Anniversary {
                    within: span("7 days"),
                },
            }),
        ),
        def(
            "holiday_shoppers",
            count(
                oc(),
                Window::Calendar {
                    years_ago: 1,
                    from: md("11-15"),
                    to: md("12-31"),
                },
                Ge,
                1.0,
            ),
        ),
    ]
}
