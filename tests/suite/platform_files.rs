//! The files Heroku reads, checked against the code: a Procfile whose commands the binary
//! accepts, an app.json that provisions what the heroku config requires, and documentation of
//! every variable the configuration reads.

use clap::Parser;
use ragtime::commands::{Cli, Command};

const PROCFILE: &str = include_str!("../../Procfile");
const APP_JSON: &str = include_str!("../../app.json");
const ENV_EXAMPLE: &str = include_str!("../../.env.example");
const README: &str = include_str!("../../README.md");
const CONFIG_SOURCE: &str = concat!(
    include_str!("../../src/config/mod.rs"),
    include_str!("../../src/config/database.rs"),
    include_str!("../../src/config/media.rs")
);

/// The shell block of the README's Heroku step-by-step.
fn heroku_steps() -> &'static str {
    let section = README
        .split("\n## Deploying to Heroku\n")
        .nth(1)
        .expect("a Deploying to Heroku section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .expect("a step-by-step block");
    block.split("\n```").next().unwrap()
}

/// The variables a dyno sees after the README's Heroku steps: every `heroku config:set`
/// value (`$(openssl rand -hex 32)` as it would print), the variables of every add-on the
/// steps create (`database_url` for Postgres'), and those of the labs features they enable.
pub(crate) fn heroku_steps_env(database_url: &str) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
    for line in heroku_steps().lines() {
        let command = line.split(" #").next().unwrap().trim();
        let command = command.replace(
            "$(openssl rand -hex 32)",
            &hex::encode(ragtime::crypto::random_token(32)),
        );
        assert!(
            !command.contains("$("),
            "a substitution the test cannot do: {line}"
        );
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["heroku", "config:set", pairs @ ..] => {
                for pair in pairs {
                    let (k, v) = pair.split_once('=').expect("KEY=value");
                    set(k, v);
                }
            }
            ["heroku", "addons:create", plan] if plan.starts_with("heroku-postgresql:") => {
                set("DATABASE_URL", database_url)
            }
            ["heroku", "addons:create", plan] if plan.starts_with("bucketeer:") => {
                set("BUCKETEER_BUCKET_NAME", "bucketeer-0f1e2d3c");
                set("BUCKETEER_AWS_REGION", "us-east-1");
                set("BUCKETEER_AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
                set("BUCKETEER_AWS_SECRET_ACCESS_KEY", "bucketeer-secret");
            }
            ["heroku", "addons:create", plan, ..] => {
                panic!("the test does not know what add-on {plan} sets")
            }
            ["heroku", "labs:enable", "runtime-dyno-metadata"] => {
                set("HEROKU_APP_NAME", "my-ragtime");
                set(
                    "HEROKU_APP_DEFAULT_DOMAIN_NAME",
                    "my-ragtime-1a2b3c4d5e6f.herokuapp.com",
                );
            }
            _ => {}
        }
    }
    env
}

fn process(name: &str) -> Vec<String> {
    let line = PROCFILE
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}: line in the Procfile"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_procfile_runs_the_release_binary_for_web_deploy_and_the_worker() {
    let web = process("web");
    assert_eq!(web[0], "./target/release/ragtime");
    assert!(matches!(
        Cli::try_parse_from(&web).unwrap().command,
        Some(Command::Serve)
    ));
    let release = process("release");
    assert_eq!(release[0], "./target/release/ragtime");
    assert!(matches!(
        Cli::try_parse_from(&release).unwrap().command,
        Some(Command::Deploy)
    ));
    let worker = process("worker");
    assert_eq!(worker[0], "./target/release/ragtime");
    assert!(matches!(
        Cli::try_parse_from(&worker).unwrap().command,
        Some(Command::Worker)
    ));
}

#[test]
fn app_json_provisions_postgres_a_secret_key_and_the_heroku_config() {
    let app: serde_json::Value = serde_json::from_str(APP_JSON).expect("app.json is JSON");
    assert_eq!(app["env"]["RAGTIME_CONFIG"]["value"], "heroku");
    assert_eq!(app["env"]["SECRET_KEY"]["generator"], "secret");
    // Not known before the app exists (its domain gets a random suffix): set afterwards, as
    // the README's steps do, and the form says how.
    let server_name = &app["env"]["RAGTIME_SERVER_NAME"];
    assert_eq!(server_name["required"], false);
    let how = server_name["description"].as_str().unwrap();
    assert!(
        how.contains("heroku domains") && how.contains("runtime-dyno-metadata"),
        "{how}"
    );
    // The same add-ons as the README's steps.
    let mut addons: Vec<&str> = app["addons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["plan"].as_str().unwrap())
        .collect();
    let mut created: Vec<&str> = heroku_steps()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("heroku addons:create "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    addons.sort();
    created.sort();
    assert_eq!(addons, created);
    assert!(addons.iter().any(|a| a.starts_with("heroku-postgresql")));
    assert!(
        app["buildpacks"][0]["url"]
            .as_str()
            .unwrap()
            .contains("rust")
    );
}

#[test]
fn every_variable_the_configuration_reads_is_documented() {
    let mut names: Vec<&str> = CONFIG_SOURCE
        .split("var(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    names.extend(
        CONFIG_SOURCE
            .split("number(\"")
            .skip(1)
            .filter_map(|r| r.split('"').next()),
    );
    names.sort();
    names.dedup();
    assert!(names.len() > 20, "found {names:?}");
    for name in names {
        if name == "DYNO" {
            continue; // set by Heroku, not by operators
        }
        assert!(
            ENV_EXAMPLE.contains(&format!("{name}=")),
            "{name} missing from .env.example"
        );
        assert!(README.contains(name), "{name} missing from the README");
    }
}

#[test]
fn the_env_example_is_a_valid_development_configuration() {
    // Parsed exactly as `ragtime` parses a .env file.
    let vars: std::collections::HashMap<String, String> =
        dotenvy::from_read_iter(ENV_EXAMPLE.as_bytes())
            .map(|item| item.expect("a valid .env line"))
            .collect();
    assert_eq!(
        vars["RAGTIME_MAIL_SENDER"],
        "Ragtime Admin <ragtime@example.com>"
    );
    let config = ragtime::config::Config::from_source(&move |k: &str| vars.get(k).cloned())
        .expect("the example configuration is accepted");
    assert_eq!(config.name, ragtime::config::ConfigName::Development);
}

#[test]
fn the_readme_gives_the_two_commands() {
    assert!(README.contains("```sh\ncargo run\n```"));
    assert!(README.contains("```sh\ncargo test\n```"));
}

#[test]
fn the_readme_heroku_steps_give_every_process_a_whole_configuration() {
    let mut env = heroku_steps_env("postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1");
    env.push(("DYNO".into(), "web.1".into()));
    let vars: std::collections::HashMap<String, String> = env.into_iter().collect();
    // What `serve` and `worker` read: refused, they would exit 2 at the first push.
    let config = ragtime::config::Config::from_source(&|k: &str| vars.get(k).cloned())
        .unwrap_or_else(|e| panic!("the README's Heroku steps leave out {e}"));
    assert_eq!(config.name, ragtime::config::ConfigName::Heroku);
    assert!(
        matches!(
            config.media.store,
            ragtime::config::MediaStoreConfig::S3 { .. }
        ),
        "audio must go to a bucket on a dyno: {:?}",
        config.media.store
    );
    assert!(config.proxies.https);
    // Apps get `<app>-<12 characters>.herokuapp.com` since 2023, not `<app>.herokuapp.com`.
    let host = &config.proxies.server_name;
    if let Some(app) = host.strip_suffix(".herokuapp.com") {
        let suffix = app.rsplit('-').next().unwrap();
        assert!(
            app.contains('-')
                && suffix.len() == 12
                && suffix.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{host} is not a domain Heroku gives today"
        );
    }
    // Where to read the real domain, and what the plans cost.
    for needed in [
        "heroku domains",
        "heroku labs:enable runtime-dyno-metadata",
        "heroku.com/pricing",
    ] {
        assert!(
            README.contains(needed),
            "the README does not say {needed:?}"
        );
    }
}

#[test]
fn the_readme_command_table_lists_every_subcommand_and_option_of_the_help() {
    use clap::CommandFactory;
    let table = README
        .split("\n## Commands\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Commands section");
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| `ragtime {name}")))
            .unwrap_or_else(|| panic!("no row for `ragtime {name}`"))
    };
    let cli = Cli::command();
    let subcommands: Vec<_> = cli
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .collect();
    assert!(subcommands.len() >= 6);
    for sub in subcommands {
        let name = sub.get_name();
        let row = row(name);
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long().filter(|l| !matches!(*l, "help" | "version")) {
                assert!(
                    row.contains(&format!("--{long}")),
                    "`ragtime {name}` row lacks --{long}"
                );
            }
        }
    }
    // Which subcommands are process types.
    for line in PROCFILE.lines().filter(|l| !l.trim().is_empty()) {
        let (kind, command) = line.split_once(':').unwrap();
        let sub = command.split_whitespace().nth(1).unwrap();
        assert!(
            row(sub).contains(&format!("`{kind}:`")),
            "the `ragtime {sub}` row does not say it is the Procfile's `{kind}:`"
        );
    }
}
