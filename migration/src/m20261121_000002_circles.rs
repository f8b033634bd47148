//! Circles: `circles` and `circle_members`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Circles::Table)
                    .col(ColumnDef::new(Circles::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Circles::Name).string().not_null())
                    .col(
                        ColumnDef::new(Circles::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Circles::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_circles_name")
                    .table(Circles::Table)
                    .col(Circles::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CircleMembers::Table)
                    .col(
                        ColumnDef::new(CircleMembers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CircleMembers::CircleId).uuid().not_null())
                    .col(ColumnDef::new(CircleMembers::AgentId).uuid().not_null())
                    .col(
                        ColumnDef::new(CircleMembers::Role)
                            .string()
                            .not_null()
                            .default("member"),
                    )
                    .col(
                        ColumnDef::new(CircleMembers::IsActive)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(
                        ColumnDef::new(CircleMembers::JoinedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_circle_members_circle_id")
                            .from(CircleMembers::Table, CircleMembers::CircleId)
                            .to(Circles::Table, Circles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_circle_members_agent_id")
                            .from(CircleMembers::Table, CircleMembers::AgentId)
                            .to(Agents::Table, Agents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Also the index of the `circle_id` foreign key.
        manager
            .create_index(
                Index::create()
                    .name("uq_circle_members_circle_id_agent_id")
                    .table(CircleMembers::Table)
                    .col(CircleMembers::CircleId)
                    .col(CircleMembers::AgentId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_circle_members_agent_id")
                    .table(CircleMembers::Table)
                    .col(CircleMembers::AgentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CircleMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Circles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Circles {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CircleMembers {
    Table,
    Id,
    CircleId,
    AgentId,
    Role,
    IsActive,
    JoinedAt,
}

/// Created by `m20261121_000001_agents`; only the key is referenced here.
#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
}
