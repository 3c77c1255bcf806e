//! E-mail notifications (issue 12), the sending half: the settings, the words of each mail (Danish or English
//! by the person's language, from `web/i18n/`), the transport (SMTP with lettre, or `.eml` files in
//! `<data dir>/outbox/` when no SMTP server is set) and the background loop `serve` spawns.
//!
//! Nothing here runs inside a request. The loop reads what happened from the database (`entities::notifications`
//! turns referral events into outbox rows in the transaction that moves its cursor), sends the outbox's due
//! mails, bundles the day's digests and the month's stale-listing reminders. [`run_once`] is one turn of it,
//! for tests and for anyone who wants the mail out now.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use entities::notifications::{DueMail, MAX_ATTEMPTS, MailWriter, Notice, Written};
use entities::referral_rules::ReferralStatus;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::state::AppState;
use crate::web::i18n::{Lang, text};

/// Digests (daily) and stale-listing reminders (monthly) go out at the first turn after this hour (UTC; 07:00
/// or 08:00 in Aarhus).
pub const DIGEST_HOUR_UTC: u32 = 6;
/// How often the background loop turns.
pub const TICK: Duration = Duration::from_secs(2);
/// How long a claimed mail is left to its sender before another may try it.
const LEASE_MINUTES: i64 = 10;
const EVENTS_PER_TURN: u64 = 200;
const MAILS_PER_TURN: u64 = 50;

/// Where mail goes and how it links back (`BROBYGGER_SMTP_URL`, `BROBYGGER_MAIL_FROM`, `BROBYGGER_PUBLIC_URL`).
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://host:port` (plain, or `?tls=required` for STARTTLS), `smtps://user:pass@host` (TLS); None:
    /// every mail is written as an `.eml` file into `<data dir>/outbox/`.
    pub smtp_url: Option<String>,
    /// The sender address, e.g. `Brobygger <brobygger@aarhus.dk>`.
    pub from: String,
    /// The address people open Brobygger at, for links in mails.
    pub public_url: String,
    /// Whether `serve` runs the mail loop (tests turn it by hand with [`run_once`]).
    pub background: bool,
}

pub const DEFAULT_MAIL_FROM: &str = "Brobygger <brobygger@localhost>";
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            from: DEFAULT_MAIL_FROM.into(),
            public_url: DEFAULT_PUBLIC_URL.into(),
            background: true,
        }
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends mails as the settings say.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
    pub background: bool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => dir.display().to_string(),
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `settings`; without SMTP it writes into `<data_dir>/outbox/`.
    pub fn new(settings: &MailSettings, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("BROBYGGER_MAIL_FROM `{}` is not an address: {e}", settings.from))?;
        let transport = match settings.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("BROBYGGER_SMTP_URL is not usable: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => Transport::Files(data_dir.join("outbox")),
        };
        Ok(Mailer {
            transport,
            from,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            background: settings.background,
        })
    }

    /// The words of the mails, linking to this server.
    pub fn writer(&self) -> Arc<dyn MailWriter> {
        Arc::new(Words {
            public_url: self.public_url.clone(),
        })
    }

    /// The message as it goes out: the text, then a line on where to choose which mails one gets.
    fn message(&self, to: &str, mail: &DueMail) -> Result<Message, String> {
        let lang = Lang::parse(&mail.language).unwrap_or(Lang::Da);
        let footer = text(lang, "mail_footer").replace("{link}", &format!("{}/notifications", self.public_url));
        Message::builder()
            .from(self.from.clone())
            .to(to
                .parse::<Mailbox>()
                .map_err(|e| format!("the address {to} is not usable: {e}"))?)
            .subject(mail.subject.clone())
            .message_id(None)
            .header(ContentType::TEXT_PLAIN)
            .body(format!("{}\n\n-- \n{footer}\n", mail.body))
            .map_err(|e| e.to_string())
    }

    async fn deliver(&self, to: &str, mail: &DueMail) -> Result<(), String> {
        let message = self.message(to, mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| e.to_string())?;
                let name = format!("{}-{}.eml", Utc::now().format("%Y%m%dT%H%M%S"), mail.id);
                let path = dir.join(name);
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(to, subject = %mail.subject, path = %path.display(), "mail written to the outbox folder");
                Ok(())
            }
        }
    }
}

/// The mails' words, from the app's texts.
struct Words {
    public_url: String,
}

impl Words {
    fn referral_link(&self, id: uuid::Uuid) -> String {
        format!("{}/referrals/{id}", self.public_url)
    }
}

impl MailWriter for Words {
    fn notice(&self, notice: &Notice, language: &str) -> Written {
        let lang = Lang::parse(language).unwrap_or(Lang::Da);
        let fill = |key: &str, service: &str, link: &str| {
            text(lang, key).replace("{service}", service).replace("{link}", link)
        };
        match notice {
            Notice::NewReferral { referral_id, service } => Written {
                subject: fill("mail_new_referral_subject", service, ""),
                body: fill("mail_new_referral_body", service, &self.referral_link(*referral_id)),
            },
            Notice::StatusChanged {
                referral_id,
                service,
                status,
                reason,
            } => {
                let mut words = text(lang, &format!("mail_status_{}", status.as_str()));
                if let (ReferralStatus::Rejected, Some(reason)) = (status, reason) {
                    words = format!("{words} ({})", text(lang, &format!("reason_{}", reason.as_str())));
                }
                Written {
                    subject: fill("mail_status_subject", service, "").replace("{status}", &words),
                    body: fill("mail_status_body", service, &self.referral_link(*referral_id))
                        .replace("{status}", &words),
                }
            }
            Notice::StaleListings { organization, services } => {
                let list: Vec<String> = services.iter().map(|name| format!("- {name}")).collect();
                Written {
                    subject: text(lang, "mail_stale_subject").replace("{organization}", organization),
                    body: text(lang, "mail_stale_body")
                        .replace("{organization}", organization)
                        .replace("{n}", &services.len().to_string())
                        .replace("{months}", &entities::health::stale_months().to_string())
                        .replace("{list}", &list.join("\n"))
                        .replace("{link}", &format!("{}/listings", self.public_url)),
                }
            }
            Notice::WebhookFailing { url } => Written {
                subject: text(lang, "mail_webhook_failing_subject"),
                body: text(lang, "mail_webhook_failing_body")
                    .replace("{url}", url)
                    .replace("{link}", &format!("{}/docs", self.public_url)),
            },
        }
    }

    fn digest(&self, items: &[Written], language: &str) -> Written {
        let lang = Lang::parse(language).unwrap_or(Lang::Da);
        let n = items.len().to_string();
        let mut body = text(lang, "mail_digest_intro").replace("{n}", &n);
        for item in items {
            body.push_str("\n\n");
            body.push_str(&item.body);
        }
        Written {
            subject: text(lang, "mail_digest_subject").replace("{n}", &n),
            body,
        }
    }
}

/// When to try a mail again after its `attempts`-th failure: a minute, doubling, at most six hours; None
/// after [`MAX_ATTEMPTS`].
pub fn retry_at(now: DateTime<Utc>, attempts: i32) -> Option<DateTime<Utc>> {
    (attempts < MAX_ATTEMPTS).then(|| {
        let minutes = (1i64 << attempts.clamp(1, 20).saturating_sub(1)).min(360);
        now + chrono::Duration::minutes(minutes)
    })
}

/// Turns new referral events into outbox rows; returns how many events were read.
pub async fn notify(state: &AppState) -> entities::Result<usize> {
    let writer = state.mail.writer();
    let mut total = 0;
    loop {
        let read = state
            .store
            .notify_referral_events(writer.clone(), EVENTS_PER_TURN)
            .await?;
        total += read;
        if read < EVENTS_PER_TURN as usize {
            return Ok(total);
        }
    }
}

/// Sends the due mails; returns how many left. A failure is kept on the row and retried later.
pub async fn send_due(state: &AppState) -> entities::Result<usize> {
    let lease = chrono::Duration::minutes(LEASE_MINUTES);
    let mut sent = 0;
    loop {
        let due = state.store.claim_due_mails(MAILS_PER_TURN, lease).await?;
        if due.is_empty() {
            return Ok(sent);
        }
        for mail in &due {
            let Some(to) = &mail.to else {
                state
                    .store
                    .mail_failed(mail.id, "the person is disabled or gone".into(), None)
                    .await?;
                continue;
            };
            match state.mail.deliver(to, mail).await {
                Ok(()) => {
                    state.store.mail_sent(mail.id).await?;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(id = mail.id, attempts = mail.attempts, %error, "sending a mail failed");
                    state
                        .store
                        .mail_failed(mail.id, error, retry_at(Utc::now(), mail.attempts))
                        .await?;
                }
            }
        }
        if due.len() < MAILS_PER_TURN as usize {
            return Ok(sent);
        }
    }
}

/// The month of `now` as YYYYMM and its day as YYYYMMDD (the notifier's cursors).
fn month_key(now: DateTime<Utc>) -> i64 {
    i64::from(now.year()) * 100 + i64::from(now.month())
}

fn day_key(now: DateTime<Utc>) -> i64 {
    month_key(now) * 100 + i64::from(now.day())
}

/// One turn of the mail loop as if it were `now`: new referral events into the outbox; from [`DIGEST_HOUR_UTC`]
/// on, this month's stale-listing reminders (once a month) and today's digests (once a day); then every due
/// mail out. Returns how many mails were sent.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> entities::Result<usize> {
    notify(state).await?;
    // Reminders and digests wait for the morning: nobody needs a mail at midnight.
    if now.hour() >= DIGEST_HOUR_UTC {
        let writer = state.mail.writer();
        let reminders = state
            .store
            .remind_stale_listings(writer.clone(), month_key(now))
            .await?;
        if reminders > 0 {
            tracing::info!(mails = reminders, "reminded partners of stale listings");
        }
        let digests = state.store.bundle_digests(writer, day_key(now)).await?;
        if digests > 0 {
            tracing::info!(mails = digests, "bundled the daily digests");
        }
    }
    send_due(state).await
}

/// The background loop `serve` spawns: a turn every [`TICK`] while the app lives.
pub fn spawn(state: Weak<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else { break };
            if let Err(error) = run_once(&state, Utc::now()).await {
                tracing::warn!(%error, "the mail loop failed; trying again");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop() {
        let now = Utc::now();
        assert_eq!(retry_at(now, 1), Some(now + chrono::Duration::minutes(1)));
        assert_eq!(retry_at(now, 3), Some(now + chrono::Duration::minutes(4)));
        assert_eq!(retry_at(now, 7), Some(now + chrono::Duration::minutes(64)));
        assert_eq!(retry_at(now, MAX_ATTEMPTS), None);
    }

    #[test]
    fn cursors_are_calendar_numbers() {
        let at: DateTime<Utc> = "2026-12-01T08:30:00Z".parse().unwrap();
        assert_eq!(month_key(at), 202612);
        assert_eq!(day_key(at), 20261201);
    }

    #[test]
    fn a_rejection_names_its_reason_in_words_and_no_family() {
        let words = Words {
            public_url: "https://brobygger.aarhus.dk".into(),
        };
        let id = uuid::Uuid::nil();
        let written = words.notice(
            &Notice::StatusChanged {
                referral_id: id,
                service: "Lektiecafé Gellerup".into(),
                status: ReferralStatus::Rejected,
                reason: Some(entities::referral_rules::RejectionReason::NotEligible),
            },
            "da",
        );
        assert!(written.body.contains("afvist (ikke i målgruppen)"), "{}", written.body);
        assert!(
            written
                .body
                .contains(&format!("https://brobygger.aarhus.dk/referrals/{id}"))
        );
        let english = words.notice(
            &Notice::NewReferral {
                referral_id: id,
                service: "Homework café".into(),
            },
            "en",
        );
        assert!(
            english.body.starts_with("You have a new referral to Homework café"),
            "{}",
            english.body
        );
    }
}
