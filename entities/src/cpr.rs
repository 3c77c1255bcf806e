//! Detecting Danish CPR numbers (personnumre) in free text.
//!
//! Brobygger refers families by a pseudonymous `family_ref` and must not hold their CPR numbers
//! (data minimisation). Free-text fields a caseworker or partner writes (referral messages,
//! transition notes) are refused when [`contains_cpr`] finds something that looks like one.
//!
//! The check errs on the side of refusing: it looks for a valid birth date followed by four
//! digits, and does **not** apply the modulus-11 check, which CPR numbers issued since 2007 need
//! not pass.

/// Characters accepted between the date and the serial number: ASCII hyphen and space, plus the
/// dashes and spaces word processors and phones substitute for them.
const SEPARATORS: [char; 9] = [
    '-',        // hyphen-minus
    ' ',        // space
    '\u{a0}',   // no-break space
    '\u{202f}', // narrow no-break space
    '\u{2010}', // hyphen
    '\u{2011}', // non-breaking hyphen
    '\u{2012}', // figure dash
    '\u{2013}', // en dash
    '\u{2212}', // minus sign
];

/// Whether `text` contains something that looks like a CPR number: `ddmmyy-xxxx`,
/// `ddmmyy xxxx` or `ddmmyyxxxx`, where `ddmmyy` is a real calendar date.
///
/// The digit groups must stand alone: six digits, one separator (`-`, a space or a typographic
/// variant), four digits; or exactly ten digits in a row. Longer digit runs (account numbers,
/// 12-digit ids) and shorter ones (phone numbers, dates like `01-01-1990`) do not match. The
/// century for the leap-year check comes from the seventh digit, as in the CPR rules.
pub fn contains_cpr(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        i = digit_run_end(bytes, start);
        if run_is_cpr(text, start, i) {
            return true;
        }
    }
    false
}

/// Whether the maximal digit run `text[start..end]` is a CPR number on its own (ten digits) or
/// its date part (six digits followed by one separator and exactly four digits).
fn run_is_cpr(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    match end - start {
        10 => is_cpr(&bytes[start..end]),
        6 => {
            // ASCII digits are single bytes, so `end` is a char boundary.
            let Some(sep) = text[end..].chars().next() else {
                return false;
            };
            if !SEPARATORS.contains(&sep) {
                return false;
            }
            let serial_start = end + sep.len_utf8();
            let serial_end = digit_run_end(bytes, serial_start);
            if serial_end - serial_start != 4 {
                return false;
            }
            let mut digits = [0u8; 10];
            digits[..6].copy_from_slice(&bytes[start..end]);
            digits[6..].copy_from_slice(&bytes[serial_start..serial_end]);
            is_cpr(&digits)
        }
        _ => false,
    }
}

/// The index just past the run of ASCII digits starting at `start`.
fn digit_run_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(bytes.len(), |len| start + len)
}

/// Whether ten ASCII digits `ddmmyyxxxx` start with a valid birth date.
fn is_cpr(digits: &[u8]) -> bool {
    if digits.len() != 10 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(digits[i] - b'0');
    let day = d(0) * 10 + d(1);
    let month = d(2) * 10 + d(3);
    let yy = d(4) * 10 + d(5);
    let year = century(yy, d(6)) + yy;
    (1..=days_in_month(year, month)).contains(&day)
}

/// The century of a CPR birth year, from the two-digit year and the seventh digit (CPR rules:
/// 0–3 → 1900s; 4 and 9 → 2000s up to 36, else 1900s; 5–8 → 2000s up to 57, else 1800s).
fn century(yy: u32, seventh: u32) -> u32 {
    match seventh {
        0..=3 => 1900,
        4 | 9 if yy <= 36 => 2000,
        4 | 9 => 1900,
        _ if yy <= 57 => 2000,
        _ => 1800,
    }
}

/// Days in `month` of `year` (Gregorian); 0 for a month outside 1–12.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Gregorian leap years: 1996 and 2000 are, 1900 and 1997 are not.
fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cpr_numbers() {
        for text in [
            "CPR 010190-1234",
            "0101901234",
            "født 311299 1234",
            "010190-1234",
            "Barnets cpr: 150812-4321.",
            "(cpr.nr. 150812-4321)",
            "mor 2302851234, far 010180-1111",
            "310120-5678 er nævnt i sagen",
            "010190\u{a0}1234",
            "010190\u{2013}1234",
            "æøå 010190-1234 æøå",
            "abc0101901234xyz",
        ] {
            assert!(contains_cpr(text), "{text:?} should match");
        }
    }

    #[test]
    fn ignores_things_that_are_not_cpr_numbers() {
        for text in [
            "",
            "ingen tal her",
            "+45 12345678",
            "12345678",
            "12 34 56 78",
            "320190-1234",
            "011390-1234",
            "000190-1234",
            "010090-1234",
            "1.000.000",
            "1.000.000 kr",
            "010190123456",
            "01-01-1990",
            "1990-01-01",
            "01.01.1990",
            "010190",
            "010190-123",
            "010190-12345",
            "1010190-1234",
            "00101901234",
            "010190--1234",
            "010190  1234",
            "010190/1234",
            "310490-1234",
        ] {
            assert!(!contains_cpr(text), "{text:?} should not match");
        }
    }

    #[test]
    fn checks_days_against_the_month() {
        assert!(contains_cpr("300490-1234"));
        assert!(!contains_cpr("310490-1234"));
        assert!(contains_cpr("311290-1234"));
        assert!(!contains_cpr("300290-1234"));
    }

    #[test]
    fn leap_days_use_the_century_from_the_seventh_digit() {
        assert!(contains_cpr("290296-1234")); // 1996
        assert!(!contains_cpr("290297-1234")); // 1997
        assert!(contains_cpr("290200-4234")); // 2000 is a leap year
        assert!(contains_cpr("290200-5234")); // 2000
        assert!(!contains_cpr("290200-1234")); // 1900 is not
        assert!(!contains_cpr("2902001234")); // 1900
        assert!(contains_cpr("2902004234")); // 2000
    }

    #[test]
    fn centuries_follow_the_cpr_rules() {
        assert_eq!(century(99, 0), 1900);
        assert_eq!(century(0, 3), 1900);
        assert_eq!(century(36, 4), 2000);
        assert_eq!(century(37, 4), 1900);
        assert_eq!(century(57, 5), 2000);
        assert_eq!(century(58, 8), 1800);
        assert_eq!(century(36, 9), 2000);
        assert_eq!(century(37, 9), 1900);
    }

    #[test]
    fn does_not_require_modulus_11() {
        // 010190-1234 fails the modulus-11 check; it still counts.
        let digits = [0, 1, 0, 1, 9, 0, 1, 2, 3, 4];
        let weights = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
        let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
        assert_ne!(sum % 11, 0);
        assert!(contains_cpr("010190-1234"));
    }
}
