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
    include_str!("../../src/config/media.rs")
);

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
    // The heroku configuration refuses to start without it: the form must ask for it.
    assert_eq!(app["env"]["RAGTIME_SERVER_NAME"]["required"], true);
    let addons = app["addons"].as_array().unwrap();
    assert!(
        addons
            .iter()
            .any(|a| a["plan"].as_str().unwrap().starts_with("heroku-postgresql"))
    );
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
