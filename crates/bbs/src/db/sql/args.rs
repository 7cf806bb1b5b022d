//! Pieces of dynamic queries (filters build their WHERE clauses at runtime).

pub(crate) use sqldb::in_list;

/// Maximum number of values bound in one IN list; longer lists are split
/// into several queries (every backend caps bound parameters).
pub(crate) const IN_CHUNK: usize = 1000;

pub(crate) fn where_clause(wheres: &[String]) -> String {
    if wheres.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", wheres.join(" AND "))
    }
}
