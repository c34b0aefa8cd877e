//! The syntax tree of the journey language, shared by its text and JSON forms.
//!
//! A journey says what happens to a person after a trigger: sends, waits, branches, splits,
//! trait updates, webhooks, until its steps run out, it exits, or its goal is reached. The text
//! form (`lang`) and the JSON form (serde, below) describe exactly this tree. Selectors, filters,
//! spans, property paths, segment names and trait conditions are the segment language's own
//! (`herald_segments::ast`), with the same meaning.
//!
//! # Meaning, briefly (the runner is the authority)
//!
//! * An instance is one person's (or, with a `key`, one entity's, e.g. one cart's) walk through
//!   the steps. Steps run in order; a wait suspends the instance until its time or event.
//! * `key` names a property of the trigger event; the instance remembers its value, and `same key`
//!   in goals, exits, waits and conditions means "an event whose property of that name has the
//!   same value".
//! * "Since entry" counts events that arrived after the instance entered (the trigger excluded).
//! * The goal is checked on every event while the instance runs and within `within` of entry;
//!   reaching it is recorded and ends the instance. Exit conditions end it without a goal.
//! * Times of day (`wait until`, quiet hours, date triggers) are in the person's IANA time zone
//!   (trait `timezone`), else in the store's default zone.

use herald_segments::ast::{
    EventSelector, Filter, Literal, PropertyPath, SegmentName, Span, TraitCondition,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

herald_segments::serde_as_text!(JourneyName, TemplateName, TimeOfDay);

/// Lower-case letters, digits and `_`, starting with a letter, at most 64 characters.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

macro_rules! name_type {
    ($t:ident, $what:literal, $example:literal) => {
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $t(String);

        impl $t {
            pub fn parse(s: &str) -> Result<Self, String> {
                if is_name(s) {
                    Ok($t(s.to_owned()))
                } else {
                    Err(format!(
                        concat!("`{}` is not a ", $what, " name: use lower-case letters, digits and `_`, \
                         starting with a letter, at most 64 characters (e.g. `", $example, "`)"),
                        s
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": "^[a-z][a-z0-9_]{0,63}$",
                    "examples": [$example]
                })
            }
        }
    };
}

name_type!(JourneyName, "journey", "abandoned_cart");
name_type!(TemplateName, "template", "welcome_1");

/// One journey definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    pub name: JourneyName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub trigger: Trigger,
    /// A property of the trigger event that names the entity the instance is about (text:
    /// `key cart_id`): one instance per key, and `same key` compares with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PropertyPath>,
    /// Who may enter again (text: `entry once`, `entry once per 14 days`, `entry every time`).
    #[serde(default, skip_serializing_if = "Entry::is_default")]
    pub entry: Entry,
    /// Marketing messages obey frequency caps; transactional ones do not (text:
    /// `class transactional`).
    #[serde(default, skip_serializing_if = "MessageClass::is_default")]
    pub class: MessageClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// Any of these ends the instance (text: `exit when entering recent_buyers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_when: Vec<ExitWhen>,
    pub steps: Vec<Step>,
}

/// What starts an instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Text: `on "Product Added"`, `on "File Downloaded" where category = "ebook"`.
    Event { events: EventSelector },
    /// Text: `on entering inactive_subscribers`.
    Entered { segment: SegmentName },
    /// Text: `on leaving trial_users`.
    Left { segment: SegmentName },
    /// Every anniversary of a date trait (`YYYY-MM-DD` or RFC 3339), at a time of day in the
    /// person's time zone. Text: `on anniversary of birthday at 09:00`.
    Anniversary { path: PropertyPath, at: TimeOfDay },
    /// Only `POST /api/v1/journeys/{name}/enrol`. Text: `on api`.
    Api,
}

/// Re-entry rules. With a `key`, they apply per key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// At most once, ever.
    Once,
    /// At most once per span, counted from the previous entry.
    OncePer { span: Span },
    /// Whenever triggered while no instance (of that key) is running.
    #[default]
    EveryTime,
}

impl Entry {
    pub fn is_default(&self) -> bool {
        *self == Entry::EveryTime
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    #[default]
    Marketing,
    Transactional,
}

impl MessageClass {
    pub fn is_default(&self) -> bool {
        *self == MessageClass::Marketing
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageClass::Marketing => "marketing",
            MessageClass::Transactional => "transactional",
        }
    }
}

/// A conversion: text `goal "Order Completed" same key within 7 days`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub events: EventSelector,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub same_key: bool,
    pub within: Span,
}

/// Text: `exit when entering recent_buyers`, `exit when leaving trial_users`,
/// `exit when "Unsubscribed"`, `exit when "Order Completed" same key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExitWhen {
    Entered {
        segment: SegmentName,
    },
    Left {
        segment: SegmentName,
    },
    Event {
        events: EventSelector,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        same_key: bool,
    },
}

pub use herald_core::Channel;

/// One step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Text: `send email welcome_1`, `send sms abandoned_cart_2`.
    Send {
        channel: Channel,
        template: TemplateName,
    },
    /// Text: `wait 2 days`.
    Wait { duration: Span },
    /// The next instant at this local time of day, on one of `days` (all days when empty), in
    /// the person's time zone. Text: `wait until 09:00`, `wait until 09:00 on monday, friday`.
    WaitUntil {
        at: TimeOfDay,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        days: Vec<Weekday>,
    },
    /// Text:
    /// ```text
    /// wait for "Order Completed" same key up to 2 days
    ///   ...steps when it comes...
    /// timeout
    ///   ...steps when it does not...
    /// end
    /// ```
    WaitFor {
        events: EventSelector,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        same_key: bool,
        timeout: Span,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        received: Vec<Step>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        timed_out: Vec<Step>,
    },
    /// Text: `if CONDITION then ... [else ...] end`.
    Branch {
        condition: Cond,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then: Vec<Step>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        otherwise: Vec<Step>,
    },
    /// A random split by weights; a person always lands in the same arm of an instance.
    /// Text: `split arm a 45 ... arm b 45 ... holdout 10 end` (the holdout arm is named
    /// `holdout` and has no steps).
    Split { arms: Vec<Arm> },
    /// Text: `set trait email_sunset = true`.
    SetTrait { key: String, value: Literal },
    /// POSTs the instance's context to a URL, signed (Standard Webhooks). Text:
    /// `webhook "https://example.com/hook"`.
    Webhook { url: String },
    /// Text: `exit`.
    Exit,
}

/// One arm of a split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// A name for reports (text: the word before the weight).
    pub name: String,
    /// Relative weight (the arms' weights need not add up to 100).
    pub weight: u32,
    /// A holdout arm sends nothing: its people leave the journey at once, counted as held out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holdout: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// A branch condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Cond {
    /// Text: `A and B`.
    All { of: Vec<Cond> },
    /// Text: `A or B`.
    Any { of: Vec<Cond> },
    /// Text: `not A`.
    Not { condition: Box<Cond> },
    /// Text: `in segment loyal_customers`.
    InSegment { segment: SegmentName },
    /// A profile trait, as in segments. Text: `trait phone exists`, `trait plan = "pro"`.
    Trait(TraitCondition),
    /// A property of the trigger event. Text: `trigger total >= 100`.
    Trigger(Filter),
    /// The person's engagement with a message an earlier step of this instance sent.
    /// Text: `opened welcome_1`, `clicked welcome_1`, `delivered welcome_1`.
    Engaged {
        template: TemplateName,
        how: Engagement,
    },
    /// An event since the instance entered. Text: `event "Order Completed" same key since entry`.
    Event {
        events: EventSelector,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        same_key: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engagement {
    Delivered,
    Opened,
    Clicked,
}

impl Engagement {
    pub fn as_str(self) -> &'static str {
        match self {
            Engagement::Delivered => "delivered",
            Engagement::Opened => "opened",
            Engagement::Clicked => "clicked",
        }
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    pub fn parse(s: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A local time of day, `HH:MM` (24-hour) in text and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a time of day: write HH:MM on a 24-hour clock, e.g. `09:00` or `21:30`"
            )
        };
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let hour: u8 = h.parse().map_err(|_| bad())?;
        let minute: u8 = m.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(TimeOfDay { hour, minute })
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl JsonSchema for TimeOfDay {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeOfDay".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "examples": ["09:00"]
        })
    }
}

/// Rules for every journey's messages (text, in a `rules` block):
///
/// ```text
/// rules
///   cap email marketing 3 per 7 days
///   quiet hours sms 21:00 to 08:00
/// end
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<Cap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet_hours: Vec<QuietHours>,
}

/// At most `count` messages of a class on a channel per person per span (sliding). A send over
/// the cap is skipped, recorded with the reason, and the instance goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub channel: Channel,
    pub class: MessageClass,
    pub count: u32,
    pub per: Span,
}

/// No sends on the channel from `from` to `to` in the person's local time (wrapping past
/// midnight when `to` is earlier): a send then waits for `to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub channel: Channel,
    pub from: TimeOfDay,
    pub to: TimeOfDay,
}

/// A file of definitions: journeys, and optionally the global rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Rules>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journeys: Vec<Journey>,
}
