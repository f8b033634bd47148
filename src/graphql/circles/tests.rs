//! Every field of a member, its agent, model and provider is either plain
//! (and then answers through the fast path exactly what the general path
//! answers) or on the list of fields that take the general path on purpose.

use std::sync::Arc;

use async_graphql::{
    parser::{parse_query, types::Selection},
    registry::{MetaType, Registry},
    EmptyMutation, EmptySubscription, Object, OutputType, Schema,
};
use chrono::{TimeZone, Utc};
use entity::{
    agents::AgentStatus, circle_members, models, providers, AgentId, CircleId, CircleMemberId,
    ModelId, ProviderId,
};

use super::{CircleMember, MemberList};
use crate::{
    db::{
        agents::{AgentSummary, ModelRow},
        circles::MemberRow,
    },
    graphql::{
        agents::{Agent, Model, Provider},
        plain::{is_named, PlainObject, Plan},
    },
};

/// Fields that load (the long texts, the tools): the general path.
const GENERAL: &[(&str, &str)] = &[
    ("Agent", "description"),
    ("Agent", "systemPrompt"),
    ("Agent", "basePrompt"),
    ("Agent", "skillNames"),
    ("Agent", "tools"),
    ("CircleMember", "circle"),
];

/// Each type, where a member list shows it, and its plain fields.
fn types() -> [(&'static str, &'static str, Vec<&'static str>); 4] {
    fn plain<T: PlainObject>() -> Vec<&'static str> {
        T::FIELDS.iter().map(|field| field.name).collect()
    }
    [
        ("CircleMember", "{}", plain::<CircleMember>()),
        ("Agent", "agent { {} }", plain::<Agent>()),
        ("Model", "agent { model { {} } }", plain::<Model>()),
        (
            "Provider",
            "agent { model { provider { {} } } }",
            plain::<Provider>(),
        ),
    ]
}

fn registry() -> Registry {
    let mut registry = Registry::default();
    <CircleMember as OutputType>::create_type_info(&mut registry);
    registry
}

/// The schema's fields of `type_name`, each with a selection of it: its
/// first field for an object.
fn fields(registry: &Registry, type_name: &str) -> Vec<(String, String)> {
    let Some(MetaType::Object { fields, .. }) = registry.types.get(type_name) else {
        panic!("{type_name} is an object of the schema");
    };
    fields
        .values()
        .map(|field| {
            let of = field.ty.trim_end_matches('!');
            let selection = match registry.types.get(of) {
                Some(MetaType::Object { fields, .. }) => {
                    let first = fields.keys().next().expect("an object has fields");
                    format!("{} {{ {first} }}", field.name)
                }
                _ => field.name.clone(),
            };
            (field.name.clone(), selection)
        })
        .collect()
}

#[test]
fn every_field_is_plain_or_named_as_general() {
    let registry = registry();
    for (type_name, _, plain) in types() {
        for (field, _) in fields(&registry, type_name) {
            let is_plain = plain.iter().any(|name| is_named(name, &field));
            let is_general = GENERAL.contains(&(type_name, field.as_str()));
            assert!(
                is_plain != is_general,
                "{type_name}.{field}: plain {is_plain}, named as general {is_general}; a field \
                 is declared `plain` in its type's `plain_object!`, or it loads and is listed \
                 in GENERAL"
            );
        }
        for name in plain {
            assert!(
                fields(&registry, type_name)
                    .iter()
                    .any(|(field, _)| is_named(name, field)),
                "{type_name}'s plain `{name}` is a field of the schema"
            );
        }
    }
}

fn at(second: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, second).unwrap()
}

/// Members that between them give every plain field a value and a null
/// where it can have one.
fn rows() -> Arc<[MemberRow]> {
    let model = |alias: Option<&str>| {
        let provider_id = ProviderId::new();
        Arc::new(ModelRow {
            model: models::Model {
                id: ModelId::new(),
                provider_id,
                model_name: "claude".to_owned(),
                model_alias: alias.map(str::to_owned),
            },
            provider: providers::Model {
                id: provider_id,
                name: "anthropic".to_owned(),
                api_type: "messages".to_owned(),
            },
        })
    };
    let agent = |n: u32, status, model| {
        Arc::new(AgentSummary {
            id: AgentId::new(),
            name: format!("agent-{n}"),
            status,
            temperature: (n % 2 == 0).then_some(0.25 * f64::from(n)),
            max_tokens: (n % 2 == 1).then_some(100 + n as i32),
            created_at: at(n),
            updated_at: at(n + 10),
            model,
        })
    };
    let circle_id = CircleId::new();
    let member = |n: u32, agent: Arc<AgentSummary>| MemberRow {
        member: circle_members::Model {
            id: CircleMemberId::new(),
            circle_id,
            agent_id: agent.id,
            role: format!("role-{n}"),
            is_active: n % 2 == 0,
            joined_at: at(n + 20),
        },
        agent,
    };
    Arc::from([
        member(
            0,
            agent(0, AgentStatus::Active, Some(model(Some("sonnet")))),
        ),
        member(1, agent(1, AgentStatus::Paused, Some(model(None)))),
        member(2, agent(2, AgentStatus::Archived, None)),
    ])
}

struct Members(Arc<[MemberRow]>);

#[Object]
impl Members {
    async fn members(&self) -> MemberList {
        MemberList(Arc::clone(&self.0))
    }
}

#[tokio::test]
async fn every_plain_field_answers_what_the_general_path_answers() {
    let registry = registry();
    let schema = Schema::new(Members(rows()), EmptyMutation, EmptySubscription);
    let mut asked = 0;
    for (type_name, path, plain) in types() {
        for (field, selection) in fields(&registry, type_name) {
            if !plain.iter().any(|name| is_named(name, &field)) {
                continue;
            }
            let selection = path.replace("{}", &selection);
            let fast = format!("{{ members {{ {selection} }} }}");
            let general = format!("{{ members {{ ... on CircleMember {{ {selection} }} }} }}");
            assert!(takes_the_fast_path(&fast), "{fast}");
            assert!(!takes_the_fast_path(&general), "{general}");
            let fast = schema.execute(fast.as_str()).await;
            let general = schema.execute(general.as_str()).await;
            assert!(
                fast.errors.is_empty(),
                "{type_name}.{field}: {:?}",
                fast.errors
            );
            assert!(
                general.errors.is_empty(),
                "{type_name}.{field}: {:?}",
                general.errors
            );
            assert_eq!(fast.data, general.data, "{type_name}.{field}");
            asked += 1;
        }
    }
    let plain: usize = types().iter().map(|(_, _, plain)| plain.len()).sum();
    assert_eq!(asked, plain, "every plain field was asked for");
}

/// Whether the member list in `query` (`{ members { ... } }`) is written
/// by its plan.
fn takes_the_fast_path(query: &str) -> bool {
    let document = parse_query(query).expect("the query parses");
    let (_, operation) = document.operations.iter().next().expect("one operation");
    let Selection::Field(members) = &operation.node.selection_set.node.items[0].node else {
        panic!("`members` is a field");
    };
    Plan::of::<CircleMember>(&members.node.selection_set.node).is_some()
}

#[test]
fn a_members_circle_takes_the_general_path() {
    assert!(takes_the_fast_path("{ members { id circleId } }"));
    assert!(!takes_the_fast_path("{ members { id circle { id } } }"));
}
