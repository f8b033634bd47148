//! Projects written straight to the database, for tests that need many of
//! them or an exact shape faster than mutations would make them. Every
//! builder of test projects is here, so the shape of a test project is
//! described once.

use chrono::{Duration, Utc};
use entity::{
    features, foundations, meetings, personas, projects, signals, signals::SignalAuthority,
    strategic_contexts, vp_steps,
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use uuid::Uuid;

use crate::helpers::TestApp;

/// What to put into a project, by count.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shape {
    /// Value path steps, inserted last position first (so reads must sort),
    /// labelled `step <position>`.
    pub steps: usize,
    /// Non-empty foundation fields, in column order; the first is the
    /// problem statement, the text is the field's name (`problem`, ...).
    pub foundation_fields: usize,
    pub features: usize,
    /// How many of the features, counting from the first, are confirmed.
    pub confirmed: usize,
    pub personas: usize,
    pub signals: usize,
    /// How many of the signals, from the first, come from the client (the
    /// rest from research).
    pub client_signals: usize,
    /// How many of the signals, from the first, are already analyzed.
    pub analyzed_signals: usize,
    /// Meetings; meeting `n` was held `n` days ago.
    pub meetings: usize,
    pub strategic_context: bool,
}

impl Shape {
    /// A few children of every kind: 4 features (2 confirmed), 2 personas,
    /// 3 steps, 3 meetings, 3 client signals (2 unanalyzed), a foundation
    /// with only a problem statement and a strategic context.
    pub(crate) const EVERY_KIND: Self = Self {
        steps: 3,
        foundation_fields: 1,
        features: 4,
        confirmed: 2,
        personas: 2,
        signals: 3,
        client_signals: 3,
        analyzed_signals: 1,
        meetings: 3,
        strategic_context: true,
    };
}

const FOUNDATION_FIELDS: [&str; 5] = [
    "problem",
    "target users",
    "value proposition",
    "business case",
    "constraints",
];

/// Inserts a project of `owner` with the given shape, directly.
pub(crate) async fn insert_project(app: &TestApp, owner: Uuid, shape: Shape) -> Uuid {
    let conn = app.db.conn();
    let id = Uuid::now_v7();
    let now = Utc::now();
    projects::ActiveModel {
        id: Set(id.into()),
        owner_id: Set(owner.into()),
        name: Set(format!("p-{id}")),
        state_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .expect("project");
    let steps = (0..shape.steps)
        .rev()
        .map(|position| vp_steps::ActiveModel {
            id: Set(Uuid::now_v7().into()),
            project_id: Set(id.into()),
            position: Set(i32::try_from(position).expect("small")),
            label: Set(format!("step {position}")),
            description: Set(String::new()),
        });
    insert_all(app, steps.collect()).await;
    if shape.foundation_fields > 0 {
        let [problem, users, value, business, constraints] =
            FOUNDATION_FIELDS.map(|name| Some(name.to_owned()));
        let field = |i: usize, text: Option<String>| text.filter(|_| i < shape.foundation_fields);
        foundations::ActiveModel {
            project_id: Set(id.into()),
            problem_statement: Set(field(0, problem)),
            target_users: Set(field(1, users)),
            value_proposition: Set(field(2, value)),
            business_case: Set(field(3, business)),
            constraints: Set(field(4, constraints)),
            updated_at: Set(now),
        }
        .insert(conn)
        .await
        .expect("foundation");
    }
    let features = (0..shape.features).map(|n| features::ActiveModel {
        id: Set(Uuid::now_v7().into()),
        project_id: Set(id.into()),
        name: Set(format!("feature {n}")),
        description: Set(String::new()),
        confirmed: Set(n < shape.confirmed),
        created_at: Set(now),
    });
    insert_all(app, features.collect()).await;
    let personas = (0..shape.personas).map(|n| personas::ActiveModel {
        id: Set(Uuid::now_v7().into()),
        project_id: Set(id.into()),
        name: Set(format!("persona {n}")),
        description: Set(String::new()),
        created_at: Set(now),
    });
    insert_all(app, personas.collect()).await;
    let signals = (0..shape.signals).map(|n| signals::ActiveModel {
        id: Set(Uuid::now_v7().into()),
        project_id: Set(id.into()),
        source: Set("interview".to_owned()),
        authority: Set(if n < shape.client_signals {
            SignalAuthority::Client
        } else {
            SignalAuthority::Research
        }),
        content: Set(format!("signal {n}")),
        created_at: Set(now),
        analyzed_at: Set((n < shape.analyzed_signals).then_some(now)),
    });
    insert_all(app, signals.collect()).await;
    let meetings = (0..shape.meetings).map(|n| meetings::ActiveModel {
        id: Set(Uuid::now_v7().into()),
        project_id: Set(id.into()),
        title: Set(format!("meeting {n}")),
        held_at: Set(now - Duration::days(i64::try_from(n).expect("small"))),
        notes: Set(String::new()),
    });
    insert_all(app, meetings.collect()).await;
    if shape.strategic_context {
        strategic_contexts::ActiveModel {
            project_id: Set(id.into()),
            content: Set("context".to_owned()),
            updated_at: Set(now),
        }
        .insert(conn)
        .await
        .expect("context");
    }
    id
}

/// Inserts one unanalyzed interview signal per text into `project`,
/// directly (so texts the API would refuse can be stored, as older
/// versions may have), oldest first.
pub(crate) async fn insert_signals(app: &TestApp, project: Uuid, contents: Vec<String>) {
    let now = Utc::now();
    let signals = contents.into_iter().map(|content| signals::ActiveModel {
        id: Set(Uuid::now_v7().into()),
        project_id: Set(project.into()),
        source: Set("interview".to_owned()),
        authority: Set(SignalAuthority::Client),
        content: Set(content),
        created_at: Set(now),
        analyzed_at: Set(None),
    });
    insert_all(app, signals.collect()).await;
}

/// Inserts `count` projects of `owner` shaped [`Shape::EVERY_KIND`];
/// returns their ids, oldest first.
pub(crate) async fn insert_projects(app: &TestApp, owner: Uuid, count: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        ids.push(insert_project(app, owner, Shape::EVERY_KIND).await);
    }
    ids
}

async fn insert_all<A>(app: &TestApp, rows: Vec<A>)
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    for chunk in rows.chunks(500) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .exec_without_returning(app.db.conn())
            .await
            .expect("rows");
    }
}
