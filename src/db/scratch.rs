//! Throwaway PostgreSQL databases: a randomly named database created on a
//! server for one test or benchmark run and dropped after it. The tests and
//! the benchmark share this so there is one way to derive a database URL
//! from a server URL.

use sea_orm::{ConnectionTrait, Database, DbErr};
use uuid::Uuid;

/// Creates `<prefix>_<random>` on the server `server_url` points at.
/// Returns the new database's URL and its name (to [`drop_database`] later).
pub async fn create_database(server_url: &str, prefix: &str) -> Result<(String, String), DbErr> {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let admin = Database::connect(server_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let _ = admin.close().await;
    Ok((with_database(server_url, &name), name))
}

/// Drops the database `name` from the server `server_url` points at, even
/// while connections to it linger.
pub async fn drop_database(server_url: &str, name: &str) -> Result<(), DbErr> {
    let admin = Database::connect(server_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await
}

/// `postgres://u@h:5432/test?x` with the database swapped for `name`
/// (credentials, host and query kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_swapped_and_everything_else_kept() {
        let cases = [
            ("postgres://u:p@h:5432/test", "postgres://u:p@h:5432/x"),
            (
                "postgres://u@h:5432/test?sslmode=disable",
                "postgres://u@h:5432/x?sslmode=disable",
            ),
            ("postgres://h", "postgres://h/x"),
            ("postgres://h?a=b", "postgres://h/x?a=b"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "x"), expected, "{url}");
        }
    }
}
