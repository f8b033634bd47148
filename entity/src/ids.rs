//! Typed ids: one newtype per table key (and [`UserId`] for token
//! subjects), so an agent id can never be passed where a project id is
//! expected. Each is a UUID in the database (SeaORM `DeriveValueType`), on
//! the wire between replicas (serde, transparent) and in the API (the
//! `UUID` scalar, with the `graphql` feature).

use sea_orm::{entity::prelude::*, TryFromU64};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl $name {
            /// Parses the usual text form of a UUID.
            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(text).map(Self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }

        /// Keys are UUIDs, never database-generated integers.
        impl TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        #[cfg(feature = "graphql")]
        graphql::uuid_scalar!($name);
    )*};
}

id_type! {
    /// `providers.id`.
    ProviderId;
    /// `models.id`.
    ModelId;
    /// `agents.id`.
    AgentId;
    /// `agent_tools.id`.
    ToolId;
    /// `circles.id`.
    CircleId;
    /// `circle_members.id`.
    CircleMemberId;
    /// `projects.id`, and the key of the tables keyed by their project.
    ProjectId;
    /// `features.id`.
    FeatureId;
    /// `personas.id`.
    PersonaId;
    /// `vp_steps.id`.
    StepId;
    /// `meetings.id`.
    MeetingId;
    /// `signals.id`.
    SignalId;
    /// A user: the `sub` of a bearer token (users live in the identity
    /// provider, not here).
    UserId;
}

/// The API face of the ids: each is the `UUID` scalar, exactly as a plain
/// `Uuid` is, so typed ids change no field of the schema.
#[cfg(feature = "graphql")]
mod graphql {
    macro_rules! uuid_scalar {
        ($name:ident) => {
            impl async_graphql::InputType for $name {
                type RawValueType = Uuid;

                fn type_name() -> std::borrow::Cow<'static, str> {
                    <Uuid as async_graphql::InputType>::type_name()
                }

                fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                    <Uuid as async_graphql::InputType>::create_type_info(registry)
                }

                fn parse(
                    value: Option<async_graphql::Value>,
                ) -> async_graphql::InputValueResult<Self> {
                    <Uuid as async_graphql::InputType>::parse(value)
                        .map(Self)
                        .map_err(async_graphql::InputValueError::propagate)
                }

                fn to_value(&self) -> async_graphql::Value {
                    <Uuid as async_graphql::InputType>::to_value(&self.0)
                }

                fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                    Some(&self.0)
                }
            }

            impl async_graphql::OutputType for $name {
                fn type_name() -> std::borrow::Cow<'static, str> {
                    <Uuid as async_graphql::OutputType>::type_name()
                }

                fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                    <Uuid as async_graphql::OutputType>::create_type_info(registry)
                }

                async fn resolve(
                    &self,
                    ctx: &async_graphql::ContextSelectionSet<'_>,
                    field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
                ) -> async_graphql::ServerResult<async_graphql::Value> {
                    <Uuid as async_graphql::OutputType>::resolve(&self.0, ctx, field).await
                }
            }
        };
    }

    pub(super) use uuid_scalar;
}
