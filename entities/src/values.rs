//! Small values with rules of their own, parsed once where they enter (a query parameter, a request body,
//! an imported record) so that the code after works with values known to be valid: a point on the globe, a
//! clock time, a language code, a need code, a family reference.

use std::fmt;

use crate::cpr::contains_cpr;
use crate::error::FieldError;

/// A place on the globe, in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

impl Point {
    /// A point, or the errors of its coordinates (fields `latitude` and `longitude`).
    pub fn parse(latitude: f64, longitude: f64) -> Result<Point, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(-90.0..=90.0).contains(&latitude) {
            errors.push(FieldError::new("latitude", "must be between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            errors.push(FieldError::new("longitude", "must be between -180 and 180"));
        }
        if errors.is_empty() {
            Ok(Point { latitude, longitude })
        } else {
            Err(errors)
        }
    }
}

/// A time of day `HH:MM` (24-hour; `24:00` closes at midnight), as minutes since midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(u16);

impl ClockTime {
    pub fn parse(text: &str) -> Option<ClockTime> {
        let (hours, minutes) = text.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok()?;
        let minutes: u16 = minutes.parse().ok()?;
        (hours < 24 && minutes < 60 || hours == 24 && minutes == 0).then_some(ClockTime(hours * 60 + minutes))
    }

    /// A time a day can be at (`24:00` is only an end).
    pub fn parse_moment(text: &str) -> Option<ClockTime> {
        Self::parse(text).filter(|t| t.0 < 24 * 60)
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// An ISO 639-1 language code, lower case: `da`, `ar`, `so`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// Two lower-case ASCII letters.
    pub fn parse(text: &str) -> Option<LanguageCode> {
        (text.len() == 2 && text.chars().all(|c| c.is_ascii_lowercase())).then(|| LanguageCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A need code of the taxonomy's spelling: lower-case words joined by hyphens (`education-homework`). Whether
/// the taxonomy has it is for the taxonomy to say.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NeedCode(String);

impl NeedCode {
    pub fn parse(text: &str) -> Option<NeedCode> {
        let well_formed = !text.is_empty()
            && text.len() <= 64
            && !text.starts_with('-')
            && !text.ends_with('-')
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        well_formed.then(|| NeedCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caseworker's own case reference for a family: never a CPR number. Stored only as a keyed hash.
#[derive(Clone, PartialEq, Eq)]
pub struct FamilyRef(String);

/// At most this many characters.
pub const FAMILY_REF_MAX_CHARS: usize = 200;

impl FamilyRef {
    /// The reference, trimmed, or why it is refused.
    pub fn parse(text: &str) -> Result<FamilyRef, &'static str> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty");
        }
        if text.chars().count() > FAMILY_REF_MAX_CHARS {
            return Err("must be at most 200 characters");
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if contains_cpr(text) {
            return Err(crate::referrals::CPR_REFUSED);
        }
        Ok(FamilyRef(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed: a family reference is personal data.
impl fmt::Debug for FamilyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FamilyRef(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times() {
        assert_eq!(ClockTime::parse("16:30").map(ClockTime::minutes), Some(990));
        assert_eq!(ClockTime::parse("24:00").map(ClockTime::minutes), Some(1440));
        assert_eq!(ClockTime::parse_moment("24:00"), None);
        for bad in ["24:01", "7:00", "12:60", "ab:cd", ""] {
            assert_eq!(ClockTime::parse(bad), None, "{bad}");
        }
        assert_eq!(ClockTime::parse("09:05").unwrap().to_string(), "09:05");
    }

    #[test]
    fn codes_and_points() {
        assert_eq!(LanguageCode::parse("ar").unwrap().as_str(), "ar");
        assert_eq!(LanguageCode::parse("AR"), None);
        assert_eq!(LanguageCode::parse("ara"), None);
        assert_eq!(LanguageCode::parse("a1"), None);
        assert!(NeedCode::parse("education-homework").is_some());
        for bad in ["", "Gæld", "debt economy", "-debt", "debt-"] {
            assert_eq!(NeedCode::parse(bad), None, "{bad}");
        }
        assert!(Point::parse(56.15, 10.13).is_ok());
        assert_eq!(Point::parse(95.0, 10.0).unwrap_err()[0].path, "latitude");
    }

    #[test]
    fn family_refs_are_case_references_never_cpr_numbers() {
        assert_eq!(FamilyRef::parse("  SAG-2026-117 ").unwrap().as_str(), "SAG-2026-117");
        assert!(FamilyRef::parse("010190-1234").is_err());
        assert!(FamilyRef::parse(" ").is_err());
        assert_eq!(format!("{:?}", FamilyRef::parse("SAG-1").unwrap()), "FamilyRef(…)");
    }
}
