//! Referrals: the referral itself, the needs it addresses and its status events, as the first release created
//! them. Written as fixed statements: this migration must create the same tables whatever the table
//! definitions later become (`referral.sender_team` came later, with migration 000003).

use sea_orm_migration::prelude::*;

use super::{index, serial_key, timestamp, uuid_key};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Referral {
    Table,
    Id,
    ServiceId,
    OrganizationId,
    SenderKeyId,
    FamilyHash,
    Message,
    ConsentGivenAt,
    ConsentScope,
    PreferredLanguage,
    ContactPreference,
    Priority,
    Status,
    HeldFrom,
    RejectionReason,
    Area,
    Version,
    CreatedAt,
    UpdatedAt,
    FirstResponseAt,
    AcceptedAt,
    ClosedAt,
    PurgedAt,
}

#[derive(DeriveIden)]
enum ReferralNeed {
    Table,
    Id,
    ReferralId,
    NeedCode,
}

#[derive(DeriveIden)]
enum ReferralEvent {
    Table,
    Id,
    ReferralId,
    FromStatus,
    ToStatus,
    Actor,
    Role,
    KeyId,
    OrganizationId,
    Reason,
    Note,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Referral::Table)
                    .if_not_exists()
                    .col(uuid_key(Referral::Id))
                    .col(ColumnDef::new(Referral::ServiceId).uuid().not_null())
                    .col(ColumnDef::new(Referral::OrganizationId).uuid().not_null())
                    .col(ColumnDef::new(Referral::SenderKeyId).uuid().not_null())
                    .col(ColumnDef::new(Referral::FamilyHash).string().null())
                    .col(ColumnDef::new(Referral::Message).text().null())
                    .col(timestamp(Referral::ConsentGivenAt))
                    .col(ColumnDef::new(Referral::ConsentScope).string().not_null())
                    .col(ColumnDef::new(Referral::PreferredLanguage).string().null())
                    .col(ColumnDef::new(Referral::ContactPreference).string().null())
                    .col(ColumnDef::new(Referral::Priority).string().not_null())
                    .col(ColumnDef::new(Referral::Status).string().not_null())
                    .col(ColumnDef::new(Referral::HeldFrom).string().null())
                    .col(ColumnDef::new(Referral::RejectionReason).string().null())
                    .col(ColumnDef::new(Referral::Area).string().null())
                    .col(ColumnDef::new(Referral::Version).big_integer().not_null())
                    .col(timestamp(Referral::CreatedAt))
                    .col(timestamp(Referral::UpdatedAt))
                    .col(
                        ColumnDef::new(Referral::FirstResponseAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Referral::AcceptedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Referral::ClosedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Referral::PurgedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx-referral-service_id", Referral::ServiceId),
            ("idx-referral-organization_id", Referral::OrganizationId),
            ("idx-referral-sender_key_id", Referral::SenderKeyId),
            ("idx-referral-family_hash", Referral::FamilyHash),
            ("idx-referral-status", Referral::Status),
            ("idx-referral-created_at", Referral::CreatedAt),
            ("idx-referral-closed_at", Referral::ClosedAt),
        ] {
            index(manager, name, Referral::Table, column).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ReferralNeed::Table)
                    .if_not_exists()
                    .col(uuid_key(ReferralNeed::Id))
                    .col(ColumnDef::new(ReferralNeed::ReferralId).uuid().not_null())
                    .col(ColumnDef::new(ReferralNeed::NeedCode).string().not_null())
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-referral_need-referral_id",
            ReferralNeed::Table,
            ReferralNeed::ReferralId,
        )
        .await?;
        index(
            manager,
            "idx-referral_need-need_code",
            ReferralNeed::Table,
            ReferralNeed::NeedCode,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReferralEvent::Table)
                    .if_not_exists()
                    .col(serial_key(ReferralEvent::Id))
                    .col(ColumnDef::new(ReferralEvent::ReferralId).uuid().not_null())
                    .col(ColumnDef::new(ReferralEvent::FromStatus).string().null())
                    .col(ColumnDef::new(ReferralEvent::ToStatus).string().not_null())
                    .col(ColumnDef::new(ReferralEvent::Actor).string().not_null())
                    .col(ColumnDef::new(ReferralEvent::Role).string().not_null())
                    .col(ColumnDef::new(ReferralEvent::KeyId).uuid().null())
                    .col(ColumnDef::new(ReferralEvent::OrganizationId).uuid().null())
                    .col(ColumnDef::new(ReferralEvent::Reason).string().null())
                    .col(ColumnDef::new(ReferralEvent::Note).text().null())
                    .col(timestamp(ReferralEvent::At))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-referral_event-referral_id",
            ReferralEvent::Table,
            ReferralEvent::ReferralId,
        )
        .await
    }
}
