//! `schema.graphql` in the repository is exactly what `agentgraph
//! export-schema` prints (SPEC 2).

use std::path::Path;

const REGENERATE: &str = "run `cargo run -- export-schema > schema.graphql` and commit the result";

#[test]
fn schema_graphql_is_exactly_what_export_schema_prints() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; {REGENERATE}", path.display()));
    let exported = agentgraph::graphql::sdl();
    if checked_in == exported {
        return;
    }
    let difference = checked_in
        .lines()
        .zip(exported.lines())
        .enumerate()
        .find(|(_, (old, new))| old != new)
        .map_or_else(
            || {
                format!(
                    "one is a prefix of the other ({} lines checked in, {} exported)",
                    checked_in.lines().count(),
                    exported.lines().count()
                )
            },
            |(index, (old, new))| {
                format!(
                    "first difference at line {}:\n  schema.graphql: {old}\n  export-schema:  {new}",
                    index + 1
                )
            },
        );
    panic!("schema.graphql is out of date; {REGENERATE}.\n{difference}");
}
