//! Projects: `projects` and everything that hangs off one (`features`,
//! `personas`, `vp_steps`, `meetings`, `signals`, `strategic_contexts`,
//! `foundations`, `di_analyses`, `readiness`). Every child is deleted with
//! its project.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Unanalyzed signals are what the discovery agent asks for on every run; a
/// partial index keeps that lookup proportional to the new signals only.
/// Raw SQL because sea-query has no partial index on SQLite; both backends
/// accept this statement.
const CREATE_SIGNALS_UNANALYZED: &str =
    "CREATE INDEX idx_signals_unanalyzed ON signals (project_id, id) WHERE analyzed_at IS NULL";
const DROP_SIGNALS_UNANALYZED: &str = "DROP INDEX IF EXISTS idx_signals_unanalyzed";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(ColumnDef::new(Projects::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Projects::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Projects::Name).string().not_null())
                    // Bumped by every change of the project's state; a
                    // readiness snapshot is valid only for the version it
                    // was computed from.
                    .col(
                        ColumnDef::new(Projects::StateVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Projects::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Projects::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // `projects(first, after)` pages the viewer's projects by id.
        create_index(
            manager,
            "idx_projects_owner_id_id",
            Projects::Table,
            [Projects::OwnerId, Projects::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Features::Table)
                    .col(ColumnDef::new(Features::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Features::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Features::Name).string().not_null())
                    .col(
                        ColumnDef::new(Features::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Features::Confirmed)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Features::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk("fk_features_project_id", Features::Table))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_features_project_id_id",
            Features::Table,
            [Features::ProjectId, Features::Id],
        )
        .await?;
        // Readiness counts confirmed features per project (index-only).
        create_index(
            manager,
            "idx_features_project_id_confirmed",
            Features::Table,
            [Features::ProjectId, Features::Confirmed],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Personas::Table)
                    .col(ColumnDef::new(Personas::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Personas::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Personas::Name).string().not_null())
                    .col(
                        ColumnDef::new(Personas::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Personas::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk("fk_personas_project_id", Personas::Table))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_personas_project_id_id",
            Personas::Table,
            [Personas::ProjectId, Personas::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(VpSteps::Table)
                    .col(ColumnDef::new(VpSteps::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(VpSteps::ProjectId).uuid().not_null())
                    .col(
                        ColumnDef::new(VpSteps::Position)
                            .integer()
                            .not_null()
                            .check(Expr::col(VpSteps::Position).gte(0)),
                    )
                    .col(ColumnDef::new(VpSteps::Label).string().not_null())
                    .col(
                        ColumnDef::new(VpSteps::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .foreign_key(&mut project_fk("fk_vp_steps_project_id", VpSteps::Table))
                    .to_owned(),
            )
            .await?;
        // Not unique: a reorder rewrites several positions in one transaction.
        create_index(
            manager,
            "idx_vp_steps_project_id_position",
            VpSteps::Table,
            [VpSteps::ProjectId, VpSteps::Position],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Meetings::Table)
                    .col(ColumnDef::new(Meetings::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Meetings::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Meetings::Title).string().not_null())
                    .col(
                        ColumnDef::new(Meetings::HeldAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Meetings::Notes)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .foreign_key(&mut project_fk("fk_meetings_project_id", Meetings::Table))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_meetings_project_id_held_at",
            Meetings::Table,
            [Meetings::ProjectId, Meetings::HeldAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Signals::Table)
                    .col(ColumnDef::new(Signals::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Signals::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Signals::Source).string().not_null())
                    .col(
                        ColumnDef::new(Signals::Authority)
                            .string_len(16)
                            .not_null()
                            .check(Expr::col(Signals::Authority).is_in([
                                "client",
                                "consultant",
                                "research",
                                "other",
                            ])),
                    )
                    .col(ColumnDef::new(Signals::Content).text().not_null())
                    .col(
                        ColumnDef::new(Signals::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Signals::AnalyzedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut project_fk("fk_signals_project_id", Signals::Table))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idx_signals_project_id_id",
            Signals::Table,
            [Signals::ProjectId, Signals::Id],
        )
        .await?;
        // Readiness counts client signals per project.
        create_index(
            manager,
            "idx_signals_project_id_authority",
            Signals::Table,
            [Signals::ProjectId, Signals::Authority],
        )
        .await?;
        manager
            .get_connection()
            .execute_unprepared(CREATE_SIGNALS_UNANALYZED)
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StrategicContexts::Table)
                    .col(
                        ColumnDef::new(StrategicContexts::ProjectId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StrategicContexts::Content).text().not_null())
                    .col(
                        ColumnDef::new(StrategicContexts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk(
                        "fk_strategic_contexts_project_id",
                        StrategicContexts::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Foundations::Table)
                    .col(
                        ColumnDef::new(Foundations::ProjectId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Foundations::ProblemStatement).text().null())
                    .col(ColumnDef::new(Foundations::TargetUsers).text().null())
                    .col(ColumnDef::new(Foundations::ValueProposition).text().null())
                    .col(ColumnDef::new(Foundations::BusinessCase).text().null())
                    .col(ColumnDef::new(Foundations::Constraints).text().null())
                    .col(
                        ColumnDef::new(Foundations::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk(
                        "fk_foundations_project_id",
                        Foundations::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DiAnalyses::Table)
                    .col(
                        ColumnDef::new(DiAnalyses::ProjectId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DiAnalyses::Analysis)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DiAnalyses::AnalyzedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk(
                        "fk_di_analyses_project_id",
                        DiAnalyses::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Readiness::Table)
                    .col(
                        ColumnDef::new(Readiness::ProjectId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Readiness::Score).double().not_null())
                    .col(
                        ColumnDef::new(Readiness::Dimensions)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Readiness::Blockers).json_binary().not_null())
                    .col(ColumnDef::new(Readiness::Inputs).json_binary().not_null())
                    .col(
                        ColumnDef::new(Readiness::StateVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Readiness::ComputedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut project_fk("fk_readiness_project_id", Readiness::Table))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Readiness::Table.into_iden(),
            DiAnalyses::Table.into_iden(),
            Foundations::Table.into_iden(),
            StrategicContexts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(DROP_SIGNALS_UNANALYZED)
            .await?;
        for table in [
            Signals::Table.into_iden(),
            Meetings::Table.into_iden(),
            VpSteps::Table.into_iden(),
            Personas::Table.into_iden(),
            Features::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The foreign key every project child has: `project_id` -> `projects(id)`,
/// deleted with the project.
fn project_fk(name: &str, table: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("project_id"))
        .to(Projects::Table, Projects::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A plain (non-unique) index on `columns` of `table`, in that order.
async fn create_index<C: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    manager.create_index(index).await
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OwnerId,
    Name,
    CreatedAt,
    UpdatedAt,
    StateVersion,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    Confirmed,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Personas {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VpSteps {
    Table,
    Id,
    ProjectId,
    Position,
    Label,
    Description,
}

#[derive(DeriveIden)]
enum Meetings {
    Table,
    Id,
    ProjectId,
    Title,
    HeldAt,
    Notes,
}

#[derive(DeriveIden)]
enum Signals {
    Table,
    Id,
    ProjectId,
    Source,
    Authority,
    Content,
    CreatedAt,
    AnalyzedAt,
}

#[derive(DeriveIden)]
enum StrategicContexts {
    Table,
    ProjectId,
    Content,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Foundations {
    Table,
    ProjectId,
    ProblemStatement,
    TargetUsers,
    ValueProposition,
    BusinessCase,
    Constraints,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DiAnalyses {
    Table,
    ProjectId,
    Analysis,
    AnalyzedAt,
}

#[derive(DeriveIden)]
enum Readiness {
    Table,
    ProjectId,
    Score,
    Dimensions,
    Blockers,
    Inputs,
    StateVersion,
    ComputedAt,
}
