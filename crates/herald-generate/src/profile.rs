//! Who a simulated person is: name, contact details, time zone, birthday, tastes and employer.
//!
//! Nothing here is stored as text: names point into static lists and ids, emails and phone numbers
//! are written from numbers when an event needs them, so 200,000 people cost a few megabytes.
//! Addresses use the reserved `example.*` domains so generated data can never reach a real inbox.

use crate::catalog::CATEGORY_COUNT;
use crate::rng::{Rng, hash};
use std::fmt::Write;

/// An IANA time zone with its usual UTC offset (daylight saving is ignored: plausible local hours
/// are all that matters) and the country calling code used for phone numbers there.
pub(crate) struct Zone {
    pub name: &'static str,
    pub offset_minutes: i64,
    pub calling_code: u32,
    /// Digits of a national number.
    pub national_digits: u32,
    weight: u32,
}

const ZONES: [Zone; 11] = [
    zone("America/New_York", -300, 1, 10, 22),
    zone("America/Los_Angeles", -480, 1, 10, 14),
    zone("America/Chicago", -360, 1, 10, 8),
    zone("Europe/London", 0, 44, 10, 12),
    zone("Europe/Berlin", 60, 49, 11, 10),
    zone("Europe/Paris", 60, 33, 9, 5),
    zone("Asia/Tokyo", 540, 81, 10, 7),
    zone("Australia/Sydney", 600, 61, 9, 6),
    zone("America/Sao_Paulo", -180, 55, 11, 7),
    zone("Asia/Kolkata", 330, 91, 10, 7),
    zone("Asia/Singapore", 480, 65, 8, 2),
];

const fn zone(
    name: &'static str,
    offset_minutes: i64,
    calling_code: u32,
    national_digits: u32,
    weight: u32,
) -> Zone {
    Zone {
        name,
        offset_minutes,
        calling_code,
        national_digits,
        weight,
    }
}

const FIRST_NAMES: [&str; 48] = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Mia",
    "Lucas",
    "Isabella",
    "Mateo",
    "Ava",
    "Leon",
    "Hannah",
    "Felix",
    "Charlotte",
    "Arjun",
    "Priya",
    "Ananya",
    "Rohan",
    "Yuki",
    "Haruto",
    "Sakura",
    "Ren",
    "Chloe",
    "Jack",
    "Ruby",
    "Thomas",
    "Grace",
    "Lucia",
    "Gabriel",
    "Beatriz",
    "Rafael",
    "Camila",
    "Jonas",
    "Lena",
    "Emil",
    "Ines",
    "Marco",
    "Zoe",
    "Ethan",
    "Aisha",
    "Omar",
    "Nora",
    "Daniel",
    "Maya",
    "Samuel",
];

const LAST_NAMES: [&str; 48] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Watanabe",
    "Patel",
    "Sharma",
    "Singh",
    "Gupta",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Costa",
    "Evans",
    "Roberts",
    "Clarke",
    "Wright",
    "Dubois",
    "Moreau",
    "Nguyen",
    "Kim",
    "Cohen",
    "Murphy",
];

const EMAIL_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];

const COMPANY_WORDS: [&str; 16] = [
    "Blue", "Harbor", "Summit", "Cedar", "Quantum", "Bright", "Iron", "Maple", "Nova", "Atlas",
    "Pioneer", "Silver", "Vertex", "Orbit", "Granite", "Willow",
];
const COMPANY_SUFFIXES: [&str; 6] = ["Labs", "Systems", "Group", "Analytics", "Co.", "Works"];
const INDUSTRIES: [&str; 8] = [
    "Retail",
    "Software",
    "Financial Services",
    "Healthcare",
    "Education",
    "Media",
    "Manufacturing",
    "Travel",
];
const EMPLOYEES: [u32; 8] = [4, 12, 35, 80, 250, 600, 2_500, 12_000];

/// A person's static attributes.
pub(crate) struct Profile {
    pub first_name: &'static str,
    pub last_name: &'static str,
    email_domain: &'static str,
    pub zone: &'static Zone,
    /// National part of the phone number, for the ~60% who gave one.
    phone: Option<u64>,
    pub birthday: (u16, u8, u8),
    /// Preferred categories (indices into the catalog's categories); `taste_count` are used.
    tastes: [u8; 3],
    taste_count: u8,
    /// Index of the person's employer, for business users.
    pub company: Option<u32>,
}

impl Profile {
    pub(crate) fn draw(rng: &mut Rng, population: u64, b2b: f64) -> Self {
        let weights = ZONES.map(|z| z.weight);
        let zone = &ZONES[rng.weighted(&weights)];
        let phone = rng.chance(0.6).then(|| {
            let low = 10u64.pow(zone.national_digits - 1);
            // National numbers never start with 0 in E.164.
            low * (1 + rng.below(8)) + rng.below(low)
        });
        let month = 1 + rng.below(12) as u8;
        let days_in_month = match month {
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let birthday = (
            1955 + rng.below(52) as u16,
            month,
            1 + rng.below(days_in_month) as u8,
        );
        // Two or three distinct favourite categories: the structure co-views and co-purchases
        // (and so recommendations) are built on.
        let taste_count = 2 + rng.below(2) as u8;
        let mut tastes = [0u8; 3];
        let mut chosen = 0;
        while chosen < usize::from(taste_count) {
            let c = rng.below(CATEGORY_COUNT as u64) as u8;
            if !tastes[..chosen].contains(&c) {
                tastes[chosen] = c;
                chosen += 1;
            }
        }
        // About six people per company, so groups have several members.
        let companies = (population / 6).max(1);
        let company = rng.chance(b2b).then(|| rng.below(companies) as u32);
        Profile {
            first_name: rng.pick(&FIRST_NAMES),
            last_name: rng.pick(&LAST_NAMES),
            email_domain: rng.pick(&EMAIL_DOMAINS),
            zone,
            phone,
            birthday,
            tastes,
            taste_count,
            company,
        }
    }

    pub(crate) fn tastes(&self) -> &[u8] {
        &self.tastes[..usize::from(self.taste_count)]
    }

    pub(crate) fn likes(&self, category: usize) -> bool {
        self.tastes().iter().any(|&c| usize::from(c) == category)
    }

    /// A favourite category most of the time, otherwise any.
    pub(crate) fn draw_category(&self, rng: &mut Rng) -> usize {
        if rng.chance(0.8) {
            usize::from(rng.pick(self.tastes()))
        } else {
            rng.below(CATEGORY_COUNT as u64) as usize
        }
    }

    /// Appends the person's email address, unique thanks to the person's number.
    pub(crate) fn write_email(&self, out: &mut String, index: u32) {
        push_lower(out, self.first_name);
        out.push('.');
        push_lower(out, self.last_name);
        let _ = write!(out, "{}@{}", index + 1, self.email_domain);
    }

    pub(crate) fn has_phone(&self) -> bool {
        self.phone.is_some()
    }

    /// Appends the phone number in E.164 (nothing if the person gave none).
    pub(crate) fn write_phone(&self, out: &mut String) {
        if let Some(national) = self.phone {
            let _ = write!(out, "+{}{national}", self.zone.calling_code);
        }
    }

    pub(crate) fn write_birthday(&self, out: &mut String) {
        let (y, m, d) = self.birthday;
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

fn push_lower(out: &mut String, name: &str) {
    out.extend(name.chars().map(|c| c.to_ascii_lowercase()));
}

/// Appends a person's user id: readable, and different per seed so data sets of two seeds never
/// merge into the same profiles.
pub(crate) fn write_user_id(out: &mut String, seed: u64, index: u32) {
    let tag = hash(seed, 0x05E7, 0, 0) & 0xFF_FFFF;
    let _ = write!(out, "usr_{tag:06x}_{:06}", index + 1);
}

/// Appends a person's browser id, a version-4 UUID like the ones analytics.js makes.
pub(crate) fn write_anonymous_id(out: &mut String, seed: u64, index: u32) {
    let hi = hash(seed, 0xA707, u64::from(index), 1);
    let lo = hash(seed, 0xA707, u64::from(index), 2);
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC << 60)) | (0x8 << 60);
    let _ = write!(
        out,
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    );
}

/// A company that business users belong to, derived from its number alone.
pub(crate) struct Company(pub u32);

impl Company {
    pub(crate) fn write_group_id(&self, out: &mut String, seed: u64) {
        let tag = hash(seed, 0xC0, 0, 0) & 0xFFFF;
        let _ = write!(out, "acct_{tag:04x}_{:05}", self.0 + 1);
    }

    fn draw(&self, seed: u64, what: u64, n: usize) -> usize {
        (hash(seed, 0xC0, u64::from(self.0), what) % n as u64) as usize
    }

    pub(crate) fn write_name(&self, out: &mut String, seed: u64) {
        let a = COMPANY_WORDS[self.draw(seed, 1, COMPANY_WORDS.len())];
        let b = COMPANY_WORDS[self.draw(seed, 2, COMPANY_WORDS.len())];
        let suffix = COMPANY_SUFFIXES[self.draw(seed, 3, COMPANY_SUFFIXES.len())];
        // The number keeps names unique among the few hundred word combinations.
        let n = self.0 + 1;
        let _ = if a == b {
            write!(out, "{a} {suffix} {n}")
        } else {
            write!(out, "{a} {b} {suffix} {n}")
        };
    }

    pub(crate) fn industry(&self, seed: u64) -> &'static str {
        INDUSTRIES[self.draw(seed, 4, INDUSTRIES.len())]
    }

    pub(crate) fn employees(&self, seed: u64) -> u32 {
        EMPLOYEES[self.draw(seed, 5, EMPLOYEES.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_well_formed() {
        let mut rng = Rng::stream(9, 9, 9);
        let mut with_phone = 0;
        for i in 0..1_000 {
            let p = Profile::draw(&mut rng, 1_000, 0.5);
            let mut email = String::new();
            p.write_email(&mut email, i);
            assert!(email.contains('@') && email.chars().all(|c| !c.is_uppercase()));
            if p.has_phone() {
                let mut phone = String::new();
                p.write_phone(&mut phone);
                assert!(phone.starts_with('+') && phone.len() <= 16, "{phone}");
                assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()));
                with_phone += 1;
            }
            assert!(p.tastes().len() >= 2);
            let mut birthday = String::new();
            p.write_birthday(&mut birthday);
            assert!(jiff::civil::Date::strptime("%Y-%m-%d", &birthday).is_ok());
        }
        assert!((500..700).contains(&with_phone), "{with_phone}");
        let mut id = String::new();
        write_anonymous_id(&mut id, 1, 2);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
