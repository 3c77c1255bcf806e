use sea_orm::entity::prelude::*;

/// A person who logs in to the web app: a caseworker, a partner's staff member or a municipal admin.
/// People, not keys, so the audit trail names who read a referral. No CPR numbers, no addresses.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "person")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lowercased; the login name.
    #[sea_orm(unique)]
    pub email: String,
    pub name: Option<String>,
    /// `caseworker`, `partner` or `admin`.
    pub role: String,
    /// The organization a partner acts for.
    pub organization_id: Option<Uuid>,
    /// Caseworkers of one team see each other's referrals.
    pub team: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `da` or `en`: the language of the web app and of mails.
    pub language: String,
    /// Failed logins since the last success; reset on success.
    pub failed_logins: i32,
    /// Logins are refused until then (throttling after repeated failures).
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
