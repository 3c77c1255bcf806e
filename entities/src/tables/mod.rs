//! sea-orm table definitions. One module per table, named as the table. The layout follows Open Referral
//! HSDS 3.0 (organization, location, service, service_at_location, schedule, language) plus Brobygger's own
//! tables (need taxonomy, api keys, change log, audit trail). Child rows of a service are replaced as a
//! whole on every write, so they carry no version of their own.

pub mod api_key;
pub mod audit_event;
pub mod change_log;
pub mod family_list_item;
pub mod family_plan;
pub mod goal_follow_up;
pub mod hsds_extra;
pub mod invitation;
pub mod location;
pub mod mail_outbox;
pub mod need;
pub mod notification_cursor;
pub mod notification_preference;
pub mod organization;
pub mod person;
pub mod plan_goal;
pub mod plan_programme;
pub mod programme;
pub mod programme_target;
pub mod referral;
pub mod referral_event;
pub mod referral_goal;
pub mod referral_need;
pub mod schedule;
pub mod service;
pub mod service_at_location;
pub mod service_language;
pub mod service_need;
pub mod unmet_need;
pub mod web_session;
pub mod webhook_cursor;
pub mod webhook_delivery;
pub mod webhook_subscription;
