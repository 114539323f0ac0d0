//! The house stays one-way: each top-level module of `src/` names only modules listed after it
//! in the "Layers" line of `src/lib.rs`'s tour, every module is in that line, and `src/` keeps
//! at most eight files of its own (the rest live in the rooms).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The layers as `src/lib.rs` states them, top first.
fn layers() -> Vec<String> {
    let lib = read(&src().join("lib.rs"));
    let line = lib
        .lines()
        .find_map(|l| l.strip_prefix("//! Layers, top to bottom: "))
        .expect("src/lib.rs states its layers");
    line.trim_end_matches('.')
        .split(", ")
        .map(|name| name.trim_matches('`').to_owned())
        .collect()
}

/// The modules `src/lib.rs` declares.
fn declared() -> BTreeSet<String> {
    read(&src().join("lib.rs"))
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|name| name.trim_end_matches(';').to_owned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules `text` names through `crate::` (paths and `use crate::{...}` groups),
/// its unit tests left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]").next().unwrap();
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest).to_owned());
            continue;
        };
        // The first name of each item at the group's own depth.
        let (mut depth, mut expect_name) = (0, true);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => expect_name = true,
                c if expect_name && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                    names.insert(ident(&group[i..]).to_owned());
                    expect_name = false;
                }
                _ => {}
            }
        }
    }
    names
}

#[test]
fn every_module_names_only_the_layers_below_it() {
    let layers = layers();
    assert_eq!(
        layers.iter().cloned().collect::<BTreeSet<_>>(),
        declared(),
        "the Layers line of src/lib.rs names every module once"
    );
    let rank = |name: &str| layers.iter().position(|l| l == name);
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(src()).unwrap();
        let top = relative.iter().next().unwrap().to_string_lossy();
        let top = top.trim_end_matches(".rs");
        let Some(own) = rank(top) else {
            continue; // lib.rs and main.rs
        };
        for name in named_modules(&read(file)) {
            if let Some(other) = rank(&name)
                && other <= own
                && name != top
            {
                wrong.push(format!("{} names {name}", relative.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "each module names only the layers below it: {wrong:#?}"
    );
}

#[test]
fn the_crate_root_keeps_at_most_eight_files() {
    let files: Vec<String> = std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() <= 8, "{files:?}");
}

#[test]
fn the_scanner_reads_paths_and_groups() {
    let text = "use crate::{models::{a, b}, web::x};\nfn f() { crate::mail::send(); }\n\
                #[cfg(test)]\nmod tests { use crate::app; }";
    let names: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(names, ["mail", "models", "web"]);
}

/// The models each file of `src/models/` calls a function of (`track::of(`, `super::follow::add(`,
/// `user::create::<…>(`: a lower-case name after a sibling's name) or writes a row of
/// (`follow::ActiveModel`). Entities, models and columns (`composition::Entity`) are names of
/// types, which relations may share both ways.
fn called_models(text: &str, models: &BTreeSet<String>) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]").next().unwrap();
    let mut called = BTreeSet::new();
    for (at, _) in text.match_indices("::") {
        let before = &text[..at];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let module = &before[start..];
        let name = ident(&text[at + 2..]);
        let after = text[at + 2 + name.len()..].trim_start();
        let is_function = name.starts_with(|c: char| c.is_ascii_lowercase())
            && (after.starts_with('(') || after.starts_with("::<"));
        if models.contains(module) && (is_function || name == "ActiveModel") {
            called.insert(module.to_owned());
        }
    }
    called
}

/// Inside `src/models/` calls go one way: a circle is allowed only through entity names (as
/// track and composition name each other's `Entity`), never through functions, so a lower
/// module never asks a higher one to do its work.
#[test]
fn model_functions_are_called_one_way() {
    let dir = src().join("models");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    let models: BTreeSet<String> = files.iter().map(|p| stem(p)).collect();
    let calls: Vec<(String, BTreeSet<String>)> = files
        .iter()
        .map(|p| {
            let mut called = called_models(&read(p), &models);
            called.remove(&stem(p));
            (stem(p), called)
        })
        .collect();
    // Repeatedly set aside the modules that call no module left: what remains is circles.
    let mut left: Vec<(String, BTreeSet<String>)> = calls;
    loop {
        let names: BTreeSet<String> = left.iter().map(|(n, _)| n.clone()).collect();
        let before = left.len();
        left.retain(|(_, called)| called.iter().any(|c| names.contains(c)));
        if left.len() == before {
            break;
        }
    }
    assert!(
        left.is_empty(),
        "model functions called in a circle: {left:?}"
    );
}

#[test]
fn the_call_scanner_tells_functions_from_types() {
    let models: BTreeSet<String> = ["follow", "composition", "user"].map(String::from).into();
    let text = "super::follow::add(db, 1, 1); composition::Entity::find(); \
                let x = user::find_by_id::<C>(db); // composition::lock( in a comment counts too";
    let called = called_models(text, &models);
    assert_eq!(
        called,
        ["composition", "follow", "user"].map(String::from).into()
    );
    let writes = called_models(
        "super::follow::ActiveModel { follower_id: Set(1) }",
        &models,
    );
    assert_eq!(writes, ["follow"].map(String::from).into());
    assert!(called_models("composition::Model, composition::Column::Id.eq(1)", &models).is_empty());
}
