//! Layers point down: every `crate::X` that a module of `src/` uses (outside its `#[cfg(test)]`
//! code) must be of a lower tier in ARCHITECTURE.md's table; and inside `src/app/`, every file
//! uses only files of its own tier or a lower one of the app's table (base, jobs, state, ui, the
//! app itself), so no job or state file reaches up into the UI or the app.

use std::collections::BTreeMap;
use std::path::Path;

/// Module name → tier, from the `| tier | modules | ... |` table of ARCHITECTURE.md's section
/// that begins with the heading `heading` (up to the next heading).
fn table(heading: &str) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let section: Vec<&str> =
        text.lines().skip_while(|l| l.trim() != heading).skip(1).take_while(|l| !l.starts_with('#')).collect();
    let mut tiers = BTreeMap::new();
    for line in section {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, tier, modules, ..] = cells.as_slice()
            && let Ok(t) = tier.parse::<usize>()
        {
            for m in modules.split(',') {
                tiers.insert(m.trim().to_string(), t);
            }
        }
    }
    tiers
}

/// The code of a file without its test modules and comments.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth = 0i64;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        if trimmed.starts_with("#[cfg(test)]") {
            pending_cfg_test = true;
            continue;
        }
        let opens = code.matches('{').count() as i64;
        let closes = code.matches('}').count() as i64;
        if pending_cfg_test && skip_depth.is_none() {
            if opens > 0 {
                skip_depth = Some(depth);
            } else if !trimmed.is_empty() {
                // `#[cfg(test)] use ...;` or an item on one line.
                pending_cfg_test = false;
                depth += opens - closes;
                continue;
            }
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
                pending_cfg_test = false;
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// `crate::name` paths used in `code`.
fn crate_uses(code: &str) -> Vec<String> {
    let mut uses = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        let name: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            uses.push(name);
        }
        rest = tail;
    }
    uses
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_uses_one_of_its_own_tier_or_above() {
    let tiers = table("# Lantern's layers");
    assert!(tiers.len() >= 15, "ARCHITECTURE.md's table was not read: {tiers:?}");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(&own) = tiers.get(&top) else {
            violations.push(format!("{}: module '{top}' is not in ARCHITECTURE.md's table", rel.display()));
            continue;
        };
        let code = production_code(&std::fs::read_to_string(&f).unwrap());
        for used in crate_uses(&code) {
            if used == top {
                continue;
            }
            match tiers.get(&used) {
                Some(&t) if t < own => {}
                Some(&t) => violations.push(format!("{}: {top} (tier {own}) uses {used} (tier {t})", rel.display())),
                None => violations
                    .push(format!("{}: uses '{used}', which ARCHITECTURE.md's table does not place", rel.display())),
            }
        }
    }
    assert!(violations.is_empty(), "imports that do not point down:\n{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_upward_imports_and_ignores_test_code() {
    let code = production_code(
        "use crate::map::WeightMap;\nfn f() { crate::app::run(); } // crate::cli in a comment\n#[cfg(test)]\nmod tests {\n    use crate::cli::x;\n    fn g() { if true { crate::app::y(); } }\n}\nfn h() { crate::models::z(); }\n",
    );
    assert_eq!(crate_uses(&code), vec!["map", "app", "models"]);
}

/// The app files (`mod` for the app's root, the folder for a file in a folder of `app/`) that
/// `code` of the file `file` (a path under `src/app/`) uses: `super::x`, `crate::app::x`, and the
/// names in `super::{...}`; an item named in capitals is the root's.
fn app_uses(file: &Path, code: &str) -> Vec<String> {
    // In a file of a folder of `app/` (but not the folder's own mod.rs), `super::` is the folder.
    let nested = file.components().count() > 1 && !file.ends_with("mod.rs");
    let mut uses = Vec::new();
    let mut push = |name: &str| {
        let name: String = name.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() || name == "self" {
            return;
        }
        uses.push(if name.starts_with(char::is_uppercase) { "mod".to_string() } else { name });
    };
    let prefixes: &[&str] = if nested { &["super::super::", "crate::app::"] } else { &["super::", "crate::app::"] };
    for prefix in prefixes {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = &rest[..i];
            let tail = &rest[i + prefix.len()..];
            rest = tail;
            // `super::super::x` also contains `super::x`: count it once, as the longer prefix.
            if *prefix == "super::" && before.ends_with("super::") {
                continue;
            }
            match tail.strip_prefix('{') {
                Some(group) => {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    group.split(',').for_each(|g| push(g.split("::").next().unwrap_or("")));
                }
                None => push(tail),
            }
        }
    }
    uses
}

#[test]
fn inside_the_app_state_jobs_and_ui_point_down() {
    let tiers = table("## The app's inner layers");
    assert!(tiers.len() >= 20, "ARCHITECTURE.md's app table was not read: {tiers:?}");
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let mut files = Vec::new();
    rust_files(&app, &mut files);
    let mut violations = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&app).unwrap();
        let name = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        let Some(&own) = tiers.get(&name) else {
            violations.push(format!("app/{}: '{name}' is not in ARCHITECTURE.md's app table", rel.display()));
            continue;
        };
        let code = production_code(&std::fs::read_to_string(&f).unwrap());
        for used in app_uses(rel, &code) {
            match tiers.get(&used) {
                Some(&t) if t <= own => {}
                Some(&t) => {
                    violations.push(format!("app/{}: {name} (tier {own}) uses {used} (tier {t})", rel.display()))
                }
                None => {
                    violations.push(format!("app/{}: uses '{used}', which the app table does not place", rel.display()))
                }
            }
        }
    }
    assert!(violations.is_empty(), "app imports that do not point down:\n{}", violations.join("\n"));
}

#[test]
fn the_app_checker_reads_super_paths_groups_and_the_roots_items() {
    let code = "use super::images::ImageSource;\nuse super::{LanternApp, lane::Token, theme};\nfn f() { crate::app::worker::x(); }\n";
    assert_eq!(app_uses(Path::new("views.rs"), code), vec!["images", "mod", "lane", "theme", "worker"]);
    let nested = "use super::explain::X;\nuse super::super::model::ModelInfo;\n";
    assert_eq!(app_uses(Path::new("jobs/pair.rs"), nested), vec!["model"]);
    assert_eq!(app_uses(Path::new("jobs/mod.rs"), "use super::lane::Token;\n"), vec!["lane"]);
}
