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
