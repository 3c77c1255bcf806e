//! E-mail notifications (issue 12): each person's choice per kind of notice, the outbox of mails to send
//! (and digest items waiting for the day's mail), and the notifier's cursors (the last referral event turned
//! into mails, the last digest day, the last month of stale-listing reminders). Written as fixed statements:
//! this migration must create the same tables whatever the table definitions later become.

use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationPreference {
    Table,
    PersonId,
    Kind,
    Mode,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    PersonId,
    Kind,
    Subject,
    Body,
    Digest,
    CreatedAt,
    SentAt,
    Attempts,
    LastError,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum NotificationCursor {
    Table,
    Name,
    Position,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreference::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(NotificationPreference::PersonId).uuid().not_null())
                    .col(ColumnDef::new(NotificationPreference::Kind).string().not_null())
                    .col(ColumnDef::new(NotificationPreference::Mode).string().not_null())
                    .col(
                        ColumnDef::new(NotificationPreference::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(NotificationPreference::PersonId)
                            .col(NotificationPreference::Kind),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MailOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MailOutbox::PersonId).uuid().not_null())
                    .col(ColumnDef::new(MailOutbox::Kind).string().not_null())
                    .col(ColumnDef::new(MailOutbox::Subject).text().not_null())
                    .col(ColumnDef::new(MailOutbox::Body).text().not_null())
                    .col(ColumnDef::new(MailOutbox::Digest).boolean().not_null())
                    .col(
                        ColumnDef::new(MailOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MailOutbox::SentAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(MailOutbox::Attempts).integer().not_null())
                    .col(ColumnDef::new(MailOutbox::LastError).text().null())
                    .col(
                        ColumnDef::new(MailOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The sender's question: unsent mails of one kind (immediate or digest item) due now.
        manager
            .create_index(
                Index::create()
                    .name("idx-mail_outbox-unsent")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::SentAt)
                    .col(MailOutbox::Digest)
                    .col(MailOutbox::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-mail_outbox-person_id")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::PersonId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationCursor::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NotificationCursor::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(NotificationCursor::Position).big_integer().not_null())
                    .col(
                        ColumnDef::new(NotificationCursor::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Referrals that happened before notifications existed are not announced now: the event cursor starts
        // at the latest event.
        let connection = manager.get_connection();
        let backend = manager.get_database_backend();
        let latest: i64 = connection
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COALESCE(MAX(id), 0) AS latest FROM referral_event",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "latest"))
            .transpose()?
            .unwrap_or(0);
        let insert = Query::insert()
            .into_table(NotificationCursor::Table)
            .columns([
                NotificationCursor::Name,
                NotificationCursor::Position,
                NotificationCursor::UpdatedAt,
            ])
            .values_panic(["referral-events".into(), latest.into(), chrono::Utc::now().into()])
            .on_conflict(OnConflict::column(NotificationCursor::Name).do_nothing().to_owned())
            .to_owned();
        manager.exec_stmt(insert).await
    }
}
