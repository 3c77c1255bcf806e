//! Facts in words a caseworker can read aloud: opening hours ("tirsdag og torsdag 15–17.30"), distance
//! ("300 m fra jer"), ages ("for 6–16 år"), languages ("arabisk"). The words come from the texts files.

use chrono::NaiveDate;
use entities::directory::{Schedule, WEEKDAYS, parse_byday};

use crate::web::i18n::{Lang, text};

/// "15", "17.30" in Danish; "15:00", "17:30" in English.
pub fn clock(lang: Lang, hh_mm: &str) -> String {
    let (hours, minutes) = hh_mm.split_once(':').unwrap_or((hh_mm, "00"));
    let hours = hours.trim_start_matches('0');
    let hours = if hours.is_empty() { "0" } else { hours };
    match lang {
        Lang::Da if minutes == "00" => hours.to_owned(),
        Lang::Da => format!("{hours}.{minutes}"),
        Lang::En => format!("{hours}:{minutes}"),
    }
}

/// "a", "a og b", "a, b og c" (English: "and").
pub fn join_words(lang: Lang, words: &[String]) -> String {
    join_with(&text(lang, "and"), words)
}

fn join_with(and: &str, words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// Days as words, runs of three or more as a range: "mandag–fredag", "tirsdag og torsdag".
fn days_in_words(word: &dyn Fn(&str) -> String, days: &[usize]) -> String {
    let day_name = |index: usize| word(&format!("day_{}", WEEKDAYS[index].to_lowercase()));
    let mut parts = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{}–{}", day_name(days[i]), day_name(days[j])));
        } else {
            parts.extend((i..=j).map(|k| day_name(days[k])));
        }
        i = j + 1;
    }
    join_with(&word("and"), &parts)
}

/// Opening hours in words, one line per distinct time span: ["tirsdag og torsdag 15–17.30"].
pub fn hours_in_words(lang: Lang, schedules: &[Schedule]) -> Vec<String> {
    hours_with_words(&|key: &str| text(lang, key), lang, schedules)
}

/// Opening hours with the day names and "and" from `word` (the printed list's languages); times are
/// written the Danish way except in English. Every other week, days of the month and the dates a schedule
/// is valid between are said too.
pub fn hours_with_words(word: &dyn Fn(&str) -> String, lang: Lang, schedules: &[Schedule]) -> Vec<String> {
    // One line per (opens, closes, ordinal, interval, validity): weekly days together, "first Saturday of the
    // month" apart.
    type Span = (String, String, Option<i8>, u32, (Option<NaiveDate>, Option<NaiveDate>));
    let mut spans: Vec<(Span, Vec<usize>)> = Vec::new();
    let mut lines = Vec::new();
    for schedule in schedules {
        let time = format!(
            "{}–{}",
            clock(lang, &schedule.opens_at),
            clock(lang, &schedule.closes_at)
        );
        let suffix = every_and_validity(word, lang, schedule);
        for (ordinal, day) in schedule
            .byday
            .iter()
            .filter_map(|d| parse_byday(&d.to_ascii_uppercase()))
        {
            let key = (
                schedule.opens_at.clone(),
                schedule.closes_at.clone(),
                ordinal,
                schedule.interval,
                schedule.window(),
            );
            match spans.iter_mut().find(|(k, _)| *k == key) {
                Some((_, days)) => days.push(day),
                None => spans.push((key, vec![day])),
            }
        }
        let monthly = schedule.freq == entities::directory::Freq::Monthly;
        if monthly && !schedule.bymonthday.is_empty() {
            let days: Vec<String> = schedule
                .bymonthday
                .iter()
                .map(|&d| match d {
                    -1 => word("last_day"),
                    d if d > 0 => format!("{d}."),
                    d => format!("{}.{}", word("day_from_end"), -d),
                })
                .collect();
            lines.push(format!(
                "{} {} {time}{suffix}",
                join_with(&word("and"), &days),
                word("of_month")
            ));
        }
        if schedule.byday.is_empty() && (!monthly || schedule.bymonthday.is_empty()) {
            lines.push(format!("{time}{suffix}"));
        }
    }
    let mut weekly: Vec<String> = spans
        .into_iter()
        .map(|((opens, closes, ordinal, interval, window), mut days)| {
            days.sort_unstable();
            days.dedup();
            let time = format!("{}–{}", clock(lang, &opens), clock(lang, &closes));
            let suffix = every_and_validity(
                word,
                lang,
                &Schedule {
                    interval,
                    valid_from: window.0,
                    valid_to: window.1,
                    ..Default::default()
                },
            );
            match ordinal {
                None => format!("{} {time}{suffix}", days_in_words(word, &days)),
                Some(n) => format!(
                    "{} {} {} {time}{suffix}",
                    word(&format!("ordinal_{n}")),
                    days_in_words(word, &days),
                    word("of_month")
                ),
            }
        })
        .collect();
    weekly.append(&mut lines);
    weekly
}

/// ", every 2nd week (until 31.12.2026)": what bounds a schedule beyond its days and hours.
fn every_and_validity(word: &dyn Fn(&str) -> String, lang: Lang, schedule: &Schedule) -> String {
    let mut out = String::new();
    if schedule.interval > 1 {
        out.push_str(&format!(
            ", {}",
            word("every_nth").replace("{n}", &schedule.interval.to_string())
        ));
    }
    let date = |d: NaiveDate| match lang {
        Lang::En => d.format("%-d %b %Y").to_string(),
        _ => d.format("%-d.%-m.%Y").to_string(),
    };
    match schedule.window() {
        (Some(from), Some(to)) => out.push_str(&format!(" ({}–{})", date(from), date(to))),
        (Some(from), None) => out.push_str(&format!(" ({} {})", word("from_date"), date(from))),
        (None, Some(to)) => out.push_str(&format!(" ({} {})", word("until_date"), date(to))),
        (None, None) => {}
    }
    out
}

/// "300 m" under a kilometre, else "2,1 km" (Danish decimal comma).
pub fn distance(lang: Lang, km: f64) -> String {
    if km < 1.0 {
        format!("{} m", ((km * 1000.0) / 10.0).round() as u32 * 10)
    } else {
        let value = format!("{km:.1}");
        match lang {
            Lang::Da => format!("{} km", value.replace('.', ",")),
            Lang::En => format!("{value} km"),
        }
    }
}

/// "for 6–16 år", "fra 18 år", "op til 12 år", or None for all ages.
pub fn ages(lang: Lang, minimum: Option<u32>, maximum: Option<u32>) -> Option<String> {
    let (key, values) = match (minimum, maximum) {
        (Some(min), Some(max)) => ("ages_between", format!("{min}–{max}")),
        (Some(min), None) if min > 0 => ("ages_from", min.to_string()),
        (_, Some(max)) => ("ages_up_to", max.to_string()),
        _ => return None,
    };
    Some(text(lang, key).replace("{}", &values))
}

/// A language code's name ("arabisk"); the code itself when we have no name for it.
pub fn language_name(lang: Lang, code: &str) -> String {
    let key = format!("lang_{code}");
    let name = text(lang, &key);
    if name == key { code.to_owned() } else { name }
}

/// The facts a search hit's "why" is read from.
#[derive(Default)]
pub struct WhyFacts<'a> {
    /// Labels of the needs matched, in the sentence's language.
    pub needs: Vec<String>,
    /// Query words the offer matched (said when no need was matched).
    pub matched_terms: &'a [String],
    /// Languages (codes) the offer speaks that the family speaks.
    pub speaks: Vec<String>,
    pub distance_km: Option<f64>,
    pub in_service_area: bool,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    /// The weekday (0 = Monday) and minute of the day asked for: the offer is open then.
    pub open_on: Option<u8>,
    pub open_at: Option<u16>,
    pub free: bool,
    pub full: bool,
}

/// Why an offer was found, to read aloud: "Lektiehjælp · taler arabisk · 300 m fra jer · for 6–16 år · gratis".
pub fn why_sentence(lang: Lang, facts: &WhyFacts) -> String {
    let mut parts = Vec::new();
    if !facts.needs.is_empty() {
        parts.push(facts.needs.join(", "));
    } else if !facts.matched_terms.is_empty() {
        let quoted: Vec<String> = facts.matched_terms.iter().map(|t| format!("“{t}”")).collect();
        parts.push(text(lang, "why_mentions").replace("{}", &join_words(lang, &quoted)));
    }
    if !facts.speaks.is_empty() {
        let names: Vec<String> = facts.speaks.iter().map(|code| language_name(lang, code)).collect();
        parts.push(text(lang, "why_speaks").replace("{}", &join_words(lang, &names)));
    }
    if facts.in_service_area {
        parts.push(text(lang, "why_in_area"));
    } else if let Some(km) = facts.distance_km {
        parts.push(text(lang, "why_distance").replace("{}", &distance(lang, km)));
    }
    if let Some(ages) = ages(lang, facts.minimum_age, facts.maximum_age) {
        parts.push(ages);
    }
    match (facts.open_on, facts.open_at) {
        (None, None) => {}
        (day, at) => {
            let mut when = Vec::new();
            if let Some(day) = day.and_then(|d| WEEKDAYS.get(usize::from(d))) {
                when.push(text(lang, &format!("day_{}", day.to_lowercase())));
            }
            if let Some(minute) = at {
                let clock_text = clock(lang, &format!("{:02}:{:02}", minute / 60, minute % 60));
                when.push(text(lang, "why_at").replace("{}", &clock_text));
            }
            parts.push(text(lang, "why_open").replace("{}", &when.join(" ")));
        }
    }
    if facts.free {
        parts.push(text(lang, "free"));
    }
    if facts.full {
        parts.push(text(lang, "why_full"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(days: &[&str], opens: &str, closes: &str) -> Schedule {
        let byday: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        Schedule {
            freq: entities::directory::Freq::implied_by(&byday, &[]),
            interval: 1,
            byday,
            opens_at: opens.into(),
            closes_at: closes.into(),
            ..Default::default()
        }
    }

    #[test]
    fn opening_hours_read_as_words() {
        let hours = hours_in_words(
            Lang::Da,
            &[schedule(&["TU"], "15:00", "17:30"), schedule(&["TH"], "15:00", "17:30")],
        );
        assert_eq!(hours, ["tirsdag og torsdag 15–17.30"]);
        let week = hours_in_words(Lang::En, &[schedule(&["MO", "TU", "WE", "TH", "FR"], "09:00", "15:00")]);
        assert_eq!(week, ["Monday–Friday 9:00–15:00"]);
        let mixed = hours_in_words(Lang::Da, &[schedule(&["MO", "WE", "SA"], "10:00", "12:00")]);
        assert_eq!(mixed, ["mandag, onsdag og lørdag 10–12"]);
        let monthly = hours_in_words(Lang::Da, &[schedule(&["1SA"], "10:00", "13:00")]);
        assert_eq!(monthly, ["første lørdag i måneden 10–13"]);
        let last = hours_in_words(Lang::En, &[schedule(&["-1FR"], "16:00", "18:00")]);
        assert_eq!(last, ["last Friday of the month 16:00–18:00"]);
        let mut ending = schedule(&["SA"], "10:00", "13:00");
        ending.interval = 2;
        ending.until = Some(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(
            hours_in_words(Lang::Da, &[ending.clone()]),
            ["lørdag 10–13, hver 2. uge (til 31.12.2026)"]
        );
        assert_eq!(
            hours_in_words(Lang::En, &[ending]),
            ["Saturday 10:00–13:00, every 2 weeks (until 31 Dec 2026)"]
        );
        let mut month_days = schedule(&[], "10:00", "12:00");
        month_days.bymonthday = vec![15, -1];
        month_days.freq = entities::directory::Freq::Monthly;
        assert_eq!(
            hours_in_words(Lang::Da, &[month_days]),
            ["15. og sidste dag i måneden 10–12"]
        );
    }

    #[test]
    fn distances_and_ages_read_as_words() {
        assert_eq!(distance(Lang::Da, 0.304), "300 m");
        assert_eq!(distance(Lang::Da, 2.14), "2,1 km");
        assert_eq!(distance(Lang::En, 2.14), "2.1 km");
        assert_eq!(ages(Lang::Da, Some(6), Some(16)).unwrap(), "for 6–16 år");
        assert_eq!(ages(Lang::En, Some(18), None).unwrap(), "from age 18");
        assert_eq!(ages(Lang::Da, None, None), None);
        assert_eq!(language_name(Lang::Da, "ar"), "arabisk");
        assert_eq!(language_name(Lang::Da, "xx"), "xx");
    }
}
