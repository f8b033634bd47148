//! What a failure the server did not foresee tells a client: a code and a
//! request id, never the database's own words.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::{
    helpers::{Backend, TestApp},
    test_both,
};

/// Text only the database knows: it must stay in the server's log.
const SECRET: &str = "ledger_7f3a9c refuses this row";

/// Makes every insert into `circles` fail with [`SECRET`], an error no
/// layer of the server has a meaning for.
async fn refuse_new_circles(app: &TestApp) {
    let statements = match app.backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_circles BEFORE INSERT ON circles \
             BEGIN SELECT RAISE(ABORT, '{SECRET}'); END"
        )],
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse_circles() RETURNS trigger LANGUAGE plpgsql \
                 AS $$ BEGIN RAISE EXCEPTION '{SECRET}'; END $$"
            ),
            "CREATE TRIGGER refuse_circles BEFORE INSERT ON circles \
             FOR EACH ROW EXECUTE FUNCTION refuse_circles()"
                .to_owned(),
        ],
    };
    for statement in statements {
        app.db
            .conn()
            .execute_unprepared(&statement)
            .await
            .expect("the trigger is installed");
    }
}

test_both! {
    /// A statement that fails for a reason nobody classified is a bug:
    /// the client gets `INTERNAL_SERVER_ERROR` and the id to quote, and
    /// none of the database's text.
    async fn a_database_failure_nobody_foresaw_reaches_the_client_as_a_request_id_only(app: TestApp) {
        refuse_new_circles(&app).await;

        let response = app
            .post(
                Some(&app.admin),
                "mutation { createCircle(input: { name: \"core\", description: \"d\" }) { id } }",
                json!({}),
            )
            .await;

        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.error_code(), "INTERNAL_SERVER_ERROR", "{}", response.body);
        let request_id = response.header("x-request-id").expect("a request id header").to_owned();
        assert_eq!(response.body["errors"][0]["extensions"]["requestId"], request_id.as_str(), "{}", response.body);
        assert_eq!(
            response.error_message(),
            format!("internal server error (request id {request_id})"),
        );
        let sent = response.body.to_string();
        assert!(!sent.contains("ledger_7f3a9c"), "{sent}");
        assert_eq!(app.count("circles").await, 0);
    }
}
