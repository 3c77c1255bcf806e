//! Brobygger's data layer: tables and migrations (sea-orm 2, SQLite or PostgreSQL), the directory's domain
//! types and validation rules, the HSDS 3.0 import, keys, the change log and the audit trail.
//! Knows nothing of HTTP or search.

pub mod access;
pub mod audit;
pub mod cpr;
pub mod directory;
pub mod error;
pub mod export;
pub mod extras;
pub mod health;
pub mod hsds;
pub mod invites;
pub mod keys;
pub mod migration;
pub mod notifications;
pub mod people;
pub mod plans;
pub mod programmes;
pub mod referral_rules;
pub mod referrals;
pub mod store;
pub mod tables;
pub mod taxonomy;
pub mod unmet;
pub mod values;
pub mod webhooks;

pub use error::{Error, FieldError, Result};
pub use store::Store;
