//! Integration tests over real HTTP: every test runs the application on a random port against a real
//! SQLite file and, with `TEST_DATABASE_URL`, a real PostgreSQL database.

mod helpers;

mod admin_web;
mod audit;

mod detect;
mod directory;
mod gender;
mod hsds;
mod hsds_fields;
mod http;
mod import;
mod keys;
mod mail;
mod nodes;
mod operations;
mod partner_web;
mod plans;
mod referrals;
mod schedules;
mod search;
mod shared_locations;
mod smtp_sink;
mod understanding;
mod upgrade;
mod web;
mod webhooks;
