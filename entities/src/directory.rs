//! The directory's domain types (organizations, locations, services) and their validation rules.
//! These are what the store reads and writes; `api/` maps them to and from its wire types.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cpr::contains_cpr;
use crate::error::FieldError;
use crate::values::{ClockTime, LanguageCode, Point};

/// Why a CPR number in directory text is refused.
pub const CPR_IN_PUBLIC_TEXT: &str = "must not contain a CPR number: the directory is public";

pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 10_000;
pub const MAX_SHORT: usize = 500;
pub const MAX_URL: usize = 2_000;
pub const MAX_LIST: usize = 100;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$variant_meta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What kind of actor runs an organization; the municipality reports by it.
    OrganizationKind {
        Municipal = "municipal",
        Association = "association",
        HousingSocial = "housing-social",
        Ngo = "ngo",
        VolunteerGroup = "volunteer-group",
        Other = "other",
    }
);

string_enum!(
    /// Status of organizations and locations. DELETE is soft: it sets `inactive`.
    RecordStatus {
        Active = "active",
        Inactive = "inactive",
    }
);

string_enum!(
    /// Service status as in HSDS 3.0. Only `active` services are searchable.
    ServiceStatus {
        Active = "active",
        Inactive = "inactive",
        Defunct = "defunct",
        TemporarilyClosed = "temporarily closed",
    }
);

string_enum!(
    /// How much room a service has. `full` makes new referrals auto-reject with reason `no-capacity`.
    Capacity {
        Available = "available",
        Limited = "limited",
        Full = "full",
    }
);

string_enum!(
    /// Who an offer is for: `any` (everyone, the default) or one group only. Search with a group finds the
    /// offers for that group and those for anyone.
    #[derive(Default)]
    Gender {
        #[default]
        Any = "any",
        Women = "women",
        Men = "men",
        Girls = "girls",
        Boys = "boys",
    }
);

string_enum!(
    /// Who is calling. Roles are fixed by the API contract.
    Role {
        Admin = "admin",
        Caseworker = "caseworker",
        Partner = "partner",
        Reader = "reader",
    }
);

pub const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// An RFC 5545 `byday` code as HSDS 3.0 schedules use it: a weekday (`SA`, index 0 = Monday), with an
/// ordinal for monthly schedules (`1SA` the first Saturday of the month, `-1FR` the last Friday).
pub fn parse_byday(code: &str) -> Option<(Option<i8>, usize)> {
    let split = code.len().checked_sub(2)?;
    let (ordinal, day) = code.split_at(split);
    let weekday = WEEKDAYS.iter().position(|d| *d == day)?;
    match ordinal {
        "" => Some((None, weekday)),
        ordinal => {
            let n: i8 = ordinal.strip_prefix('+').unwrap_or(ordinal).parse().ok()?;
            (matches!(n, 1..=5 | -5..=-1)).then_some((Some(n), weekday))
        }
    }
}

/// Where a date falls in its week and month, for schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarDay {
    /// 0 = Monday .. 6 = Sunday.
    pub weekday: usize,
    /// 1..31
    pub month_day: u32,
    pub days_in_month: u32,
}

impl CalendarDay {
    pub fn of(date: NaiveDate) -> CalendarDay {
        let first_of_next = if date.month() == 12 {
            NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
        };
        let days_in_month = first_of_next.and_then(|d| d.pred_opt()).map_or(31, |d| d.day());
        CalendarDay {
            weekday: date.weekday().num_days_from_monday() as usize,
            month_day: date.day(),
            days_in_month,
        }
    }

    /// Which of its weekday in the month it is: 1 = the first, counting from the start.
    pub fn week_of_month(self) -> u32 {
        (self.month_day - 1) / 7 + 1
    }

    /// 1 = the last of its weekday in the month, 2 = the one before, ...
    pub fn weeks_from_end(self) -> u32 {
        (self.days_in_month - self.month_day) / 7 + 1
    }

    /// Whether it is the `n`th of its weekday in the month (`-1`: the last).
    pub fn is_nth(self, n: i8) -> bool {
        if n > 0 {
            self.week_of_month() == n as u32
        } else {
            self.weeks_from_end() == n.unsigned_abs() as u32
        }
    }

    /// Whether it is day `d` of the month (`-1`: the last day).
    pub fn is_month_day(self, d: i8) -> bool {
        if d > 0 {
            self.month_day == d as u32
        } else {
            self.days_in_month + 1 == self.month_day + d.unsigned_abs() as u32
        }
    }
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrganizationData {
    pub name: String,
    pub description: String,
    pub kind: OrganizationKind,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub cvr: Option<String>,
    pub status: RecordStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    pub address_1: String,
    pub postal_code: String,
    pub city: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LocationData {
    /// The owner, whose partners may edit the place (see `access`). Services of any organization may be at
    /// it; None for a place only admins edit.
    pub organization_id: Option<Uuid>,
    pub name: String,
    /// Both or neither; a location without coordinates is not found by geo search.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<Address>,
    pub confidential: bool,
    pub status: RecordStatus,
}

string_enum!(
    /// How often a schedule repeats (RFC 5545 `FREQ`, as HSDS 3.0 schedules use it).
    #[derive(Default)]
    Freq {
        #[default]
        Weekly = "WEEKLY",
        Monthly = "MONTHLY",
    }
);

impl Freq {
    /// The frequency a schedule that does not say has: monthly when it names a week of the month (`1SA`) or
    /// a day of the month, weekly otherwise.
    pub fn implied_by(byday: &[String], bymonthday: &[i8]) -> Freq {
        let ordinal = byday
            .iter()
            .any(|d| parse_byday(d).is_some_and(|(ordinal, _)| ordinal.is_some()));
        if ordinal || !bymonthday.is_empty() {
            Freq::Monthly
        } else {
            Freq::Weekly
        }
    }
}

/// An opening as HSDS 3.0 schedules describe it, in RFC 5545 terms: every `interval` weeks (or months) on
/// the days of `byday` (with an ordinal for monthly ones: `1SA` the first Saturday) or the days of the
/// month of `bymonthday`, from `opens_at` to `closes_at`, between `dtstart`/`valid_from` and
/// `until`/`valid_to`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub freq: Freq,
    /// Every how many weeks (or months); 1 unless it skips some.
    pub interval: u32,
    /// RFC 5545 day codes, e.g. `["MO", "WE"]`, `["1SA", "-1FR"]`.
    pub byday: Vec<String>,
    /// Days of the month (monthly schedules): 1..31 from the start, -1..-31 from the end. Kept but without
    /// effect on a weekly schedule, where RFC 5545 does not allow it (real data has it anyway).
    pub bymonthday: Vec<i8>,
    /// `HH:MM`, 24-hour.
    pub opens_at: String,
    pub closes_at: String,
    /// The first occurrence; with `interval` > 1 it fixes which weeks (or months) count.
    pub dtstart: Option<NaiveDate>,
    /// The last day it may occur.
    pub until: Option<NaiveDate>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub description: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceData {
    pub name: String,
    pub description: String,
    pub organization_id: Uuid,
    pub location_ids: Vec<Uuid>,
    pub needs: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    pub languages: Vec<String>,
    pub free: bool,
    pub fees_description: Option<String>,
    pub schedules: Vec<Schedule>,
    pub eligibility_description: Option<String>,
    pub application_process: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ServiceStatus,
    pub assured_date: Option<NaiveDate>,
    pub capacity: Option<Capacity>,
    /// Who the offer is for (`any` unless it is for one group only).
    pub gender: Gender,
    /// GeoJSON Polygon or MultiPolygon.
    pub service_area: Option<serde_json::Value>,
}

/// Bookkeeping every stored record carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stored<T> {
    pub meta: Meta,
    pub data: T,
}

pub type Organization = Stored<OrganizationData>;
pub type Location = Stored<LocationData>;
pub type Service = Stored<ServiceData>;

/// Collects field errors while validating one document.
#[derive(Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
}

impl Checker {
    pub fn fail(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(path, reason));
    }

    pub fn text(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            if min == 1 {
                self.fail(path, "must not be empty");
            } else {
                self.fail(path, format!("must be at least {min} characters"));
            }
        } else if len > max {
            self.fail(path, format!("must be at most {max} characters"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            self.fail(path, "must not contain control characters");
        }
    }

    pub fn optional_text(&mut self, path: &str, value: &Option<String>, max: usize) {
        if let Some(value) = value {
            self.text(path, value, 0, max);
        }
    }

    /// Text the public directory shows to anyone: as [`Checker::text`], and never a CPR number, which would
    /// publish a person's identity.
    pub fn public_text(&mut self, path: &str, value: &str, min: usize, max: usize) {
        self.text(path, value, min, max);
        if contains_cpr(value) {
            self.fail(path, CPR_IN_PUBLIC_TEXT);
        }
    }

    pub fn optional_public_text(&mut self, path: &str, value: &Option<String>, max: usize) {
        if let Some(value) = value {
            self.public_text(path, value, 0, max);
        }
    }

    pub fn url(&mut self, path: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.text(path, value, 1, MAX_URL);
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                self.fail(path, "must be an http(s) URL");
            }
        }
    }

    pub fn email(&mut self, path: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.text(path, value, 3, 254);
            let valid = value
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !value.contains(' '));
            if !valid {
                self.fail(path, "must be an e-mail address");
            }
        }
    }

    pub fn phone(&mut self, path: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.text(path, value, 1, 40);
            // Formats vary across countries ("+45 12 34 56 78", "(555) 123-4567"); a number has digits.
            if value.chars().filter(char::is_ascii_digit).count() < 3 {
                self.fail(path, "must contain a phone number");
            }
        }
    }

    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

impl OrganizationData {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut check = Checker::default();
        check.public_text("name", &self.name, 1, MAX_NAME);
        check.public_text("description", &self.description, 0, MAX_TEXT);
        check.url("website", &self.website);
        check.email("email", &self.email);
        check.phone("phone", &self.phone);
        if let Some(cvr) = &self.cvr
            && !(cvr.len() == 8 && cvr.chars().all(|c| c.is_ascii_digit()))
        {
            check.fail("cvr", "must be 8 digits");
        }
        check.into_result()
    }
}

pub fn check_coordinates(check: &mut Checker, latitude: f64, longitude: f64) {
    if let Err(errors) = Point::parse(latitude, longitude) {
        check.errors.extend(errors);
    }
}

impl LocationData {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut check = Checker::default();
        check.public_text("name", &self.name, 1, MAX_NAME);
        match (self.latitude, self.longitude) {
            (Some(latitude), Some(longitude)) => check_coordinates(&mut check, latitude, longitude),
            (None, None) => {}
            _ => check.fail("longitude", "give latitude and longitude together"),
        }
        if let Some(address) = &self.address {
            check.public_text("address/address_1", &address.address_1, 1, MAX_NAME);
            check.text("address/postal_code", &address.postal_code, 1, 10);
            check.public_text("address/city", &address.city, 1, MAX_NAME);
        }
        check.into_result()
    }
}

/// Minutes since midnight of an `HH:MM` time, if valid.
pub fn parse_clock(value: &str) -> Option<u16> {
    ClockTime::parse(value).map(ClockTime::minutes)
}

impl Schedule {
    /// The first day it may occur and the last (`None`: no bound).
    pub fn window(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let first = self.valid_from.max(self.dtstart);
        let last = match (self.valid_to, self.until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (first, last)
    }

    /// Whether it is open on `date` (at some hour).
    pub fn occurs_on(&self, date: NaiveDate) -> bool {
        let (first, last) = self.window();
        if first.is_some_and(|f| date < f) || last.is_some_and(|l| date > l) {
            return false;
        }
        let interval = i64::from(self.interval.max(1));
        let calendar = CalendarDay::of(date);
        let on_weekday = self
            .byday
            .iter()
            .filter_map(|d| parse_byday(d))
            .any(|(ordinal, weekday)| weekday == calendar.weekday && ordinal.is_none_or(|n| calendar.is_nth(n)));
        match self.freq {
            Freq::Weekly => {
                let in_week = self.dtstart.is_none_or(|start| {
                    let weeks = (monday_of(date) - monday_of(start)).num_weeks();
                    weeks.rem_euclid(interval) == 0
                });
                on_weekday && in_week
            }
            Freq::Monthly => {
                let on_day = on_weekday || self.bymonthday.iter().any(|&d| calendar.is_month_day(d));
                let in_month = self.dtstart.is_none_or(|start| {
                    let months = i64::from(date.year() * 12 + date.month0() as i32)
                        - i64::from(start.year() * 12 + start.month0() as i32);
                    months.rem_euclid(interval) == 0
                });
                on_day && in_month
            }
        }
    }

    fn check(&self, check: &mut Checker, path: &str) {
        if self.byday.is_empty() && (self.bymonthday.is_empty() || self.freq == Freq::Weekly) {
            check.fail(
                format!("{path}/byday"),
                "must name at least one day (MO..SU), or days of the month in bymonthday",
            );
        }
        if self.interval == 0 || self.interval > 52 {
            check.fail(format!("{path}/interval"), "must be between 1 and 52");
        }
        for (i, day) in self.bymonthday.iter().enumerate() {
            if !matches!(day, 1..=31 | -31..=-1) {
                check.fail(format!("{path}/bymonthday/{i}"), "must be 1..31 or -31..-1");
            }
        }
        if let (Some(start), Some(until)) = (self.dtstart, self.until)
            && start > until
        {
            check.fail(format!("{path}/until"), "must not be before dtstart");
        }
        check.optional_public_text(&format!("{path}/notes"), &self.notes, MAX_TEXT);
        for day in &self.byday {
            if parse_byday(day).is_some_and(|(ordinal, _)| ordinal.is_some()) && self.freq == Freq::Weekly {
                check.fail(
                    format!("{path}/byday"),
                    format!("`{day}` names a week of the month: it needs freq MONTHLY"),
                );
            }
            if parse_byday(day).is_none() {
                check.fail(
                    format!("{path}/byday"),
                    format!(
                        "unknown day `{day}`, expected MO, TU, WE, TH, FR, SA or SU, for monthly days with an \
                         ordinal such as 1SA (first Saturday) or -1FR (last Friday)"
                    ),
                );
            }
        }
        let opens = parse_clock(&self.opens_at);
        let closes = parse_clock(&self.closes_at);
        if opens.is_none() {
            check.fail(format!("{path}/opens_at"), "must be HH:MM");
        }
        if closes.is_none() {
            check.fail(format!("{path}/closes_at"), "must be HH:MM");
        }
        // closes_at before opens_at is an overnight opening (e.g. a night café 22:00–08:00).
        if let (Some(opens), Some(closes)) = (opens, closes)
            && opens == closes
        {
            check.fail(format!("{path}/closes_at"), "must differ from opens_at");
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && from > to
        {
            check.fail(format!("{path}/valid_to"), "must not be before valid_from");
        }
        check.optional_public_text(&format!("{path}/description"), &self.description, MAX_SHORT);
    }
}

impl ServiceData {
    /// Puts lists in a canonical order without duplicates, so that what is stored, what is read back and what
    /// a re-import compares are the same value.
    pub fn normalize(&mut self) {
        self.location_ids.sort();
        self.location_ids.dedup();
        self.needs.sort();
        self.needs.dedup();
        self.languages.sort();
        self.languages.dedup();
        for schedule in &mut self.schedules {
            schedule
                .byday
                .sort_by_key(|d| parse_byday(d).map(|(ordinal, day)| (day, ordinal)));
            schedule.byday.dedup();
            schedule.bymonthday.sort_unstable();
            schedule.bymonthday.dedup();
        }
        self.schedules
            .sort_by(|a, b| (&a.byday, &a.opens_at, &a.closes_at).cmp(&(&b.byday, &b.opens_at, &b.closes_at)));
    }

    /// Checks everything that needs no database. Need codes and location ids are checked by the store.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut check = Checker::default();
        check.public_text("name", &self.name, 1, MAX_NAME);
        check.public_text("description", &self.description, 0, MAX_TEXT);
        check.optional_public_text("fees_description", &self.fees_description, MAX_TEXT);
        check.optional_public_text("eligibility_description", &self.eligibility_description, MAX_TEXT);
        check.optional_public_text("application_process", &self.application_process, MAX_TEXT);
        check.url("url", &self.url);
        check.email("email", &self.email);
        check.phone("phone", &self.phone);
        for (field, age) in [("minimum_age", self.minimum_age), ("maximum_age", self.maximum_age)] {
            if age.is_some_and(|age| age > 120) {
                check.fail(field, "must be between 0 and 120");
            }
        }
        if let (Some(min), Some(max)) = (self.minimum_age, self.maximum_age)
            && min > max
        {
            check.fail("maximum_age", "must not be below minimum_age");
        }
        for (field, len) in [
            ("location_ids", self.location_ids.len()),
            ("needs", self.needs.len()),
            ("languages", self.languages.len()),
            ("schedules", self.schedules.len()),
        ] {
            if len > MAX_LIST {
                check.fail(field, format!("at most {MAX_LIST} entries"));
            }
        }
        for (i, language) in self.languages.iter().enumerate() {
            if LanguageCode::parse(language).is_none() {
                check.fail(
                    format!("languages/{i}"),
                    "must be an ISO 639-1 code such as `da` or `ar`",
                );
            }
        }
        for (i, schedule) in self.schedules.iter().enumerate() {
            schedule.check(&mut check, &format!("schedules/{i}"));
        }
        if let Some(area) = &self.service_area {
            let kind = area.get("type").and_then(|t| t.as_str());
            if !matches!(kind, Some("Polygon" | "MultiPolygon")) || area.get("coordinates").is_none() {
                check.fail("service_area", "must be a GeoJSON Polygon or MultiPolygon");
            }
        }
        check.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times() {
        assert_eq!(parse_clock("00:00"), Some(0));
        assert_eq!(parse_clock("16:30"), Some(990));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("24:01"), None);
        assert_eq!(parse_clock("7:00"), None);
        assert_eq!(parse_clock("12:60"), None);
        assert_eq!(parse_clock("ab:cd"), None);
    }

    #[test]
    fn location_rejects_latitude_out_of_range() {
        let location = LocationData {
            organization_id: None,
            name: "Gellerup".into(),
            latitude: Some(95.0),
            longitude: Some(10.1),
            address: None,
            confidential: false,
            status: RecordStatus::Active,
        };
        let errors = location.validate().unwrap_err();
        assert_eq!(errors, vec![FieldError::new("latitude", "must be between -90 and 90")]);
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn saturdays(byday: &str, freq: Freq) -> Schedule {
        Schedule {
            freq,
            interval: 1,
            byday: vec![byday.into()],
            opens_at: "10:00".into(),
            closes_at: "13:00".into(),
            ..Default::default()
        }
    }

    #[test]
    fn monthly_schedules_fall_on_their_week_of_the_month() {
        let first = saturdays("1SA", Freq::Monthly);
        assert!(first.occurs_on(date("2026-12-05")));
        assert!(!first.occurs_on(date("2026-12-12")));
        assert!(!first.occurs_on(date("2026-12-04")), "a Friday");
        assert!(first.occurs_on(date("2027-01-02")));
        let last_friday = saturdays("-1FR", Freq::Monthly);
        assert!(last_friday.occurs_on(date("2026-12-25")));
        assert!(!last_friday.occurs_on(date("2026-12-18")));
        assert!(last_friday.occurs_on(date("2027-02-26")));
        let fifteenth = Schedule {
            bymonthday: vec![15, -1],
            byday: vec![],
            ..saturdays("SA", Freq::Monthly)
        };
        assert!(fifteenth.occurs_on(date("2026-12-15")));
        assert!(fifteenth.occurs_on(date("2026-12-31")));
        assert!(fifteenth.occurs_on(date("2027-02-28")));
        assert!(!fifteenth.occurs_on(date("2026-12-30")));
    }

    #[test]
    fn validity_and_interval_bound_a_schedule() {
        let mut weekly = saturdays("SA", Freq::Weekly);
        weekly.valid_to = Some(date("2026-12-31"));
        assert!(weekly.occurs_on(date("2026-12-12")));
        assert!(!weekly.occurs_on(date("2027-01-02")), "after valid_to");
        weekly.valid_to = None;
        weekly.until = Some(date("2026-12-10"));
        assert!(!weekly.occurs_on(date("2026-12-12")), "after until");
        weekly.until = None;
        weekly.valid_from = Some(date("2026-12-10"));
        assert!(!weekly.occurs_on(date("2026-12-05")), "before valid_from");
        let fortnightly = Schedule {
            interval: 2,
            dtstart: Some(date("2026-12-05")),
            ..saturdays("SA", Freq::Weekly)
        };
        assert!(fortnightly.occurs_on(date("2026-12-05")));
        assert!(!fortnightly.occurs_on(date("2026-12-12")));
        assert!(fortnightly.occurs_on(date("2026-12-19")));
        assert!(!fortnightly.occurs_on(date("2026-11-28")), "before dtstart");
    }

    #[test]
    fn ordinals_need_a_monthly_schedule() {
        let service_with = |schedule: Schedule| ServiceData {
            name: "x".into(),
            description: String::new(),
            organization_id: Uuid::nil(),
            location_ids: vec![],
            needs: vec![],
            minimum_age: None,
            maximum_age: None,
            languages: vec![],
            free: true,
            fees_description: None,
            schedules: vec![schedule],
            eligibility_description: None,
            application_process: None,
            url: None,
            email: None,
            phone: None,
            status: ServiceStatus::Active,
            assured_date: None,
            capacity: None,
            gender: Gender::Any,
            service_area: None,
        };
        let errors = service_with(saturdays("1SA", Freq::Weekly)).validate().unwrap_err();
        assert_eq!(errors[0].path, "schedules/0/byday");
        assert!(service_with(saturdays("1SA", Freq::Monthly)).validate().is_ok());
        let mut bad_day = saturdays("SA", Freq::Monthly);
        bad_day.bymonthday = vec![32];
        assert_eq!(
            service_with(bad_day).validate().unwrap_err()[0].path,
            "schedules/0/bymonthday/0"
        );
    }

    #[test]
    fn enums_round_trip_their_spelling() {
        for status in ServiceStatus::ALL {
            assert_eq!(ServiceStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(
            OrganizationKind::parse("housing-social"),
            Some(OrganizationKind::HousingSocial)
        );
        assert_eq!(OrganizationKind::parse("Housing-social"), None);
    }

    #[test]
    fn gender_defaults_to_any_and_round_trips_its_spelling() {
        assert_eq!(Gender::default(), Gender::Any);
        assert_eq!(Gender::ALL.len(), 5);
        for gender in Gender::ALL {
            assert_eq!(Gender::parse(gender.as_str()), Some(*gender));
        }
        assert_eq!(Gender::parse("female"), None);
        assert_eq!(Gender::parse("Women"), None);
    }
}
