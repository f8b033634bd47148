//! The cache table: what each cache is, in one description per cache
//! ([`CacheInfo`], a constant in the cache's own module). The names in
//! `/metrics` and the cost extension, the defaults of the flags, and the
//! README's table all come from these descriptions; a test checks the
//! README against [`markdown`].

/// What one cache keeps and what makes it forget.
#[derive(Debug)]
pub struct CacheInfo {
    /// Its name in `/metrics` (`cache="..."`) and the cost extension.
    pub name: &'static str,
    /// What it keeps, in words.
    pub keeps: &'static str,
    pub key: &'static str,
    pub capacity_flag: &'static str,
    /// Entries kept at most, by default.
    pub capacity: u64,
    pub ttl_flag: &'static str,
    /// How long an entry lives at most, by default (a humantime duration).
    pub ttl: &'static str,
    pub filled_by: &'static str,
    pub evicted_by: &'static str,
}

/// Marks the start and the end of the generated table in the README.
pub const README_START: &str = "<!-- cache table: generated from src/cache, see cache::table -->";
pub const README_END: &str = "<!-- end of cache table -->";

/// The README's cache table for `caches`, between its markers.
pub fn markdown(caches: &[&CacheInfo]) -> String {
    let mut text = format!(
        "{README_START}\n\
         | cache (`/metrics` name) | key | capacity, TTL (flags) | filled by | evicted by |\n\
         | --- | --- | --- | --- | --- |\n"
    );
    for cache in caches {
        text.push_str(&format!(
            "| {} (`{}`) | {} | {} (`{}`), {} (`{}`) | {} | {} |\n",
            cache.keeps,
            cache.name,
            cache.key,
            cache.capacity,
            cache.capacity_flag,
            cache.ttl,
            cache.ttl_flag,
            cache.filled_by,
            cache.evicted_by,
        ));
    }
    text.push_str(README_END);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_says_every_part_of_the_description() {
        let info = CacheInfo {
            name: "n",
            keeps: "things",
            key: "k",
            capacity_flag: "--c",
            capacity: 7,
            ttl_flag: "--t",
            ttl: "9s",
            filled_by: "f",
            evicted_by: "e",
        };
        let table = markdown(&[&info]);
        assert!(table.starts_with(README_START) && table.ends_with(README_END));
        assert!(table.contains("| things (`n`) | k | 7 (`--c`), 9s (`--t`) | f | e |\n"));
    }
}
