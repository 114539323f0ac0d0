//! Counts kept by triggers, shared by the migrations that add them: each counted table gets
//! triggers that add its inserted rows to, and take its deleted rows from, the counts of the
//! rows they name (see `m20261202_000001_counts` for why triggers, and the locking order).

/// A count: (the counted table, its count column, the changed row's column naming its row).
pub type Count = (&'static str, &'static str, &'static str);
/// A counted table: (its name, the counts it adds to, its `counters` row).
pub type Counted = (&'static str, &'static [Count], Option<&'static str>);

/// Only follows between two users count: the self-follow is everyone's, and hidden.
fn counted_rows(table: &str) -> &'static str {
    if table == "follows" {
        "follower_id <> followed_id"
    } else {
        "TRUE"
    }
}

/// One function per counted table, run after each INSERT and each DELETE statement with the
/// rows it changed (`changed`).
pub fn postgres_triggers(table: &str, counts: &[Count], counter: Option<&str>) -> String {
    postgres_counting(table, counts, counter, false)
}

fn postgres_counting(
    table: &str,
    counts: &[Count],
    counter: Option<&str>,
    insert_only: bool,
) -> String {
    let only = counted_rows(table);
    // Lock every row about to change, in one order, before changing any.
    let owners = counts
        .iter()
        .map(|(_, _, by)| format!("SELECT {by} FROM changed WHERE {only}"))
        .collect::<Vec<_>>()
        .join(" UNION ");
    let owner_table = counts[0].0;
    let mut body = format!(
        "PERFORM 1 FROM {owner_table} WHERE id IN ({owners}) ORDER BY id FOR NO KEY UPDATE;\n"
    );
    for (owner, column, by) in counts {
        body.push_str(&format!(
            "UPDATE {owner} o SET {column} = o.{column} + sign * d.n \
             FROM (SELECT {by} AS id, count(*) AS n FROM changed WHERE {only} GROUP BY {by}) d \
             WHERE o.id = d.id;\n"
        ));
    }
    if let Some(name) = counter {
        body.push_str(&format!(
            "UPDATE counters SET value = value + sign * (SELECT count(*) FROM changed) \
             WHERE name = '{name}';\n"
        ));
    }
    let mut sql = format!(
        "CREATE FUNCTION count_{table}() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         DECLARE sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;\n\
         BEGIN\n{body}RETURN NULL;\nEND $$;\n\
         CREATE TRIGGER count_{table}_insert AFTER INSERT ON {table} \
         REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_{table}();"
    );
    if !insert_only {
        sql.push_str(&format!(
            "\nCREATE TRIGGER count_{table}_delete AFTER DELETE ON {table} \
             REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_{table}();"
        ));
    }
    sql
}

/// Counts that only grow: rows of a log pruned later (plays), whose pruning must not take
/// from the counts. INSERT triggers only.
pub fn postgres_insert_trigger(table: &str, counts: &[Count]) -> String {
    postgres_counting(table, counts, None, true)
}

/// [`postgres_insert_trigger`] for SQLite.
pub fn sqlite_insert_trigger(table: &str, counts: &[Count]) -> String {
    sqlite_counting(table, counts, None, true)
}

/// A row trigger for each of INSERT and DELETE.
pub fn sqlite_triggers(table: &str, counts: &[Count], counter: Option<&str>) -> String {
    sqlite_counting(table, counts, counter, false)
}

fn sqlite_counting(
    table: &str,
    counts: &[Count],
    counter: Option<&str>,
    insert_only: bool,
) -> String {
    let mut sql = String::new();
    let events: &[(&str, &str, &str)] = if insert_only {
        &[("INSERT", "NEW", "+")]
    } else {
        &[("INSERT", "NEW", "+"), ("DELETE", "OLD", "-")]
    };
    for &(event, row, sign) in events {
        let only = counted_rows(table)
            .replace("follower_id", &format!("{row}.follower_id"))
            .replace("followed_id", &format!("{row}.followed_id"));
        let mut body = String::new();
        for (owner, column, by) in counts {
            body.push_str(&format!(
                "UPDATE {owner} SET {column} = {column} {sign} 1 WHERE id = {row}.{by};\n"
            ));
        }
        if let Some(name) = counter {
            body.push_str(&format!(
                "UPDATE counters SET value = value {sign} 1 WHERE name = '{name}';\n"
            ));
        }
        let lower = event.to_lowercase();
        sql.push_str(&format!(
            "CREATE TRIGGER count_{table}_{lower} AFTER {event} ON {table} \
             WHEN {only} BEGIN\n{body}END;\n"
        ));
    }
    sql
}
