//! People who log in to the web app, their sessions and family lists; referrals and audit rows name the
//! person. Written as fixed statements: this migration must create the same tables whatever the table
//! definitions later become.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
    Email,
    Name,
    Role,
    OrganizationId,
    OrganizationAdmin,
    Team,
    PasswordHash,
    MustChangePassword,
    Language,
    FailedLogins,
    LockedUntil,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum WebSession {
    Table,
    TokenHash,
    PersonId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum FamilyListItem {
    Table,
    Id,
    PersonId,
    ServiceId,
    AddedAt,
}

#[derive(DeriveIden)]
enum Referral {
    Table,
    SenderTeam,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    PersonId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Person::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Person::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Person::Email).string().not_null().unique_key())
                    .col(ColumnDef::new(Person::Name).string().null())
                    .col(ColumnDef::new(Person::Role).string().not_null())
                    .col(ColumnDef::new(Person::OrganizationId).uuid().null())
                    .col(
                        ColumnDef::new(Person::OrganizationAdmin)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Person::Team).string().null())
                    .col(ColumnDef::new(Person::PasswordHash).string().not_null())
                    .col(
                        ColumnDef::new(Person::MustChangePassword)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Person::Language).string().not_null())
                    .col(ColumnDef::new(Person::FailedLogins).integer().not_null().default(0))
                    .col(ColumnDef::new(Person::LockedUntil).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Person::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Person::DisabledAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebSession::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(WebSession::TokenHash).string().not_null().primary_key())
                    .col(ColumnDef::new(WebSession::PersonId).uuid().not_null())
                    .col(ColumnDef::new(WebSession::CsrfToken).string().not_null())
                    .col(
                        ColumnDef::new(WebSession::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebSession::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-web_session-person_id")
                    .table(WebSession::Table)
                    .col(WebSession::PersonId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FamilyListItem::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(FamilyListItem::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(FamilyListItem::PersonId).uuid().not_null())
                    .col(ColumnDef::new(FamilyListItem::ServiceId).uuid().not_null())
                    .col(
                        ColumnDef::new(FamilyListItem::AddedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-family_list_item-person_id")
                    .table(FamilyListItem::Table)
                    .col(FamilyListItem::PersonId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // Fixed DDL: the first two migrations create `referral` and `audit_event` without these columns, so
        // this adds them. The guards are for databases created by earlier builds, whose first migrations
        // created those tables from the table definitions of the day: those made after this migration was
        // written already have the columns (with the same types), and adding them twice would fail.
        if !manager.has_column("referral", "sender_team").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Referral::Table)
                        .add_column(ColumnDef::new(Referral::SenderTeam).string().null())
                        .to_owned(),
                )
                .await?;
        }
        if !manager.has_column("audit_event", "person_id").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvent::Table)
                        .add_column(ColumnDef::new(AuditEvent::PersonId).uuid().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
