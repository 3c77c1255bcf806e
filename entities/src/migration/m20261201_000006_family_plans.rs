//! Family plans (issue 17): a plan per family reference, its goals, their follow-ups, the referrals that serve a
//! goal, and the municipality's programmes (targets per goal kind) plans are enrolled in. Written as fixed
//! statements: this migration must create the same tables whatever the table definitions later become.

use sea_orm_migration::prelude::*;

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FamilyPlan {
    Table,
    Id,
    FamilyHash,
    OwnerId,
    Team,
    Challenges,
    Needs,
    ConsentGivenAt,
    ConsentScope,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PlanGoal {
    Table,
    Id,
    PlanId,
    Position,
    Kind,
    OtherText,
    ForWhom,
    Baseline,
    Target,
    TargetDate,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GoalFollowUp {
    Table,
    Id,
    GoalId,
    OnDate,
    Value,
    Note,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Programme {
    Table,
    Id,
    Name,
    Area,
    StartsOn,
    EndsOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProgrammeTarget {
    Table,
    ProgrammeId,
    GoalKind,
    TargetShare,
}

#[derive(DeriveIden)]
enum PlanProgramme {
    Table,
    PlanId,
    ProgrammeId,
}

#[derive(DeriveIden)]
enum ReferralGoal {
    Table,
    ReferralId,
    GoalId,
    Helped,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FamilyPlan::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(FamilyPlan::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(FamilyPlan::FamilyHash).string().not_null())
                    .col(ColumnDef::new(FamilyPlan::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(FamilyPlan::Team).string().null())
                    .col(ColumnDef::new(FamilyPlan::Challenges).text().not_null())
                    .col(ColumnDef::new(FamilyPlan::Needs).text().not_null())
                    .col(
                        ColumnDef::new(FamilyPlan::ConsentGivenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(FamilyPlan::ConsentScope).text().not_null())
                    .col(
                        ColumnDef::new(FamilyPlan::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FamilyPlan::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-family_plan-family_hash",
            FamilyPlan::Table,
            FamilyPlan::FamilyHash,
        )
        .await?;
        index(
            manager,
            "idx-family_plan-owner_id",
            FamilyPlan::Table,
            FamilyPlan::OwnerId,
        )
        .await?;
        index(manager, "idx-family_plan-team", FamilyPlan::Table, FamilyPlan::Team).await?;
        manager
            .create_table(
                Table::create()
                    .table(PlanGoal::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PlanGoal::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(PlanGoal::PlanId).uuid().not_null())
                    .col(ColumnDef::new(PlanGoal::Position).integer().not_null())
                    .col(ColumnDef::new(PlanGoal::Kind).string().not_null())
                    .col(ColumnDef::new(PlanGoal::OtherText).text().null())
                    .col(ColumnDef::new(PlanGoal::ForWhom).string().not_null())
                    .col(ColumnDef::new(PlanGoal::Baseline).double().not_null())
                    .col(ColumnDef::new(PlanGoal::Target).double().not_null())
                    .col(ColumnDef::new(PlanGoal::TargetDate).date().not_null())
                    .col(
                        ColumnDef::new(PlanGoal::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx-plan_goal-plan_id", PlanGoal::Table, PlanGoal::PlanId).await?;
        manager
            .create_table(
                Table::create()
                    .table(GoalFollowUp::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(GoalFollowUp::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(GoalFollowUp::GoalId).uuid().not_null())
                    .col(ColumnDef::new(GoalFollowUp::OnDate).date().not_null())
                    .col(ColumnDef::new(GoalFollowUp::Value).double().not_null())
                    .col(ColumnDef::new(GoalFollowUp::Note).text().null())
                    .col(ColumnDef::new(GoalFollowUp::RecordedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(GoalFollowUp::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-goal_follow_up-goal_id",
            GoalFollowUp::Table,
            GoalFollowUp::GoalId,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReferralGoal::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ReferralGoal::ReferralId).uuid().not_null())
                    .col(ColumnDef::new(ReferralGoal::GoalId).uuid().not_null())
                    .col(ColumnDef::new(ReferralGoal::Helped).string().null())
                    .primary_key(Index::create().col(ReferralGoal::ReferralId).col(ReferralGoal::GoalId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-referral_goal-goal_id",
            ReferralGoal::Table,
            ReferralGoal::GoalId,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Programme::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Programme::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Programme::Name).string().not_null())
                    .col(ColumnDef::new(Programme::Area).string().not_null())
                    .col(ColumnDef::new(Programme::StartsOn).date().not_null())
                    .col(ColumnDef::new(Programme::EndsOn).date().not_null())
                    .col(
                        ColumnDef::new(Programme::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProgrammeTarget::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ProgrammeTarget::ProgrammeId).uuid().not_null())
                    .col(ColumnDef::new(ProgrammeTarget::GoalKind).string().not_null())
                    .col(ColumnDef::new(ProgrammeTarget::TargetShare).double().not_null())
                    .primary_key(
                        Index::create()
                            .col(ProgrammeTarget::ProgrammeId)
                            .col(ProgrammeTarget::GoalKind),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlanProgramme::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PlanProgramme::PlanId).uuid().not_null())
                    .col(ColumnDef::new(PlanProgramme::ProgrammeId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(PlanProgramme::PlanId)
                            .col(PlanProgramme::ProgrammeId),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-plan_programme-programme_id",
            PlanProgramme::Table,
            PlanProgramme::ProgrammeId,
        )
        .await
    }
}
