//! `write_probe`: one row that the server rewrites to learn whether the
//! database accepts writes (`/readyz` after a failed write), and that every
//! SQLite write transaction names first to take the write lock at its
//! start, where the busy timeout applies.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WriteProbe::Table)
                    .col(
                        ColumnDef::new(WriteProbe::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WriteProbe::Writes).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("INSERT INTO write_probe (id, writes) VALUES (1, 0)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WriteProbe::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WriteProbe {
    Table,
    Id,
    Writes,
}
