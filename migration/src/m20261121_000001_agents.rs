//! Agents: `providers`, `models`, `agents`, `agent_tools` and
//! `user_agent_instructions`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Providers::Table)
                    .col(
                        ColumnDef::new(Providers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Providers::Name).string().not_null())
                    .col(ColumnDef::new(Providers::ApiType).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_providers_name")
                    .table(Providers::Table)
                    .col(Providers::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Models::Table)
                    .col(ColumnDef::new(Models::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Models::ProviderId).uuid().not_null())
                    .col(ColumnDef::new(Models::ModelName).string().not_null())
                    .col(ColumnDef::new(Models::ModelAlias).string().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_models_provider_id")
                            .from(Models::Table, Models::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_models_provider_id")
                    .table(Models::Table)
                    .col(Models::ProviderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(ColumnDef::new(Agents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Agents::Name).string().not_null())
                    .col(
                        ColumnDef::new(Agents::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Agents::SystemPrompt)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Agents::BasePrompt)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Agents::SkillNames)
                            .json_binary()
                            .not_null()
                            .default("[]"),
                    )
                    .col(
                        ColumnDef::new(Agents::Status)
                            .string_len(16)
                            .not_null()
                            .default("active")
                            .check(
                                Expr::col(Agents::Status).is_in(["active", "paused", "archived"]),
                            ),
                    )
                    .col(ColumnDef::new(Agents::ModelId).uuid().null())
                    .col(ColumnDef::new(Agents::Temperature).double().null())
                    .col(ColumnDef::new(Agents::MaxTokens).integer().null())
                    .col(
                        ColumnDef::new(Agents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Agents::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_agents_model_id")
                            .from(Agents::Table, Agents::ModelId)
                            .to(Models::Table, Models::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_agents_name")
                    .table(Agents::Table)
                    .col(Agents::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_agents_model_id")
                    .table(Agents::Table)
                    .col(Agents::ModelId)
                    .to_owned(),
            )
            .await?;
        // `agents(status, first, after)` pages by name within one status.
        manager
            .create_index(
                Index::create()
                    .name("idx_agents_status_name")
                    .table(Agents::Table)
                    .col(Agents::Status)
                    .col(Agents::Name)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AgentTools::Table)
                    .col(
                        ColumnDef::new(AgentTools::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AgentTools::AgentId).uuid().not_null())
                    .col(ColumnDef::new(AgentTools::Name).string().not_null())
                    .col(
                        ColumnDef::new(AgentTools::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(ColumnDef::new(AgentTools::ToolType).string().not_null())
                    .col(
                        ColumnDef::new(AgentTools::Config)
                            .json_binary()
                            .not_null()
                            .default("{}"),
                    )
                    .col(
                        ColumnDef::new(AgentTools::IsActive)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_agent_tools_agent_id")
                            .from(AgentTools::Table, AgentTools::AgentId)
                            .to(Agents::Table, Agents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Also the index of the `agent_id` foreign key.
        manager
            .create_index(
                Index::create()
                    .name("uq_agent_tools_agent_id_name")
                    .table(AgentTools::Table)
                    .col(AgentTools::AgentId)
                    .col(AgentTools::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserAgentInstructions::Table)
                    .col(
                        ColumnDef::new(UserAgentInstructions::UserId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserAgentInstructions::AgentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserAgentInstructions::Instructions)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserAgentInstructions::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_user_agent_instructions")
                            .col(UserAgentInstructions::UserId)
                            .col(UserAgentInstructions::AgentId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_agent_instructions_agent_id")
                            .from(UserAgentInstructions::Table, UserAgentInstructions::AgentId)
                            .to(Agents::Table, Agents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_agent_instructions_agent_id")
                    .table(UserAgentInstructions::Table)
                    .col(UserAgentInstructions::AgentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UserAgentInstructions::Table.into_iden(),
            AgentTools::Table.into_iden(),
            Agents::Table.into_iden(),
            Models::Table.into_iden(),
            Providers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Name,
    ApiType,
}

#[derive(DeriveIden)]
enum Models {
    Table,
    Id,
    ProviderId,
    ModelName,
    ModelAlias,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    Name,
    Description,
    SystemPrompt,
    BasePrompt,
    SkillNames,
    Status,
    ModelId,
    Temperature,
    MaxTokens,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AgentTools {
    Table,
    Id,
    AgentId,
    Name,
    Description,
    ToolType,
    Config,
    IsActive,
}

#[derive(DeriveIden)]
enum UserAgentInstructions {
    Table,
    UserId,
    AgentId,
    Instructions,
    UpdatedAt,
}
