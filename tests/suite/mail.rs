//! Mail delivery end to end: the queue survives a crash, two workers never send a message
//! twice, failures are retried later, SMTP delivery reaches a real SMTP server (Python's
//! `aiosmtpd`, plain and with STARTTLS), and `ragtime worker` delivers and stops on SIGTERM.
//!
//! The SMTP tests need `python3` with `aiosmtpd` (`python3 -m pip install aiosmtpd`) and, for
//! STARTTLS, `openssl`. Without them they are skipped with a note, so `cargo test` works on a
//! machine with only Rust; `.ci/run` installs them and sets `RAGTIME_REQUIRE_SMTP_TEST=1`, and
//! then a missing tool fails the test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{SECRET_KEY, TestDb, ragtime};
use chrono::Utc;
use ragtime::config::{Config, MailConfig};
use ragtime::mail::{self, Outgoing, Rendered, Transport};
use ragtime::models::mail_queue;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use secrecy::SecretString;

/// The mail settings of the testing configuration, pointed at `server:port`.
fn mail_config(server: Option<&str>, port: u16, use_tls: bool) -> MailConfig {
    MailConfig {
        server: server.map(str::to_owned),
        port,
        use_tls,
        username: None,
        password: None,
        sender: "Ragtime Admin <ragtime@example.com>".into(),
        subject_prefix: "[Ragtime]".into(),
        retention_days: ragtime::config::MAIL_RETENTION_DAYS,
        max_attempts: ragtime::config::MAIL_MAX_ATTEMPTS,
    }
}

fn body(n: usize) -> Rendered {
    Rendered {
        text: format!("Dear ann,\n\nmessage {n}: http://127.0.0.1/auth/confirm/tok{n}\n"),
        html: format!(
            "<p>Dear ann,</p><p>message {n}: <a href=\"/auth/confirm/tok{n}\">confirm</a></p>"
        ),
    }
}

/// A deployed database and a fresh pool on it (one "process").
async fn deployed(test_db: &TestDb) -> DatabaseConnection {
    ragtime::commands::deploy::deploy_url(&test_db.url)
        .await
        .expect("deploy");
    connect(test_db).await
}

async fn connect(test_db: &TestDb) -> DatabaseConnection {
    ragtime::db::connect_url(&test_db.url, 5)
        .await
        .expect("connect")
}

async fn rows(db: &DatabaseConnection) -> Vec<mail_queue::Model> {
    mail_queue::Entity::find()
        .order_by_asc(mail_queue::Column::Id)
        .all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_queued_mail_survives_a_crash_before_delivery_and_is_sent_once() {
    let test_db = TestDb::new();
    let config = mail_config(None, 587, true);
    {
        let web = deployed(&test_db).await;
        let txn = web.begin().await.unwrap();
        mail::queue(
            &txn,
            &config,
            "ann@example.com",
            "Confirm Your Account",
            &body(1),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        // The process dies before its delivery loop ran: nothing was sent.
        web.close().await.unwrap();
    }

    let restarted = connect(&test_db).await;
    let outbox = Transport::memory();
    assert_eq!(
        mail::deliver_due(&restarted, &config, &outbox)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        mail::deliver_due(&restarted, &config, &outbox)
            .await
            .unwrap(),
        0
    );
    let row = &rows(&restarted).await[0];
    assert_eq!(
        outbox.outbox(),
        vec![Outgoing {
            message_id: format!(
                "<ragtime.{}.{}@example.com>",
                row.id,
                row.created_at.timestamp_micros()
            ),
            from: "Ragtime Admin <ragtime@example.com>".into(),
            to: "ann@example.com".into(),
            subject: "[Ragtime] Confirm Your Account".into(),
            text: body(1).text,
            html: body(1).html,
            unsubscribe: None,
        }]
    );
    let row = &rows(&restarted).await[0];
    assert!(row.sent_at.is_some());
    assert_eq!(row.attempts, 0);
}

#[tokio::test]
async fn mail_queued_in_a_rolled_back_transaction_is_never_sent() {
    let test_db = TestDb::new();
    let config = mail_config(None, 587, true);
    let db = deployed(&test_db).await;
    let txn = db.begin().await.unwrap();
    mail::queue(&txn, &config, "ann@example.com", "New User", &body(1))
        .await
        .unwrap();
    txn.rollback().await.unwrap();

    let outbox = Transport::memory();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 0);
    assert!(outbox.outbox().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_at_once_deliver_each_message_exactly_once() {
    let test_db = TestDb::new();
    let config = mail_config(None, 587, true);
    let web = deployed(&test_db).await;
    for n in 0..20 {
        mail::queue(
            &web,
            &config,
            &format!("user{n}@example.com"),
            "Hello",
            &body(n),
        )
        .await
        .unwrap();
    }

    // Two processes: their own pools, their own transports, running at the same moment.
    let (db_a, db_b) = (connect(&test_db).await, connect(&test_db).await);
    let (outbox_a, outbox_b) = (Transport::memory(), Transport::memory());
    let (sent_a, sent_b) = tokio::join!(
        mail::deliver_due(&db_a, &config, &outbox_a),
        mail::deliver_due(&db_b, &config, &outbox_b),
    );
    let (sent_a, sent_b) = (sent_a.unwrap(), sent_b.unwrap());
    assert_eq!(sent_a + sent_b, 20);

    let mut delivered: Vec<String> = outbox_a
        .outbox()
        .into_iter()
        .chain(outbox_b.outbox())
        .map(|m| m.to)
        .collect();
    delivered.sort();
    let mut expected: Vec<String> = (0..20).map(|n| format!("user{n}@example.com")).collect();
    expected.sort();
    assert_eq!(delivered, expected, "each message exactly once");
    assert!(rows(&web).await.iter().all(|r| r.sent_at.is_some()));

    // Nothing is left for a third worker.
    let late = Transport::memory();
    assert_eq!(mail::deliver_due(&web, &config, &late).await.unwrap(), 0);
}

#[tokio::test]
async fn a_message_sent_again_after_a_lost_sent_mark_keeps_its_message_id() {
    let test_db = TestDb::new();
    let config = mail_config(None, 25, false);
    let db = deployed(&test_db).await;
    mail::queue(&db, &config, "ann@example.com", "Hello", &body(1))
        .await
        .unwrap();
    let outbox = Transport::memory();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 1);
    // The worker was killed between the SMTP exchange and recording it: the row looks unsent.
    db.execute_unprepared("UPDATE mail_queue SET sent_at = NULL, locked_until = NULL")
        .await
        .unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 1);
    let sent = outbox.outbox();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].message_id, sent[1].message_id,
        "a relay or a reader can tell the copy"
    );
}

#[tokio::test]
async fn a_live_worker_renews_its_claim_and_a_dead_one_loses_it() {
    let test_db = TestDb::new();
    let config = mail_config(None, 25, false);
    let db = deployed(&test_db).await;
    mail::queue(&db, &config, "ann@example.com", "Hello", &body(1))
        .await
        .unwrap();
    let id = rows(&db).await[0].id;
    assert!(mail_queue::claim(&db, id).await.unwrap());
    assert!(!mail_queue::claim(&db, id).await.unwrap(), "reserved");
    let claimed = rows(&db).await[0].locked_until.unwrap();
    assert!(claimed <= Utc::now() + chrono::Duration::seconds(mail_queue::CLAIM));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(mail_queue::renew(&db, id).await.unwrap());
    assert!(
        rows(&db).await[0].locked_until.unwrap() > claimed,
        "renewed from now"
    );
    // The worker died: nobody renewed, and the claim ran out.
    db.execute_unprepared("UPDATE mail_queue SET locked_until = created_at")
        .await
        .unwrap();
    assert!(
        !mail_queue::renew(&db, id).await.unwrap(),
        "a lapsed claim is not revived"
    );
    assert!(
        mail_queue::claim(&db, id).await.unwrap(),
        "another worker takes it"
    );
}

#[tokio::test]
async fn an_unreachable_relay_is_an_outage_that_leaves_the_mail_due_and_uncounted() {
    let test_db = TestDb::new();
    // Nothing listens on port 1: every connection is refused.
    let config = mail_config(Some("127.0.0.1"), 1, false);
    let db = deployed(&test_db).await;
    for n in 1..=2 {
        mail::queue(&db, &config, "ann@example.com", "Hello", &body(n))
            .await
            .unwrap();
    }

    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    let [first, second] = <[mail_queue::Model; 2]>::try_from(rows(&db).await).unwrap();
    assert!(first.last_error.is_some_and(|e| !e.is_empty()), "recorded");
    assert_eq!(first.attempts, 0, "not the message's fault: not counted");
    assert!(
        first.next_attempt_at <= Utc::now(),
        "still due, not put off"
    );
    assert!(first.locked_until.is_none(), "released for the next pass");
    assert!(first.sent_at.is_none() && first.failed_at.is_none());
    // The pass stopped there: the second would only have met the same refusal.
    assert!(second.last_error.is_none());

    // The relay is back: everything goes at once.
    let outbox = Transport::memory();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 2);
}

/// Make every unsent message due now (as if its backoff had passed).
async fn due_now(db: &DatabaseConnection) {
    let sql = "UPDATE mail_queue SET next_attempt_at = created_at";
    db.execute_unprepared(sql).await.unwrap();
}

#[tokio::test]
async fn a_permanent_refusal_gives_the_mail_up_at_once_saying_why() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let server = start_smtp_server(None);
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), server.port, false);
    for to in ["nobody@refused.example.com", "ann@example.com"] {
        mail::queue(&db, &config, to, "Hello", &body(1))
            .await
            .unwrap();
    }
    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 1);
    let refused = rows(&db).await.remove(0);
    assert!(refused.failed_at.is_some(), "given up");
    assert!(refused.sent_at.is_none());
    assert_eq!(refused.attempts, 1);
    let why = refused.last_error.unwrap();
    assert!(why.contains("550"), "the relay's answer is kept: {why}");

    // Never tried again, however long one waits.
    due_now(&db).await;
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    assert_eq!(rows(&db).await[0].attempts, 1);
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["to"], "ann@example.com");
}

#[tokio::test]
async fn a_mail_refused_for_now_is_retried_with_backoff_then_given_up_after_the_last_attempt() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let server = start_smtp_server(None);
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = MailConfig {
        max_attempts: 3,
        ..mail_config(Some("127.0.0.1"), server.port, false)
    };
    mail::queue(&db, &config, "ann@busy.example.com", "Hello", &body(1))
        .await
        .unwrap();
    let smtp = Transport::smtp(&config, None).unwrap();

    let before = Utc::now();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    let row = rows(&db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert!(row.failed_at.is_none(), "not given up after one 451");
    // 30 s after the first failure, as documented.
    let wait = row.next_attempt_at - before;
    assert!(
        wait > chrono::Duration::seconds(25) && wait <= chrono::Duration::seconds(31),
        "backs off: next attempt at {} (failed at {before})",
        row.next_attempt_at
    );
    assert!(row.last_error.unwrap().contains("451"));
    // Not due yet: even a working transport does not get it now.
    let outbox = Transport::memory();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 0);
    assert!(outbox.outbox().is_empty());

    due_now(&db).await;
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    assert_eq!(rows(&db).await[0].attempts, 2);
    assert!(rows(&db).await[0].failed_at.is_none());
    due_now(&db).await;
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    let row = rows(&db).await.remove(0);
    assert_eq!(row.attempts, 3);
    assert!(row.failed_at.is_some(), "given up after the third attempt");
    let why = row.last_error.unwrap();
    assert!(why.contains("3 attempts") && why.contains("451"), "{why}");
    due_now(&db).await;
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 0);
    assert!(outbox.outbox().is_empty(), "never tried again");
}

#[tokio::test]
async fn sent_and_given_up_mail_is_deleted_after_the_retention_period_and_unsent_mail_is_kept() {
    let test_db = TestDb::new();
    let config = MailConfig {
        retention_days: 7,
        ..mail_config(None, 587, false)
    };
    let db = deployed(&test_db).await;
    for n in 1..=5 {
        mail::queue(
            &db,
            &config,
            &format!("u{n}@example.com"),
            "Hello",
            &body(n),
        )
        .await
        .unwrap();
    }
    let outbox = Transport::memory();
    assert_eq!(mail::deliver_due(&db, &config, &outbox).await.unwrap(), 5);
    // 1: sent eight days ago; 2: sent six days ago; 3: given up eight days ago; 4: given up an
    // hour ago; 5: never sent (a relay out for that long).
    let ago = |hours: i64| Some(Utc::now() - chrono::Duration::hours(hours));
    let times = [
        (ago(8 * 24), None),
        (ago(6 * 24), None),
        (None, ago(8 * 24)),
        (None, ago(1)),
        (None, None),
    ];
    for (n, (sent, failed)) in times.into_iter().enumerate() {
        mail_queue::Entity::update_many()
            .col_expr(mail_queue::Column::SentAt, Expr::value(sent))
            .col_expr(mail_queue::Column::FailedAt, Expr::value(failed))
            .filter(mail_queue::Column::Recipient.eq(format!("u{}@example.com", n + 1)))
            .exec(&db)
            .await
            .unwrap();
    }
    assert_eq!(mail::purge_expired(&db, &config).await.unwrap(), 2);
    let left: Vec<String> = rows(&db).await.into_iter().map(|r| r.recipient).collect();
    assert_eq!(left, ["u2@example.com", "u4@example.com", "u5@example.com"]);
}

#[tokio::test]
async fn an_invalid_sender_or_recipient_fails_the_delivery_without_panicking() {
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), 1, false);
    mail::queue(&db, &config, "not an address", "Hello", &body(1))
        .await
        .unwrap();
    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    let row = rows(&db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert!(
        row.failed_at.is_some(),
        "it would never get better: given up"
    );
    let error = row.last_error.unwrap();
    assert!(error.contains("invalid recipient"), "{error}");

    let bad_sender = MailConfig {
        sender: "Ragtime Admin".into(),
        ..config.clone()
    };
    mail::queue(&db, &bad_sender, "ann@example.com", "Hello", &body(2))
        .await
        .unwrap();
    assert_eq!(mail::deliver_due(&db, &bad_sender, &smtp).await.unwrap(), 0);
    let row = rows(&db).await.remove(1);
    assert_eq!(row.attempts, 1);
    let error = row.last_error.unwrap();
    assert!(error.contains("invalid sender"), "{error}");
}

fn config_with(vars: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        ("RAGTIME_CONFIG".into(), "testing".into()),
        ("SECRET_KEY".into(), SECRET_KEY.into()),
    ]);
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    Config::from_source(&move |k: &str| map.get(k).cloned()).expect("config")
}

#[tokio::test]
async fn the_configuration_picks_smtp_only_when_mail_server_is_set() {
    let smtp = config_with(&[("MAIL_SERVER", "smtp.example.com")]);
    assert!(matches!(
        Transport::from_config(&smtp).unwrap(),
        Transport::Smtp(_)
    ));
    let plain = config_with(&[("MAIL_SERVER", "127.0.0.1"), ("MAIL_USE_TLS", "false")]);
    assert!(matches!(
        Transport::from_config(&plain).unwrap(),
        Transport::Smtp(_)
    ));
    // Development and testing read links out of the log...
    assert!(matches!(
        Transport::from_config(&config_with(&[])).unwrap(),
        Transport::Log { with_body: true }
    ));
    // ...production logs never carry the signed links.
    let production = config_with(&[
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ("DATABASE_URL", "postgres://u@127.0.0.1:1/db"),
    ]);
    assert!(matches!(
        Transport::from_config(&production).unwrap(),
        Transport::Log { with_body: false }
    ));
}

// ---------------------------------------------------------------------------------------------
// A real SMTP server: aiosmtpd, in a child process.

/// Records every message it accepts as a JSON file in `outdir`: envelope, headers, the text and
/// HTML parts, whether the session was upgraded to TLS and who logged in.
const SMTP_SERVER: &str = r#"
import email, email.policy, json, os, ssl, sys, threading, uuid
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, outdir = int(sys.argv[1]), sys.argv[2]
cert = sys.argv[3] if len(sys.argv) > 3 else None
key = sys.argv[4] if len(sys.argv) > 4 else None

class Recorder:
    # Recipients at refused.example.com are refused for good, those at busy.example.com for now.
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example.com"):
            return "550 5.1.1 No such user here"
        if address.endswith("@busy.example.com"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            if not part.is_multipart():
                parts[part.get_content_type()] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "message_id": str(msg["Message-ID"]),
            "list_unsubscribe": msg.get("List-Unsubscribe"),
            "list_unsubscribe_post": msg.get("List-Unsubscribe-Post"),
            "parts": parts,
            "tls": session.ssl is not None,
            "login": (session.login_data or b"").decode(),
        }
        tmp = os.path.join(outdir, ".tmp-" + uuid.uuid4().hex)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(outdir, uuid.uuid4().hex + ".json"))
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"ragtime" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, auth_data=auth_data if ok else None)

kwargs = {}
if cert:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    kwargs = dict(tls_context=context, require_starttls=True, auth_required=True,
                  authenticator=authenticator)
controller = Controller(Recorder(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// The aiosmtpd child process; killed when the test ends, passed or failed.
struct SmtpServer {
    child: Child,
    port: u16,
    outdir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Every message received so far.
    fn received(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.outdir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

/// Whether the SMTP tests can run: a missing tool skips them with a note, or fails them when
/// `RAGTIME_REQUIRE_SMTP_TEST=1` (as CI sets it).
fn smtp_tools_present(tools: &[(&str, &[&str], &str)]) -> bool {
    for (program, args, install) in tools {
        let ok = Command::new(program)
            .args(*args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let need = format!("this test needs `{program} {}`: {install}", args.join(" "));
            if std::env::var("RAGTIME_REQUIRE_SMTP_TEST").is_ok_and(|v| v == "1") {
                panic!("{need} (RAGTIME_REQUIRE_SMTP_TEST=1)");
            }
            eprintln!("skipped: {need}");
            return false;
        }
    }
    true
}

const PYTHON: (&str, &[&str], &str) = (
    "python3",
    &["-c", "import aiosmtpd"],
    "install it with `python3 -m pip install aiosmtpd`",
);
const OPENSSL: (&str, &[&str], &str) = ("openssl", &["version"], "install openssl");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start aiosmtpd on 127.0.0.1; with `tls` (certificate, key) it offers and requires STARTTLS
/// and a login.
fn start_smtp_server(tls: Option<(&Path, &Path)>) -> SmtpServer {
    start_smtp_server_on(free_port(), tls)
}

/// [`start_smtp_server`] on this port.
fn start_smtp_server_on(port: u16, tls: Option<(&Path, &Path)>) -> SmtpServer {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("smtp_server.py");
    std::fs::write(&script, SMTP_SERVER).unwrap();
    let outdir = dir.path().join("received");
    std::fs::create_dir(&outdir).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(port.to_string()).arg(&outdir);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let server = SmtpServer {
        child,
        port,
        outdir,
        _dir: dir,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line == "ready" => {}
        other => {
            let mut err = String::new();
            drop(server); // stop it so its stderr ends
            let _ = stderr.read_to_string(&mut err);
            panic!("the SMTP server did not start ({other:?}):\n{err}");
        }
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    server
}

#[tokio::test]
async fn smtp_delivers_a_queued_message_with_text_and_html_parts() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let server = start_smtp_server(None);
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), server.port, false);
    mail::queue(
        &db,
        &config,
        "ann@example.com",
        "Confirm Your Account",
        &body(7),
    )
    .await
    .unwrap();

    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 1);
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);

    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail["mail_from"], "ragtime@example.com");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["ann@example.com"]));
    assert_eq!(mail["from"], "Ragtime Admin <ragtime@example.com>");
    assert_eq!(mail["to"], "ann@example.com");
    assert_eq!(mail["subject"], "[Ragtime] Confirm Your Account");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let id = rows(&db).await[0].id;
    let message_id = mail["message_id"].as_str().unwrap();
    assert!(
        message_id.starts_with(&format!("<ragtime.{id}.")) && message_id.ends_with("@example.com>"),
        "{message_id}"
    );
    // Lines end in CRLF on the wire.
    let part = |kind: &str| mail["parts"][kind].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(part("text/plain"), body(7).text);
    assert_eq!(part("text/html").trim_end(), body(7).html);
    assert_eq!(mail["tls"], false);
    assert!(rows(&db).await[0].sent_at.is_some());
}

#[tokio::test]
async fn a_notification_mail_reaches_smtp_with_its_one_click_unsubscribe_headers() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let server = start_smtp_server(None);
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), server.port, false);
    let url = "https://ragtime.example/unsubscribe/MTpsaWtlcw.c2lnbmF0dXJl";
    mail::queue_with_unsubscribe(
        &db,
        &config,
        "ann@example.com",
        "bob liked Rag",
        &body(1),
        Some(url),
    )
    .await
    .unwrap();
    mail::queue(
        &db,
        &config,
        "ann@example.com",
        "Confirm Your Account",
        &body(2),
    )
    .await
    .unwrap();
    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 2);
    let mut received = server.received();
    received.sort_by_key(|m| m["subject"].as_str().unwrap().to_owned());
    assert_eq!(received[1]["subject"], "[Ragtime] bob liked Rag");
    assert_eq!(received[1]["list_unsubscribe"], format!("<{url}>"));
    assert_eq!(
        received[1]["list_unsubscribe_post"],
        "List-Unsubscribe=One-Click"
    );
    // Account mail is not a list: nothing to unsubscribe from.
    assert_eq!(received[0]["list_unsubscribe"], serde_json::Value::Null);
}

/// Poll `done` every 100 ms for at most `limit`; how long it took.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_loop_resumes_within_seconds_once_the_relay_is_back() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let port = free_port(); // where the relay will be, once it is back
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), port, false);
    mail::queue(&db, &config, "ann@example.com", "Hello", &body(1))
        .await
        .unwrap();
    let smtp = Transport::smtp(&config, None).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(mail::run_delivery(
        db.clone(),
        config.clone(),
        smtp,
        stopped,
    ));
    let tried = within(Duration::from_secs(10), async || {
        rows(&db).await[0].last_error.is_some()
    })
    .await;
    assert!(tried.is_some(), "the loop tries the relay");
    // Out a few seconds more; a backoff per message would put the next try 30 s after the first.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let server = start_smtp_server_on(port, None);
    let took = within(Duration::from_secs(20), async || {
        !server.received().is_empty()
    })
    .await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    let took = took.expect("delivered once the relay is back");
    assert!(
        took < Duration::from_secs(12),
        "delivered {took:?} after the relay came back"
    );
    assert_eq!(rows(&db).await[0].attempts, 0, "the outage was not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_the_delivery_loop_resumes_within_seconds_after_its_connections_are_cut() {
    let test_db = TestDb::new();
    test_db.require_postgres();
    let db = deployed(&test_db).await;
    let config = mail_config(None, 587, false);
    let worker_db = connect(&test_db).await;
    let outbox = Transport::memory();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(mail::run_delivery(
        worker_db,
        config.clone(),
        outbox.clone(),
        stopped,
    ));
    mail::queue(&db, &config, "ann@example.com", "Before", &body(1))
        .await
        .unwrap();
    let sent = within(Duration::from_secs(10), async || outbox.outbox().len() == 1).await;
    assert!(sent.is_some(), "the loop delivers");
    // The database drops every connection of the loop's pool (a restart, a failover).
    let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
               WHERE datname = current_database() AND pid <> pg_backend_pid()";
    db.execute_unprepared(cut).await.unwrap();
    let db = connect(&test_db).await;
    mail::queue(&db, &config, "ann@example.com", "After", &body(2))
        .await
        .unwrap();
    let took = within(Duration::from_secs(20), async || outbox.outbox().len() == 2).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    let took = took.expect("delivered after the cut");
    assert!(
        took < Duration::from_secs(12),
        "delivered {took:?} after the cut"
    );
}

#[tokio::test]
async fn mail_use_tls_refuses_a_server_without_starttls() {
    if !smtp_tools_present(&[PYTHON]) {
        return;
    }
    let server = start_smtp_server(None);
    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = mail_config(Some("127.0.0.1"), server.port, true);
    mail::queue(&db, &config, "ann@example.com", "Hello", &body(1))
        .await
        .unwrap();

    let smtp = Transport::smtp(&config, None).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 0);
    assert!(
        server.received().is_empty(),
        "nothing goes out in plain text"
    );
    let row = rows(&db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_none());
}

#[tokio::test]
async fn mail_use_tls_upgrades_with_starttls_before_logging_in() {
    if !smtp_tools_present(&[PYTHON, OPENSSL]) {
        return;
    }
    // A self-signed certificate for 127.0.0.1, trusted by this test only.
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = start_smtp_server(Some((&cert, &key)));

    let test_db = TestDb::new();
    let db = deployed(&test_db).await;
    let config = MailConfig {
        username: Some("ragtime".into()),
        password: Some(SecretString::from("s3cret")),
        ..mail_config(Some("127.0.0.1"), server.port, true)
    };
    mail::queue(&db, &config, "ann@example.com", "Hello", &body(1))
        .await
        .unwrap();

    let pem = std::fs::read(&cert).unwrap();
    let smtp = Transport::smtp(&config, Some(&pem)).unwrap();
    assert_eq!(mail::deliver_due(&db, &config, &smtp).await.unwrap(), 1);
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["tls"], true);
    assert_eq!(received[0]["login"], "ragtime");
    assert_eq!(received[0]["subject"], "[Ragtime] Hello");

    // The certificate is checked: without the test's root the relay is not trusted.
    mail::queue(&db, &config, "bob@example.com", "Hello", &body(2))
        .await
        .unwrap();
    let untrusting = Transport::smtp(&config, None).unwrap();
    assert_eq!(
        mail::deliver_due(&db, &config, &untrusting).await.unwrap(),
        0
    );
    assert_eq!(server.received().len(), 1);
    let row = rows(&db).await.remove(1);
    // No secure connection to the relay: as good as none, an outage (not counted; retried
    // every few seconds until the relay, or its certificate, is right).
    assert_eq!(row.attempts, 0);
    assert!(row.failed_at.is_none());
    let error = row.last_error.unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// `ragtime worker`, the real binary.

#[test]
fn help_describes_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let out = ragtime(dir.path(), &[]).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.lines()
            .any(|l| l.trim_start().starts_with("worker") && l.contains("mail")),
        "{help}"
    );
}

/// The worker process; killed if the test fails before it exits.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_worker_delivers_queued_mail_to_the_log_and_exits_zero_on_sigterm() {
    let test_db = TestDb::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(async {
        let db = deployed(&test_db).await;
        let config = mail_config(None, 587, true);
        mail::queue(&db, &config, "ann@example.com", "Worker Test", &body(3))
            .await
            .unwrap();
        db
    });

    let dir = tempfile::tempdir().unwrap();
    let child = ragtime(
        dir.path(),
        &[
            ("RAGTIME_CONFIG", "testing"),
            ("SECRET_KEY", SECRET_KEY),
            ("DATABASE_URL", test_db.url.as_str()),
        ],
    )
    .arg("worker")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let mut worker = Worker(child);
    let stdout = worker.0.stdout.take().unwrap();
    let (tx, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("the worker logs {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    let line = wait_for("[Ragtime] Worker Test");
    assert!(line.contains("ann@example.com"), "{line}");
    // The log transport's body line follows; the row is marked sent right after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while runtime
        .block_on(rows(&db))
        .first()
        .is_none_or(|r| r.sent_at.is_none())
    {
        assert!(Instant::now() < deadline, "the message is marked sent");
        std::thread::sleep(Duration::from_millis(100));
    }

    let status = Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let rows = runtime.block_on(rows(&db));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 0, "delivered once, on the first try");
}
