//! Schedules as HSDS 3.0 has them: `freq` (WEEKLY, MONTHLY), `interval`, `bymonthday`, `dtstart`, `until`
//! and `notes`. Existing schedules that name a week of the month (`1SA`) become MONTHLY, the rest WEEKLY.
//! Fixed statements: this migration must add the same columns whatever the table definitions become.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedule {
    Table,
    Freq,
    Interval,
    Bymonthday,
    Dtstart,
    Until,
    Notes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            ColumnDef::new(Schedule::Freq)
                .text()
                .not_null()
                .default("WEEKLY")
                .to_owned(),
            ColumnDef::new(Schedule::Interval)
                .integer()
                .not_null()
                .default(1)
                .to_owned(),
            // Comma separated days of the month, e.g. `1,15,-1`; empty for none.
            ColumnDef::new(Schedule::Bymonthday)
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(Schedule::Dtstart).date().null().to_owned(),
            ColumnDef::new(Schedule::Until).date().null().to_owned(),
            ColumnDef::new(Schedule::Notes).text().null().to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(Table::alter().table(Schedule::Table).add_column(&mut column).to_owned())
                .await?;
        }
        let ordinal = (1..=5)
            .map(|n| format!("byday LIKE '%{n}%'"))
            .collect::<Vec<_>>()
            .join(" OR ");
        manager
            .get_connection()
            .execute_unprepared(&format!("UPDATE schedule SET freq = 'MONTHLY' WHERE {ordinal}"))
            .await?;
        Ok(())
    }
}
