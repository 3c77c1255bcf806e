//! Openings with a calendar: which weeks of the month, which day of the month, between which dates. Each
//! opening of a service is packed into one `u64` of the `open_rule` fast field, so that "open on 5 December"
//! is decided per document from the column, without loading the document.

use crate::WeeklyOpening;

/// `weekday` of an opening on a day of the month rather than a weekday.
pub const MONTH_DAY: u8 = 7;
/// Bits of [`WeeklyOpening::weeks`]: the first ..= fifth of its weekday in the month, the last, the one
/// before the last. No bit set: every week.
pub const LAST_WEEK: u8 = 1 << 5;
pub const SECOND_LAST_WEEK: u8 = 1 << 6;

/// A calendar day, as "open on this date" needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDay {
    /// Days since 2000-01-01.
    pub day_number: u16,
    /// 0 = Monday ..= 6 = Sunday.
    pub weekday: u8,
    /// 1 ..= 31
    pub month_day: u8,
    pub days_in_month: u8,
}

impl CalendarDay {
    fn week_of_month(self) -> u8 {
        (self.month_day - 1) / 7 + 1
    }

    fn weeks_from_end(self) -> u8 {
        (self.days_in_month - self.month_day) / 7 + 1
    }
}

/// A date to be open on, and the day before it (an opening after midnight belongs to the day it began).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenDate {
    pub day: CalendarDay,
    pub before: CalendarDay,
}

pub fn pack(o: &WeeklyOpening) -> u64 {
    let day_bits = if o.weekday == MONTH_DAY {
        u64::from((o.month_day + 32) as u8 & 0x3f)
    } else {
        u64::from(o.weeks & 0x7f)
    };
    u64::from(o.closes_minute & 0x7ff)
        | u64::from(o.opens_minute & 0x7ff) << 11
        | u64::from(o.weekday & 0x7) << 22
        | day_bits << 25
        | u64::from(o.first_day.unwrap_or(0)) << 32
        | u64::from(o.last_day.unwrap_or(u16::MAX)) << 48
}

fn unpack(rule: u64) -> WeeklyOpening {
    let weekday = ((rule >> 22) & 0x7) as u8;
    let day_bits = ((rule >> 25) & 0x7f) as u8;
    let (weeks, month_day) = if weekday == MONTH_DAY {
        (0, (day_bits & 0x3f) as i8 - 32)
    } else {
        (day_bits, 0)
    };
    WeeklyOpening {
        weekday,
        opens_minute: ((rule >> 11) & 0x7ff) as u16,
        closes_minute: (rule & 0x7ff) as u16,
        weeks,
        month_day,
        first_day: Some((rule >> 32) as u16).filter(|d| *d != 0),
        last_day: Some((rule >> 48) as u16).filter(|d| *d != u16::MAX),
    }
}

/// Whether the opening happens on `day` (at some hour).
fn occurs_on(o: &WeeklyOpening, day: CalendarDay) -> bool {
    if o.first_day.is_some_and(|f| day.day_number < f) || o.last_day.is_some_and(|l| day.day_number > l) {
        return false;
    }
    if o.weekday == MONTH_DAY {
        return if o.month_day > 0 {
            day.month_day as i8 == o.month_day
        } else {
            i16::from(day.days_in_month) + 1 + i16::from(o.month_day) == i16::from(day.month_day)
        };
    }
    if o.weekday != day.weekday {
        return false;
    }
    o.weeks == 0
        || o.weeks & (1 << (day.week_of_month() - 1)) != 0
        || (o.weeks & LAST_WEEK != 0 && day.weeks_from_end() == 1)
        || (o.weeks & SECOND_LAST_WEEK != 0 && day.weeks_from_end() == 2)
}

/// Whether the packed opening `rule` is open on `date`, at `minute` of that day when given.
pub fn open_on(rule: u64, date: &OpenDate, minute: Option<u16>) -> bool {
    let o = unpack(rule);
    let overnight = o.closes_minute <= o.opens_minute;
    match minute {
        None => occurs_on(&o, date.day),
        Some(t) => {
            let today = occurs_on(&o, date.day) && o.opens_minute <= t && (overnight || t < o.closes_minute);
            let from_yesterday = overnight && t < o.closes_minute && occurs_on(&o, date.before);
            today || from_yesterday
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// December 2026: the 1st is a Tuesday, 31 days.
    fn december(month_day: u8) -> CalendarDay {
        CalendarDay {
            day_number: 9830 + u16::from(month_day),
            weekday: month_day % 7,
            month_day,
            days_in_month: 31,
        }
    }

    fn on(month_day: u8) -> OpenDate {
        OpenDate {
            day: december(month_day),
            before: december(month_day - 1),
        }
    }

    fn saturday(weeks: u8) -> u64 {
        pack(&WeeklyOpening {
            weekday: 5,
            opens_minute: 600,
            closes_minute: 780,
            weeks,
            ..Default::default()
        })
    }

    #[test]
    fn the_first_saturday_is_the_5th_of_december_2026() {
        assert_eq!(december(5).weekday, 5);
        assert!(open_on(saturday(1), &on(5), None));
        assert!(!open_on(saturday(1), &on(12), None));
        assert!(open_on(saturday(0), &on(12), None), "every Saturday");
        assert!(open_on(saturday(LAST_WEEK), &on(26), None));
        assert!(!open_on(saturday(LAST_WEEK), &on(19), None));
        assert!(open_on(saturday(SECOND_LAST_WEEK), &on(19), None));
        assert!(open_on(saturday(1), &on(5), Some(630)));
        assert!(!open_on(saturday(1), &on(5), Some(780)), "closed at 13:00");
    }

    #[test]
    fn month_days_validity_and_overnight_openings() {
        let last_day = pack(&WeeklyOpening {
            weekday: MONTH_DAY,
            month_day: -1,
            opens_minute: 600,
            closes_minute: 720,
            ..Default::default()
        });
        assert!(open_on(last_day, &on(31), None));
        assert!(!open_on(last_day, &on(30), None));
        let mut bounded = unpack(saturday(0));
        bounded.last_day = Some(december(12).day_number);
        assert!(open_on(pack(&bounded), &on(12), None));
        assert!(!open_on(pack(&bounded), &on(19), None));
        let night = pack(&WeeklyOpening {
            weekday: 4, // Friday 22:00 – 06:00
            opens_minute: 1320,
            closes_minute: 360,
            ..Default::default()
        });
        assert!(open_on(night, &on(4), Some(1380)));
        assert!(open_on(night, &on(5), Some(120)), "Saturday 02:00, from Friday night");
        assert!(!open_on(night, &on(5), Some(1380)));
    }
}
