//! The scratch database the benchmark runs on: a fresh SQLite file in a
//! temp dir (removed with the dir), or a PostgreSQL database
//! `agentgraph_bench_<random>` created on the server the user named and
//! dropped at the end.

use agentgraph::db::scratch;
use anyhow::Context as _;

/// A database that exists for one benchmark run.
pub(crate) struct ScratchDatabase {
    /// What the server and the loader connect to.
    pub url: String,
    /// PostgreSQL: the server's URL (to drop from) and our database's name.
    postgres: Option<(String, String)>,
    /// SQLite: the directory holding the file; deleted when dropped.
    _dir: Option<tempfile::TempDir>,
}

impl ScratchDatabase {
    /// `server_url` is a PostgreSQL server to create a database on, or
    /// `None` for SQLite in a temp dir. Any other URL is used as it is
    /// (e.g. a SQLite file of your own, which must be empty).
    pub(crate) async fn create(server_url: Option<&str>) -> anyhow::Result<Self> {
        match server_url {
            None => Self::sqlite(),
            Some(url) if url.starts_with("postgres") => Self::postgres(url).await,
            Some(url) => Ok(Self {
                url: url.to_owned(),
                postgres: None,
                _dir: None,
            }),
        }
    }

    fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a temp dir for SQLite")?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        Ok(Self {
            url,
            postgres: None,
            _dir: Some(dir),
        })
    }

    async fn postgres(server_url: &str) -> anyhow::Result<Self> {
        let (url, name) = scratch::create_database(server_url, "agentgraph_bench")
            .await
            .with_context(|| format!("creating a database on {}", redact(server_url)))?;
        println!("created PostgreSQL database {name}");
        Ok(Self {
            url,
            postgres: Some((server_url.to_owned(), name)),
            _dir: None,
        })
    }

    pub(crate) fn backend_name(&self) -> &'static str {
        if self.url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// Drops the PostgreSQL database (even if connections linger); a
    /// failure is reported, not fatal. SQLite's temp dir goes by itself.
    pub(crate) async fn drop_database(self) {
        let Some((server_url, name)) = &self.postgres else {
            return;
        };
        match scratch::drop_database(server_url, name).await {
            Ok(()) => println!("dropped PostgreSQL database {name}"),
            Err(error) => eprintln!("could not drop PostgreSQL database {name}: {error}"),
        }
    }
}

/// The URL with any password replaced by `***`, fit for printing.
pub(crate) fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let Some(at) = text[scheme_end..].find('@').map(|i| i + scheme_end) else {
        return text.to_owned();
    };
    match text[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &text[..scheme_end + colon], &text[at..]),
        None => text.to_owned(),
    }
}
