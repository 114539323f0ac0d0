//! `ragtime import-flask --from <URL>`: move a Flask Ragtime site's data into this one (issue
//! 16) — accounts with their password hashes, compositions with their ids (so old links
//! answer), follows with their dates — in one transaction on our side, reading the old
//! database only (SQLite opened read-only, PostgreSQL in a READ ONLY transaction).
//!
//! How it runs: the old users are read once for their names and addresses, which are resolved
//! for everybody first (lowest id keeps a contested one); then users, compositions and follows
//! are streamed in keyset batches of [`READ_BATCH`] rows, each batch written as multi-row
//! INSERTs while the next one is read (on PostgreSQL, compositions and follows go to temporary
//! tables, moved at the end by one statement each, with the foreign keys checked once for all
//! rows when the database has nobody of its own: see [`Staging`]). The database's triggers
//! keep every derived count and search document, as for any insert. What does not fit is
//! resolved by the rules of [`rules`] and listed in the [`Report`].
//!
//! Safe to run again: the import is recorded (`flask_imports`) with a fingerprint of the old
//! data; a second run on the same data changes nothing and says so. A database with users of
//! its own is refused unless `--merge`, which gives imported rows whose id is taken new ids
//! and keeps their old slugs as redirects.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{
    AccessMode, ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, IsolationLevel, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::db;
use crate::migration::Migrator;
use crate::models::flask_import::{
    self as store, FLASK_REVISION, NewComposition, NewFollow, Staging,
};
use crate::models::{role, slug, user};

pub mod rules;

/// Rows read from the old database at a time.
pub const READ_BATCH: u64 = 10_000;
/// Bind parameters per statement: under SQLite's 32766 and PostgreSQL's 65535.
const MAX_BIND_PARAMS: usize = 30_000;

/// The command line of `ragtime import-flask`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportFlaskArgs {
    /// The Flask Ragtime's database: postgres://… (e.g. the old Heroku app's DATABASE_URL) or
    /// sqlite:///path/to/data-dev.sqlite. Only read, never written.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Do everything in a transaction that is rolled back: report, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import into a database that already has users of its own: imported users and
    /// compositions whose id is taken get new ids (old composition URLs still redirect).
    #[arg(long)]
    pub merge: bool,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub from: String,
    pub dry_run: bool,
    pub merge: bool,
    /// Rows read from the old database at a time ([`READ_BATCH`]; tests page with less).
    pub batch: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            from: String::new(),
            dry_run: false,
            merge: false,
            batch: READ_BATCH,
        }
    }
}

impl From<&ImportFlaskArgs> for Options {
    fn from(a: &ImportFlaskArgs) -> Self {
        Options {
            from: a.from.clone(),
            dry_run: a.dry_run,
            merge: a.merge,
            ..Default::default()
        }
    }
}

/// Why a row was changed on its way in: each rule of the README's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    EmailNormalised,
    EmailTaken,
    EmailInvalid,
    UsernameInvalid,
    UsernameTaken,
    RoleMissing,
    RoleUnknown,
    ConfirmedMissing,
    PasswordMissing,
    LastSeenMissing,
    JoinDateUnknown,
    UserIdTaken,
    SelfFollowAdded,
    TitleEmpty,
    TitleChanged,
    ReleaseTypeMissing,
    Orphaned,
    CompositionTimestampMissing,
    CompositionIdTaken,
    FollowTimestampMissing,
}

impl Rule {
    pub const ALL: [Rule; 20] = [
        Rule::EmailNormalised,
        Rule::EmailTaken,
        Rule::EmailInvalid,
        Rule::UsernameInvalid,
        Rule::UsernameTaken,
        Rule::RoleMissing,
        Rule::RoleUnknown,
        Rule::ConfirmedMissing,
        Rule::PasswordMissing,
        Rule::LastSeenMissing,
        Rule::JoinDateUnknown,
        Rule::UserIdTaken,
        Rule::SelfFollowAdded,
        Rule::TitleEmpty,
        Rule::TitleChanged,
        Rule::ReleaseTypeMissing,
        Rule::Orphaned,
        Rule::CompositionTimestampMissing,
        Rule::CompositionIdTaken,
        Rule::FollowTimestampMissing,
    ];

    /// The rule, as the report and the README state it.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::EmailNormalised => {
                "email with spaces or capitals: trimmed and lower-cased, as Ragtime stores addresses"
            }
            Rule::EmailTaken => {
                "email already used (compared case-insensitively): the lowest id keeps it; the other \
                 account gets local+<id>@domain, or user<id>@flask-import.invalid if that does not fit"
            }
            Rule::EmailInvalid => {
                "email missing or not an address: user<id>@flask-import.invalid (tell the user; they \
                 log in with it, then change it)"
            }
            Rule::UsernameInvalid => {
                "username Ragtime refuses: other characters than letters, digits, . and _ become _, \
                 a u goes before a leading digit or symbol, cut to 64; user<id> when nothing is \
                 left; /user/<old username> redirects to the new one"
            }
            Rule::UsernameTaken => {
                "username already used (compared case-insensitively): the lowest id keeps it; the \
                 other account gets <username>_<id>; /user/<old username> redirects to the new one"
            }
            Rule::RoleMissing => "no role (NULL): the default role, User",
            Rule::RoleUnknown => "a role Ragtime does not have: the default role, User",
            Rule::ConfirmedMissing => "confirmation unknown (NULL): not confirmed",
            Rule::PasswordMissing => {
                "no password hash: cannot log in until the password is reset by mail"
            }
            Rule::LastSeenMissing => "never seen (NULL last_seen): last seen when they joined",
            Rule::JoinDateUnknown => {
                "no trace to date the account by (no composition, follow or last visit): joined at \
                 the import"
            }
            Rule::UserIdTaken => "user id taken here (--merge): a new id",
            Rule::SelfFollowAdded => {
                "missing self-follow (Ragtime's feeds need it): added, dated when they joined"
            }
            Rule::TitleEmpty => "empty title: \"Untitled\"",
            Rule::TitleChanged => {
                "title with surrounding spaces or control characters: trimmed, controls as spaces"
            }
            Rule::ReleaseTypeMissing => "no release type (NULL) or an unknown one: Single",
            Rule::Orphaned => {
                "no artist (NULL artist_id): given to the account former_artists, which cannot log in"
            }
            Rule::CompositionTimestampMissing => "no date (NULL timestamp): dated at the import",
            Rule::CompositionIdTaken => {
                "composition id taken here (--merge): a new id; the old slugs redirect to it"
            }
            Rule::FollowTimestampMissing => {
                "follow without a date (NULL timestamp): dated when the later of the two joined"
            }
        }
    }
}

/// One row changed by a rule: what it was and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub rule: Rule,
    /// `user 12`, `composition 40`, `follow 3 → 5`.
    pub subject: String,
    pub old: String,
    pub new: String,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    /// Set when this data was imported before: when, and nothing was changed.
    pub already_imported: Option<String>,
    pub users: u64,
    pub compositions: u64,
    pub follows: u64,
    pub resolutions: Vec<Resolution>,
    pub elapsed: Duration,
}

impl Report {
    pub fn count(&self, rule: Rule) -> usize {
        self.resolutions.iter().filter(|r| r.rule == rule).count()
    }

    pub fn changed_nothing(&self) -> bool {
        self.dry_run || self.already_imported.is_some()
    }

    fn resolve(
        &mut self,
        rule: Rule,
        subject: String,
        old: impl fmt::Display,
        new: impl fmt::Display,
    ) {
        self.resolutions.push(Resolution {
            rule,
            subject,
            old: old.to_string(),
            new: new.to_string(),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(when) = &self.already_imported {
            return write!(
                f,
                "import-flask: this data was already imported on {when}; nothing changed"
            );
        }
        let verb = if self.dry_run {
            "would import"
        } else {
            "imported"
        };
        writeln!(
            f,
            "import-flask: {verb} {} users, {} compositions, {} follows in {:.1} s{}",
            self.users,
            self.compositions,
            self.follows,
            self.elapsed.as_secs_f64(),
            if self.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        )?;
        if self.resolutions.is_empty() {
            return write!(f, "every row fitted as it was");
        }
        write!(
            f,
            "{} rows did not fit as they were and were changed by these rules (old → new):",
            self.resolutions.len()
        )?;
        for rule in Rule::ALL {
            let mut of_rule = self
                .resolutions
                .iter()
                .filter(|r| r.rule == rule)
                .peekable();
            if of_rule.peek().is_none() {
                continue;
            }
            write!(f, "\n\n{} ({}):", rule.describe(), self.count(rule))?;
            for r in of_rule {
                write!(f, "\n  {}: {:?} → {:?}", r.subject, r.old, r.new)?;
            }
        }
        Ok(())
    }
}

/// `ragtime import-flask`: into `DATABASE_URL`, which `ragtime deploy` has prepared.
pub async fn run(config: &Config, options: &Options) -> anyhow::Result<Report> {
    import_url(config.database_url.expose_secret(), options).await
}

/// Import `options.from` into the database at `target_url`.
pub async fn import_url(target_url: &str, options: &Options) -> anyhow::Result<Report> {
    if options.from.trim() == target_url.trim() {
        bail!("--from names the database being imported into: give the old site's database");
    }
    let old = open_old(&options.from).await?;
    db::probe(target_url).await?;
    let target = db::connect_url(target_url, 1)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    let result = import(&old, &target, options).await;
    old.close().await.ok();
    if result.as_ref().is_ok_and(|r| !r.changed_nothing()) {
        // A bulk load: fresh planner statistics instead of waiting for autovacuum.
        db::refresh_statistics(&target)
            .await
            .context("imported, but cannot refresh the database statistics")?;
    }
    target.close().await.ok();
    result
}

/// The old database, for reading only. Its URL never reaches a message (it holds a password).
async fn open_old(url: &str) -> anyhow::Result<DatabaseConnection> {
    let url = url.trim();
    let scheme = url.split(':').next().unwrap_or("");
    let mut options = match scheme {
        "postgres" | "postgresql" => {
            db::probe(url)
                .await
                .map_err(|e| anyhow::anyhow!("the old database (--from): {e}"))?;
            ConnectOptions::new(url.to_owned())
        }
        "sqlite" => {
            let path = url
                .trim_start_matches("sqlite:")
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or("");
            if path.is_empty() || path == ":memory:" {
                bail!("--from: a SQLite URL names a file: sqlite:///path/to/data-dev.sqlite");
            }
            let file = std::path::Path::new(path);
            if !file.is_file() {
                bail!("--from: no such file: {}", file.display());
            }
            let mut options = ConnectOptions::new(format!("sqlite://{path}?mode=ro"));
            options.map_sqlx_sqlite_opts(|o| o.read_only(true).create_if_missing(false));
            options
        }
        _ => bail!(
            "--from must be a postgres://, postgresql:// or sqlite:/// URL of the Flask \
             Ragtime's database, not {:?}",
            if scheme.len() < 20 { scheme } else { "that" }
        ),
    };
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let sqlite = scheme == "sqlite";
    Database::connect(options).await.map_err(|e| {
        if sqlite {
            anyhow::anyhow!(
                "cannot open --from: not a SQLite database, so not the Flask Ragtime's \
                 database ({e})"
            )
        } else {
            anyhow::anyhow!("cannot open the old database (--from): {e}")
        }
    })
}

/// Check that `old` is the Flask Ragtime's database at the revision this reads.
async fn check_old<C: ConnectionTrait>(old: &C) -> anyhow::Result<()> {
    let revision = store::revision(old).await.map_err(|e| {
        anyhow::anyhow!(
            "--from is not the Flask Ragtime's database: cannot read its alembic_version ({e})"
        )
    })?;
    match revision {
        Some(r) if r == FLASK_REVISION => Ok(()),
        Some(r) => bail!(
            "the old database is at Alembic revision {r}; this import reads revision \
             {FLASK_REVISION}, the Flask Ragtime's last: upgrade it first (`flask db upgrade`)"
        ),
        None => bail!("--from is not the Flask Ragtime's database: its alembic_version is empty"),
    }
}

/// The import itself, from `old` into `target` (see the module's documentation).
pub async fn import(
    old: &DatabaseConnection,
    target: &DatabaseConnection,
    options: &Options,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    if options.batch == 0 {
        bail!("the old database is read in batches of at least one row");
    }
    let pending = Migrator::get_pending_migrations_read_only(target)
        .await
        .context("cannot read the migration status of the database: run `ragtime deploy` first")?;
    if !pending.is_empty() {
        bail!(
            "the database is not ready ({} pending migration(s)): run `ragtime deploy` first",
            pending.len()
        );
    }
    // One snapshot of the old data, which this session cannot change.
    let old_txn = if old.get_database_backend() == DatabaseBackend::Postgres {
        old.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
    } else {
        old.begin().await
    }
    .context("cannot start reading the old database")?;
    check_old(&old_txn).await?;
    let fingerprint = store::fingerprint(&old_txn).await.map_err(|e| {
        anyhow::anyhow!("--from does not look like the Flask Ragtime's database: {e}")
    })?;

    let txn = crate::models::begin_write(target)
        .await
        .context("cannot start a transaction")?;
    store::lock(&txn).await?;
    let previous = store::previous_imports(&txn).await?;
    if let Some(same) = previous.iter().find(|p| p.fingerprint == fingerprint) {
        txn.rollback().await.ok();
        return Ok(Report {
            dry_run: options.dry_run,
            already_imported: Some(same.imported_at.clone()),
            elapsed: started.elapsed(),
            ..Default::default()
        });
    }
    if let Some(other) = previous.first() {
        bail!(
            "this database already holds an import of the Flask Ragtime made on {} from \
             different data ({}); importing again would duplicate its people: import into a \
             fresh database (`ragtime deploy` on an empty one)",
            other.imported_at,
            other.summary
        );
    }
    let others = store::users_not_imported(&txn).await?;
    if others > 0 && !options.merge {
        bail!(
            "this database already has {others} user(s) of its own: refusing to mix the old \
             site's people with them. Import into a fresh database, or give --merge to add \
             them anyway (ids that are taken get new ones)"
        );
    }

    let mut report = Report {
        dry_run: options.dry_run,
        ..Default::default()
    };
    let now = Utc::now();
    let plan = plan_users(&old_txn, &txn, options, now, &mut report).await?;
    tracing::info!(users = plan.people.len(), "import-flask: accounts resolved");
    // Nobody of our own to keep waiting: the tables may be locked for a bulk load.
    let staging = Staging::begin(&txn, others == 0).await?;
    insert_users(&old_txn, &txn, &plan, staging, options, &mut report)
        .await
        .context("cannot import the users")?;
    tracing::info!(users = report.users, elapsed = ?started.elapsed(), "import-flask: users");
    insert_compositions(&old_txn, &txn, &plan, staging, options, now, &mut report)
        .await
        .context("cannot import the compositions")?;
    tracing::info!(compositions = report.compositions, elapsed = ?started.elapsed(), "import-flask: compositions");
    insert_follows(&old_txn, &txn, &plan, staging, options, &mut report)
        .await
        .context("cannot import the follows")?;
    for id in store::add_missing_self_follows(&txn).await? {
        report.resolve(
            Rule::SelfFollowAdded,
            format!("user {id}"),
            "not following themself",
            "following themself",
        );
    }
    tracing::info!(follows = report.follows, elapsed = ?started.elapsed(), "import-flask: follows");
    old_txn.commit().await.ok();
    report.elapsed = started.elapsed();
    if options.dry_run {
        txn.rollback()
            .await
            .context("cannot roll back the dry run")?;
        return Ok(report);
    }
    let summary = format!(
        "{} users, {} compositions, {} follows",
        report.users, report.compositions, report.follows
    );
    store::record_import(&txn, &fingerprint, &now.to_rfc3339(), &summary).await?;
    store::advance_sequences(&txn).await?;
    txn.commit().await.context("cannot commit the import")?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// An account as it will be written: everything decided before any row is.
struct Person {
    id: i32,
    username: String,
    email: String,
    member_since: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The users' new names, addresses, ids and dates, by old id.
struct Plan {
    people: HashMap<i32, Person>,
    /// The account of compositions without an artist, if there are any.
    orphans: Option<Person>,
    roles: HashMap<i32, Option<String>>,
    role_ids: HashMap<String, i32>,
    default_role: i32,
    /// The first id free for a composition whose id is taken (`--merge`).
    next_composition_id: i32,
    /// The old usernames of renamed accounts, with their ids: `/user/<old>` still answers.
    renamed: Vec<(String, i32)>,
}

impl Plan {
    fn user(&self, old_id: i32) -> anyhow::Result<&Person> {
        self.people
            .get(&old_id)
            .with_context(|| format!("user {old_id} appeared while importing"))
    }
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "NULL".into())
}

async fn plan_users(
    old: &DatabaseTransaction,
    txn: &DatabaseTransaction,
    options: &Options,
    now: DateTime<Utc>,
    report: &mut Report,
) -> anyhow::Result<Plan> {
    let roles = role::all(txn).await?;
    let default_role = roles
        .iter()
        .find(|r| r.default)
        .map(|r| r.id)
        .context("the roles are missing: run `ragtime deploy` first")?;
    let role_ids = roles.into_iter().map(|r| (r.name, r.id)).collect();
    let old_roles = store::old_roles(old)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();

    let mut identities = Vec::new();
    let mut after = 0;
    loop {
        let batch = store::old_identities(old, after, options.batch).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        identities.extend(batch);
    }
    let traces: HashMap<i32, NaiveDateTime> = store::old_earliest_traces(old)
        .await?
        .into_iter()
        .filter_map(|e| Some((e.id, e.at?)))
        .collect();

    // Names and addresses: ours first (--merge), then the old ones that fit, lowest id first;
    // then the rest, around all of those.
    let mut taken_names = HashSet::new();
    let mut taken_emails = HashSet::new();
    for (u, e) in store::taken_names(txn).await? {
        taken_names.insert(u);
        taken_emails.insert(e);
    }
    let mut names: HashMap<i32, String> = HashMap::new();
    let mut emails: HashMap<i32, String> = HashMap::new();
    let mut renamed_from: HashMap<i32, String> = HashMap::new();
    for i in &identities {
        let raw = i.username.as_deref().unwrap_or("");
        if crate::models::forms::username(raw).is_ok_and(|v| v == raw)
            && taken_names.insert(raw.to_lowercase())
        {
            names.insert(i.id, raw.to_owned());
        }
        if let Some(e) = rules::normal_email(i.email.as_deref().unwrap_or(""))
            && taken_emails.insert(e.clone())
        {
            emails.insert(i.id, e);
        }
    }
    for i in &identities {
        let subject = format!("user {}", i.id);
        let raw = i.username.as_deref().unwrap_or("");
        if let std::collections::hash_map::Entry::Vacant(entry) = names.entry(i.id) {
            let valid = rules::valid_username(raw, i.id);
            let (rule, name) = if crate::models::forms::username(raw).is_ok_and(|v| v == raw) {
                (
                    Rule::UsernameTaken,
                    rules::free_username(raw, i.id, &taken_names),
                )
            } else if taken_names.contains(&valid.to_lowercase()) {
                (
                    Rule::UsernameInvalid,
                    rules::free_username(&valid, i.id, &taken_names),
                )
            } else {
                (Rule::UsernameInvalid, valid)
            };
            taken_names.insert(name.to_lowercase());
            report.resolve(rule, subject.clone(), shown(&i.username), &name);
            if !raw.is_empty() {
                renamed_from.insert(i.id, raw.to_owned());
            }
            entry.insert(name);
        }
        match emails.get(&i.id) {
            Some(e) if Some(e.as_str()) != i.email.as_deref() => {
                report.resolve(Rule::EmailNormalised, subject.clone(), shown(&i.email), e);
            }
            Some(_) => {}
            None => {
                let (rule, email) = match rules::normal_email(i.email.as_deref().unwrap_or("")) {
                    Some(e) => (
                        Rule::EmailTaken,
                        rules::second_email(&e, i.id, &taken_emails),
                    ),
                    None => (
                        Rule::EmailInvalid,
                        rules::made_up_email(i.id, &taken_emails),
                    ),
                };
                taken_emails.insert(email.clone());
                report.resolve(rule, subject.clone(), shown(&i.email), &email);
                emails.insert(i.id, email);
            }
        }
    }

    // Ids: kept, unless --merge meets one of ours.
    let (our_users, our_compositions) = store::max_ids(txn).await?;
    let old_max_user = identities.last().map_or(0, |i| i.id);
    let mut next_user_id = our_users.max(old_max_user) + 1;
    let ours: HashSet<i32> = if options.merge {
        store::user_ids(txn).await?.into_iter().collect()
    } else {
        HashSet::new()
    };
    let mut people = HashMap::with_capacity(identities.len());
    let mut renamed = Vec::with_capacity(renamed_from.len());
    for i in identities {
        let subject = format!("user {}", i.id);
        let id = if ours.contains(&i.id) {
            let id = next_user_id;
            next_user_id += 1;
            report.resolve(Rule::UserIdTaken, subject.clone(), i.id, id);
            id
        } else {
            i.id
        };
        if let Some(old) = renamed_from.remove(&i.id) {
            renamed.push((old, id));
        }
        let trace = traces.get(&i.id).copied();
        let earliest = match (trace, i.last_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let member_since = earliest.map(utc).unwrap_or_else(|| {
            report.resolve(
                Rule::JoinDateUnknown,
                subject.clone(),
                "NULL",
                now.to_rfc3339(),
            );
            now
        });
        let last_seen = match i.last_seen {
            Some(t) => utc(t),
            None => {
                report.resolve(
                    Rule::LastSeenMissing,
                    subject.clone(),
                    "NULL",
                    member_since.to_rfc3339(),
                );
                member_since
            }
        };
        people.insert(
            i.id,
            Person {
                id,
                username: names.remove(&i.id).unwrap_or_default(),
                email: emails.remove(&i.id).unwrap_or_default(),
                member_since,
                last_seen,
            },
        );
    }
    let orphans = if store::old_orphans(old).await? > 0 {
        let username = if taken_names.contains(rules::ORPHANS_USERNAME) {
            rules::free_username(rules::ORPHANS_USERNAME, next_user_id, &taken_names)
        } else {
            rules::ORPHANS_USERNAME.to_owned()
        };
        let email = if taken_emails.contains(rules::ORPHANS_EMAIL) {
            rules::made_up_email(next_user_id, &taken_emails)
        } else {
            rules::ORPHANS_EMAIL.to_owned()
        };
        Some(Person {
            id: next_user_id,
            username,
            email,
            member_since: now,
            last_seen: now,
        })
    } else {
        None
    };
    Ok(Plan {
        people,
        orphans,
        roles: old_roles,
        role_ids,
        default_role,
        next_composition_id: our_compositions + 1,
        renamed,
    })
}

fn rows_per_statement(columns: usize) -> usize {
    (MAX_BIND_PARAMS / columns).max(1)
}

fn account(
    person: &Person,
    role_id: i32,
    password_hash: String,
    confirmed: bool,
) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(person.id),
        email: Set(person.email.clone()),
        username: Set(person.username.clone()),
        role_id: Set(role_id),
        password_hash: Set(password_hash),
        confirmed: Set(confirmed),
        name: Set(None),
        location: Set(None),
        about_me: Set(None),
        member_since: Set(person.member_since),
        last_seen: Set(person.last_seen),
        // A fresh random key: the old one is the MD5 of an address (stale, and revealing).
        avatar_hash: Set(user::new_avatar_key()),
        ..Default::default()
    }
}

async fn write_users(
    txn: &DatabaseTransaction,
    rows: Vec<(user::ActiveModel, (i32, Option<i32>))>,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(rows_per_statement(12)) {
        let (users, ids): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
        store::insert_users(txn, users, ids).await?;
    }
    Ok(())
}

async fn insert_users(
    old: &DatabaseTransaction,
    txn: &DatabaseTransaction,
    plan: &Plan,
    staging: Staging,
    options: &Options,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut batch = store::old_users(old, 0, options.batch).await?;
    while let Some(last) = batch.last() {
        let after = last.id;
        let mut rows = Vec::with_capacity(batch.len());
        for u in batch {
            let subject = format!("user {}", u.id);
            let person = plan.user(u.id)?;
            let role_id = match u.role_id {
                None => {
                    report.resolve(Rule::RoleMissing, subject.clone(), "NULL", "User");
                    plan.default_role
                }
                Some(old_role) => {
                    let name = plan.roles.get(&old_role).cloned().flatten();
                    match name.as_ref().and_then(|n| plan.role_ids.get(n)) {
                        Some(id) => *id,
                        None => {
                            report.resolve(
                                Rule::RoleUnknown,
                                subject.clone(),
                                shown(&name),
                                "User",
                            );
                            plan.default_role
                        }
                    }
                }
            };
            let password_hash = match u.password_hash.filter(|h| !h.trim().is_empty()) {
                Some(h) => h,
                None => {
                    report.resolve(
                        Rule::PasswordMissing,
                        subject.clone(),
                        "NULL",
                        "no password",
                    );
                    rules::NO_PASSWORD.to_owned()
                }
            };
            let confirmed = u.confirmed.unwrap_or_else(|| {
                report.resolve(Rule::ConfirmedMissing, subject.clone(), "NULL", false);
                false
            });
            let mut row = account(person, role_id, password_hash, confirmed);
            row.name = Set(u.name);
            row.location = Set(u.location);
            row.about_me = Set(u.about_me);
            rows.push((row, (person.id, Some(u.id))));
        }
        report.users += rows.len() as u64;
        let (next, written) = tokio::join!(
            store::old_users(old, after, options.batch),
            write_users(txn, rows)
        );
        written?;
        batch = next?;
    }
    if let Some(orphans) = &plan.orphans {
        let row = account(
            orphans,
            plan.default_role,
            rules::NO_PASSWORD.to_owned(),
            true,
        );
        write_users(txn, vec![(row, (orphans.id, None))]).await?;
        // Like every account, it follows itself.
        let itself = NewFollow {
            follower_id: orphans.id,
            followed_id: orphans.id,
            timestamp: orphans.member_since,
        };
        staging.follows(txn, &[itself]).await?;
    }
    store::insert_renamed_users(txn, &plan.renamed).await?;
    Ok(())
}

async fn write_compositions(
    txn: &DatabaseTransaction,
    staging: Staging,
    rows: Vec<NewComposition>,
    redirects: Vec<(String, i32)>,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(rows_per_statement(7)) {
        staging.compositions(txn, chunk).await?;
    }
    if !redirects.is_empty() {
        store::insert_redirects(txn, &redirects).await?;
    }
    Ok(())
}

async fn insert_compositions(
    old: &DatabaseTransaction,
    txn: &DatabaseTransaction,
    plan: &Plan,
    staging: Staging,
    options: &Options,
    now: DateTime<Utc>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut next_id = plan.next_composition_id;
    let mut batch = store::old_compositions(old, 0, options.batch).await?;
    while let (Some(first), Some(last)) = (batch.first(), batch.last()) {
        let after = last.id;
        let taken: HashSet<i32> = if options.merge {
            store::composition_ids_between(txn, first.id, last.id)
                .await?
                .into_iter()
                .collect()
        } else {
            HashSet::new()
        };
        next_id = next_id.max(last.id + 1);
        let mut rows = Vec::with_capacity(batch.len());
        let mut redirects = Vec::new();
        for c in batch {
            let subject = format!("composition {}", c.id);
            let title = rules::title(c.title.as_deref());
            if title == rules::UNTITLED && c.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
                report.resolve(Rule::TitleEmpty, subject.clone(), shown(&c.title), &title);
            } else if c.title.as_deref() != Some(title.as_str()) {
                report.resolve(Rule::TitleChanged, subject.clone(), shown(&c.title), &title);
            }
            let release_type = rules::release_type(c.release_type);
            if c.release_type != Some(i32::from(release_type)) {
                let old = c.release_type.map_or("NULL".into(), |v| v.to_string());
                report.resolve(Rule::ReleaseTypeMissing, subject.clone(), old, "1 (Single)");
            }
            let artist = match c.artist_id {
                Some(a) => plan.user(a)?,
                None => {
                    let orphans = plan
                        .orphans
                        .as_ref()
                        .context("orphans appeared while importing")?;
                    report.resolve(Rule::Orphaned, subject.clone(), "NULL", &orphans.username);
                    orphans
                }
            };
            let timestamp = match c.timestamp {
                Some(t) => utc(t),
                None => {
                    report.resolve(
                        Rule::CompositionTimestampMissing,
                        subject.clone(),
                        "NULL",
                        now.to_rfc3339(),
                    );
                    now
                }
            };
            let id = if taken.contains(&c.id) {
                let id = next_id;
                next_id += 1;
                report.resolve(Rule::CompositionIdTaken, subject.clone(), c.id, id);
                let raw_title = c.title.as_deref().unwrap_or("");
                if let Some(old_slug) = &c.slug {
                    redirects.push((old_slug.clone(), id));
                }
                redirects.push((rules::flask_slug(c.id, raw_title), id));
                redirects.push((slug::slug(c.id, &title), id));
                id
            } else {
                c.id
            };
            let text = c.description.as_deref().unwrap_or("");
            rows.push(NewComposition {
                id,
                release_type,
                title,
                description: rules::description_markdown(text),
                description_html: rules::description_html(text),
                timestamp,
                artist_id: artist.id,
            });
        }
        report.compositions += rows.len() as u64;
        let (next, written) = tokio::join!(
            store::old_compositions(old, after, options.batch),
            write_compositions(txn, staging, rows, redirects)
        );
        written?;
        batch = next?;
    }
    staging.flush_compositions(txn).await?;
    Ok(())
}

async fn write_follows(
    txn: &DatabaseTransaction,
    staging: Staging,
    rows: Vec<NewFollow>,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(rows_per_statement(3)) {
        staging.follows(txn, chunk).await?;
    }
    Ok(())
}

async fn insert_follows(
    old: &DatabaseTransaction,
    txn: &DatabaseTransaction,
    plan: &Plan,
    staging: Staging,
    options: &Options,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut batch = store::old_follows(old, (0, 0), options.batch).await?;
    while let Some(last) = batch.last() {
        let after = (last.follower_id, last.following_id);
        let mut rows = Vec::with_capacity(batch.len());
        for f in batch {
            let follower = plan.user(f.follower_id)?;
            let followed = plan.user(f.following_id)?;
            let timestamp = match f.timestamp {
                Some(t) => utc(t),
                None => {
                    let at = follower.member_since.max(followed.member_since);
                    report.resolve(
                        Rule::FollowTimestampMissing,
                        format!("follow {} → {}", f.follower_id, f.following_id),
                        "NULL",
                        at.to_rfc3339(),
                    );
                    at
                }
            };
            rows.push(NewFollow {
                follower_id: follower.id,
                followed_id: followed.id,
                timestamp,
            });
        }
        report.follows += rows.len() as u64;
        let (next, written) = tokio::join!(
            store::old_follows(old, after, options.batch),
            write_follows(txn, staging, rows)
        );
        written?;
        batch = next?;
    }
    staging.flush_follows(txn).await?;
    Ok(())
}
