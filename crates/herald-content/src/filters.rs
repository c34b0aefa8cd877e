//! Herald's Liquid filters, beside the standard library's (`date`, `default`, ...):
//!
//! - `money` — `{{ 19.9 | money: "EUR" }}` formats an amount in major units (not cents, unlike
//!   Shopify) in the person's locale (trait `locale`, default `en-US`): `€19.90` in English,
//!   `19,90 €` in French or German. Without an argument the currency is the trait `currency`,
//!   else USD. Formatting is by hand for a handful of locales and currencies, which covers our
//!   markets without pulling ICU's data in.
//! - `local_date` — `{{ event.timestamp | local_date: "%A %-d %B at %H:%M" }}` formats a
//!   timestamp (RFC 3339 text or Unix seconds) in the person's time zone (trait `timezone`,
//!   IANA, default UTC) with a strftime format; an optional second argument names a zone.
//! - `json` — `{{ profile.traits.first_name | json }}` writes a value as JSON, for webhook
//!   bodies.
//!
//! Filters never fail a send over bad data: an amount that is not a number or a date that does
//! not parse comes out as it went in. Only a bad format string (a template bug) is an error.

use liquid_core::model::ScalarCow;
use liquid_core::{
    Display_filter, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters,
    ParseFilter, Result, Runtime, Value, ValueView,
};

/// The filters Herald adds, for error hints.
pub const HERALD_FILTERS: [&str; 3] = ["money", "local_date", "json"];

/// Herald's filters, for the language in [`crate::engine`].
pub fn herald_filters() -> Vec<Box<dyn ParseFilter>> {
    vec![Box::new(Money), Box::new(LocalDate), Box::new(Json)]
}

/// A profile trait as text, if set.
fn trait_str(runtime: &dyn Runtime, name: &str) -> Option<String> {
    let path = [
        ScalarCow::new("profile"),
        ScalarCow::new("traits"),
        ScalarCow::new(name.to_owned()),
    ];
    let v = runtime.try_get(&path)?;
    let s = v.as_scalar()?.into_string().to_string();
    (!s.is_empty()).then_some(s)
}

// --- money ---------------------------------------------------------------------------------

#[derive(Debug, FilterParameters)]
struct MoneyArgs {
    #[parameter(
        description = "ISO 4217 currency code, e.g. \"EUR\".",
        arg_type = "str"
    )]
    currency: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "money",
    description = "Formats an amount in the person's locale and a currency.",
    parameters(MoneyArgs),
    parsed(MoneyFilter)
)]
pub struct Money;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "money"]
struct MoneyFilter {
    #[parameters]
    args: MoneyArgs,
}

impl Filter for MoneyFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let amount = input.as_scalar().and_then(|s| {
            s.to_float()
                .or_else(|| s.to_kstr().trim().parse::<f64>().ok())
        });
        let Some(amount) = amount else {
            return Ok(input.to_value());
        };
        let currency = match args.currency {
            Some(c) if !c.is_empty() => c.to_uppercase(),
            _ => trait_str(runtime, "currency")
                .map_or_else(|| "USD".to_owned(), |c| c.to_uppercase()),
        };
        let locale = trait_str(runtime, "locale").unwrap_or_else(|| "en-US".to_owned());
        Ok(Value::scalar(format_money(amount, &currency, &locale)))
    }
}

/// How a locale writes numbers and where it puts the currency symbol.
struct NumberStyle {
    group: &'static str,
    decimal: char,
    symbol_first: bool,
    /// Between symbol and number; a no-break space so the symbol never wraps alone.
    space: &'static str,
    /// Spanish does not group 4-digit numbers (1234,50 € but 12.345,00 €).
    min_grouping: usize,
}

fn number_style(locale: &str) -> NumberStyle {
    let lower = locale.to_ascii_lowercase().replace('_', "-");
    let lang = lower.split('-').next().unwrap_or("en");
    let nbsp = "\u{a0}";
    let after = |group, min_grouping| NumberStyle {
        group,
        decimal: ',',
        symbol_first: false,
        space: nbsp,
        min_grouping,
    };
    match lang {
        "fr" => after("\u{202f}", 1),
        "de" | "it" | "pt" if lower != "pt-br" => after(".", 1),
        "es" => after(".", 2),
        "sv" | "nb" | "no" | "da" | "fi" | "pl" | "cs" => after(nbsp, 1),
        "nl" => NumberStyle {
            group: ".",
            decimal: ',',
            symbol_first: true,
            space: nbsp,
            min_grouping: 1,
        },
        "pt" => NumberStyle {
            group: ".",
            decimal: ',',
            symbol_first: true,
            space: nbsp,
            min_grouping: 1,
        },
        // English, Japanese, Chinese, Korean and anything we do not know.
        _ => NumberStyle {
            group: ",",
            decimal: '.',
            symbol_first: true,
            space: "",
            min_grouping: 1,
        },
    }
}

/// The symbol and number of decimals of a currency; unknown codes are written as the code.
fn currency(code: &str, locale: &str) -> (String, usize) {
    let region = locale
        .rsplit(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let (symbol, decimals) = match code {
        "USD" => ("$", 2),
        "EUR" => ("€", 2),
        "GBP" => ("£", 2),
        "JPY" => ("¥", 0),
        "KRW" => ("₩", 0),
        "INR" => ("₹", 2),
        "CNY" => ("CN¥", 2),
        "BRL" => ("R$", 2),
        "CAD" if region == "CA" => ("$", 2),
        "CAD" => ("CA$", 2),
        "AUD" if region == "AU" => ("$", 2),
        "AUD" => ("A$", 2),
        "MXN" if region == "MX" => ("$", 2),
        "MXN" => ("MX$", 2),
        "SEK" | "NOK" | "DKK" => ("kr", 2),
        "CHF" => ("CHF", 2),
        _ => return (code.to_owned(), 2),
    };
    (symbol.to_owned(), decimals)
}

/// Formats `amount` of `code` for `locale`, e.g. (1234.5, "EUR", "de-DE") → "1.234,50 €".
pub fn format_money(amount: f64, code: &str, locale: &str) -> String {
    let style = number_style(locale);
    let (symbol, decimals) = currency(code, locale);
    let fixed = format!("{:.*}", decimals, amount.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut grouped = String::new();
    let group = int.len() > 3 && int.len() >= 3 + style.min_grouping;
    for (i, c) in int.chars().enumerate() {
        if group && i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(style.group);
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push(style.decimal);
        grouped.push_str(frac);
    }
    // Symbols made of letters (CHF, kr, unknown codes) always need a space.
    let space = if symbol.chars().any(|c| c.is_alphabetic()) && style.space.is_empty() {
        "\u{a0}"
    } else {
        style.space
    };
    let sign = if amount < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if style.symbol_first {
        format!("{sign}{symbol}{space}{grouped}")
    } else {
        format!("{sign}{grouped}{space}{symbol}")
    }
}

// --- local_date ----------------------------------------------------------------------------

#[derive(Debug, FilterParameters)]
struct LocalDateArgs {
    #[parameter(
        description = "strftime format, e.g. \"%B %-d, %Y\".",
        arg_type = "str"
    )]
    format: Expression,
    #[parameter(
        description = "IANA time zone; default the trait `timezone`.",
        arg_type = "str"
    )]
    zone: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "local_date",
    description = "Formats a timestamp in the person's time zone.",
    parameters(LocalDateArgs),
    parsed(LocalDateFilter)
)]
pub struct LocalDate;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "local_date"]
struct LocalDateFilter {
    #[parameters]
    args: LocalDateArgs,
}

impl Filter for LocalDateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let Some(ts) = input.as_scalar().and_then(|s| timestamp(&s)) else {
            return Ok(input.to_value());
        };
        let zone = match args.zone {
            Some(z) if !z.is_empty() => Some(z.to_string()),
            _ => trait_str(runtime, "timezone"),
        };
        // A bad `timezone` trait is the person's data, not the template's: fall back to UTC.
        let tz = zone
            .and_then(|z| jiff::tz::TimeZone::get(&z).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let zoned = ts.to_zoned(tz);
        jiff::fmt::strtime::format(args.format.as_str(), &zoned)
            .map(Value::scalar)
            .map_err(|e| {
                liquid_core::Error::with_msg(format!(
                    "local_date: bad format `{}` ({e}); use strftime codes like %Y-%m-%d %H:%M",
                    args.format
                ))
            })
    }
}

/// RFC 3339 text, a liquid date-time, or Unix seconds (milliseconds when implausibly large).
fn timestamp(s: &ScalarCow<'_>) -> Option<jiff::Timestamp> {
    if let Some(i) = s.to_integer() {
        return if i.abs() > 100_000_000_000 {
            jiff::Timestamp::from_millisecond(i).ok()
        } else {
            jiff::Timestamp::from_second(i).ok()
        };
    }
    let text = s.to_kstr();
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    // A bare date means that day, wherever the person is: noon UTC keeps it on the same date
    // in every zone from UTC-11 to UTC+11.
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return d
            .at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    s.to_date_time()
        .and_then(|dt| jiff::Timestamp::from_second(dt.unix_timestamp()).ok())
}

// --- json ----------------------------------------------------------------------------------

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "json",
    description = "Writes a value as JSON (strings quoted and escaped).",
    parsed(JsonFilter)
)]
pub struct Json;

#[derive(Debug, Default, Display_filter)]
#[name = "json"]
struct JsonFilter;

impl Filter for JsonFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let json = to_json(&input.to_value());
        Ok(Value::scalar(json.to_string()))
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil | Value::State(_) => J::Null,
        // By the scalar's own type: the string "42" stays a string.
        Value::Scalar(s) => match s.type_name() {
            "boolean" => J::Bool(s.to_bool().unwrap_or(false)),
            "whole number" => s.to_integer().map_or(J::Null, J::from),
            "fractional number" => s.to_float().map_or(J::Null, J::from),
            _ => J::String(s.to_kstr().to_string()),
        },
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Object(o) => J::Object(o.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
    }
}
