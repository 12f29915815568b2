//! The layers call one way only (DESIGN.md, Layers): `api`, `cli` → `service` → `store` /
//! `ledger` → `domain`. This test reads the source files and fails naming the file and line of
//! every reference that points the wrong way, and of every import cycle between modules.
//!
//! A reference is a path that starts with `crate::`, `super::` or `self::`, in a `use`
//! declaration (groups included) or inline in code; comments and string literals are skipped.
//! Each resolves to the module file it names (its longest prefix that is a module). A module
//! naming its own submodules is how Rust declares them and is not an edge; unit tests (after
//! `#[cfg(test)]`) are not read.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// A module, by its path below the crate root (`["api", "auth"]`); the root is `[]`.
type Module = Vec<String>;

/// Where a reference was written.
#[derive(Debug, Clone)]
struct At {
    file: String,
    line: usize,
    text: String,
}

struct Source {
    module: Module,
    file: String,
    /// The code with comments and literals blanked (newlines kept), up to the unit tests.
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// Blanks comments, string and char literals (keeping newlines, so line numbers hold).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || (next == Some('#') && !prev_is_ident(&b, i))) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            for _ in i..=j {
                out.push(' ');
            }
            i = j + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                out.push(blank(b[i]));
                i += 1;
            }
            for _ in 0..close.len() {
                out.push(' ');
            }
            i += close.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{1b}'); a lifetime has no closing quote.
            out.push(' ');
            i += 1;
            if b.get(i) == Some(&'\\') {
                out.push(' ');
                i += 1;
            }
            while i < b.len() && b[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path a `use` tree names, expanded (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn expand_use(tree: &str) -> Vec<String> {
    let mut tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    for sym in ["::", "{", "}", ","] {
        tree = tree.replace(&format!(" {sym}"), sym).replace(&format!("{sym} "), sym);
    }
    let mut out = Vec::new();
    expand_into("", &tree, &mut out);
    out
}

fn expand_into(prefix: &str, tree: &str, out: &mut Vec<String>) {
    for item in split_top(tree) {
        match item.find('{') {
            Some(open) => {
                let head = item[..open].trim_end_matches("::");
                let inner = &item[open + 1..item.len() - 1];
                expand_into(&join(prefix, head), inner, out);
            }
            None => out.push(join(prefix, item.split(" as ").next().unwrap_or(item))),
        }
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty() || rest == "self") {
        (true, _) => rest.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}::{rest}"),
    }
}

/// Splits `a,b::{c,d},e` at the commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The paths starting at `crate`, `super` or `self` in `code`, with their line numbers.
fn references(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (pos, _) = chars[k];
        let at_word = k == 0 || !is_ident(chars[k - 1].1);
        if at_word && code[pos..].starts_with("use ") && (k == 0 || !is_ident(chars[k - 1].1)) {
            let end = code[pos..].find(';').map_or(code.len(), |e| pos + e);
            let tree = &code[pos + 4..end];
            for path in expand_use(tree) {
                if ["crate::", "super::", "self::"].iter().any(|p| path.starts_with(p)) {
                    // The line of the path's last name within the declaration (a group spans lines).
                    let leaf = path.rsplit("::").next().unwrap_or_default();
                    let at = word_in(tree, leaf).map_or(pos, |i| pos + 4 + i);
                    found.push((line_of(at), path));
                }
            }
            k = chars.iter().position(|(p, _)| *p >= end).unwrap_or(chars.len());
            continue;
        }
        if at_word && ["crate::", "super::", "self::"].iter().any(|p| code[pos..].starts_with(p)) {
            let rest = &code[pos..];
            let len = rest.find(|c: char| !(is_ident(c) || c == ':')).unwrap_or(rest.len());
            let path = rest[..len].trim_end_matches(':').to_owned();
            k += path.chars().count().max(1);
            found.push((line_of(pos), path));
            continue;
        }
        k += 1;
    }
    found
}

/// Where `word` first stands alone in `text`.
fn word_in(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = text[i + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
        before && after
    })
}

/// The module a path names from `from`: its longest prefix that is a module.
fn resolve(from: &Module, path: &str, modules: &BTreeSet<Module>) -> Module {
    let mut segs = path.split("::").filter(|s| !s.is_empty());
    let mut at: Module = match segs.next() {
        Some("crate") => Vec::new(),
        Some("self") => from.clone(),
        Some("super") => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return from.clone(),
    };
    for seg in segs {
        if seg == "super" {
            at.pop();
            continue;
        }
        let mut next = at.clone();
        next.push(seg.to_owned());
        if !modules.contains(&next) {
            break;
        }
        at = next;
    }
    at
}

fn load() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap();
            let text = fs::read_to_string(&path).unwrap();
            let code = strip(&text);
            let code = match code.find("#[cfg(test)]") {
                Some(cut) => code[..cut].to_owned(),
                None => code,
            };
            Source { module: module_of(rel), file: format!("src/{}", rel.display()), code }
        })
        .collect()
}

/// Every edge: (from module, to module, where).
fn edges(sources: &[Source]) -> Vec<(Module, Module, At)> {
    let modules: BTreeSet<Module> = sources.iter().map(|s| s.module.clone()).collect();
    let mut out = Vec::new();
    for s in sources {
        let lines: Vec<&str> = s.code.lines().collect();
        for (line, path) in references(&s.code) {
            let to = resolve(&s.module, &path, &modules);
            let own_child = to.len() > s.module.len() && to.starts_with(&s.module);
            if to == s.module || own_child {
                continue;
            }
            let text = lines.get(line - 1).map(|l| l.trim().to_owned()).unwrap_or_default();
            out.push((
                s.module.clone(),
                to,
                At { file: s.file.clone(), line, text: format!("{path} ({text})") },
            ));
        }
    }
    out
}

fn layer(m: &Module) -> &str {
    m.first().map_or("", String::as_str)
}

fn assert_none(what: &str, offences: Vec<String>) {
    assert!(offences.is_empty(), "{what}:\n  {}", offences.join("\n  "));
}

#[test]
fn the_source_files_are_read_and_their_references_found() {
    // Guards the guards: a parser that found nothing would pass every rule below.
    let sources = load();
    assert!(sources.iter().any(|s| s.file == "src/api/checkout.rs"));
    let all = edges(&sources);
    let from = |file: &str, to: &str| {
        all.iter().any(|(_, t, at)| at.file == file && t.iter().map(String::as_str).eq(to.split('/')))
    };
    assert!(from("src/app.rs", "api"), "app.rs uses the api");
    assert!(from("src/service/checkout.rs", "store/redemptions"), "a grouped use is expanded");
    assert!(from("src/api/auth.rs", "api"), "super:: resolves to the parent module");
    assert_eq!(expand_use("crate::{a::{self, B}, c::d as e}"), ["crate::a", "crate::a::B", "crate::c::d"]);
    let stripped = strip("let s = \"crate::api\"; // crate::api\n/* crate::api */ '\"' r#\"crate\"#");
    assert!(
        !stripped.contains("crate") && stripped.starts_with("let s =") && stripped.lines().count() == 2,
        "{stripped}"
    );
}

#[test]
fn the_api_is_imported_only_by_the_app_wiring() {
    let offences = edges(&load())
        .into_iter()
        .filter(|(from, to, at)| {
            layer(to) == "api"
                && layer(from) != "api"
                && !["src/app.rs", "src/lib.rs", "src/main.rs"].contains(&at.file.as_str())
        })
        .map(|(_, _, at)| format!("{}:{}: {}", at.file, at.line, at.text))
        .collect();
    assert_none("`crate::api` is imported outside src/app.rs (call a service instead)", offences);
}

#[test]
fn arrows_point_down() {
    // What each layer may not import (its own files and the crate root aside).
    let forbidden: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "domain",
            &["store", "ledger", "service", "api", "cli", "app", "signing", "telemetry", "config"][..],
        ),
        ("store", &["service", "api", "cli", "app", "ledger"][..]),
        ("ledger", &["service", "api", "cli", "app"][..]),
        ("service", &["api", "cli", "app"][..]),
        ("signing", &["service", "api", "cli", "app", "ledger"][..]),
        ("cli", &["api"][..]),
    ]);
    let offences = edges(&load())
        .into_iter()
        .filter(|(from, to, _)| forbidden.get(layer(from)).is_some_and(|no| no.contains(&layer(to))))
        .map(|(from, to, at)| {
            format!("{}:{}: {} → {}: {}", at.file, at.line, layer(&from), layer(&to), at.text)
        })
        .collect();
    assert_none("a layer imports from a layer above it", offences);
}

#[test]
fn no_module_import_cycle() {
    let all = edges(&load());
    let mut graph: BTreeMap<Module, Vec<(Module, At)>> = BTreeMap::new();
    for (from, to, at) in all {
        if !to.is_empty() {
            graph.entry(from).or_default().push((to, at));
        }
    }
    // Depth-first search; a back edge closes a cycle, reported with every edge's file and line.
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, Vec<(Module, At)>>,
        stack: &mut Vec<(Module, Option<At>)>,
        done: &mut BTreeSet<Module>,
        cycles: &mut Vec<String>,
    ) {
        if done.contains(m) {
            return;
        }
        for (to, at) in graph.get(m).map(Vec::as_slice).unwrap_or_default() {
            if let Some(start) = stack.iter().position(|(s, _)| s == to) {
                let mut steps: Vec<String> = stack[start + 1..]
                    .iter()
                    .filter_map(|(_, a)| a.as_ref())
                    .map(|a| format!("{}:{}: {}", a.file, a.line, a.text))
                    .collect();
                steps.push(format!("{}:{}: {}", at.file, at.line, at.text));
                let names: Vec<String> =
                    stack[start..].iter().map(|(s, _)| s.join("::")).chain([to.join("::")]).collect();
                cycles.push(format!("{}\n    {}", names.join(" → "), steps.join("\n    ")));
                continue;
            }
            stack.push((to.clone(), Some(at.clone())));
            visit(to, graph, stack, done, cycles);
            stack.pop();
        }
        done.insert(m.clone());
    }
    let (mut done, mut cycles) = (BTreeSet::new(), Vec::new());
    for m in graph.keys() {
        let mut stack = vec![(m.clone(), None)];
        visit(m, &graph, &mut stack, &mut done, &mut cycles);
    }
    assert_none("modules import each other in a cycle", cycles);
}

#[test]
fn no_source_file_is_over_800_lines_before_its_unit_tests() {
    // A file that grows past this is doing two things: split it by what each part is for.
    const MAX: usize = 800;
    let sources = load();
    let lines = |s: &Source| s.code.lines().count();
    assert!(sources.iter().any(|s| lines(s) > 300), "the line counts were read");
    let offences = sources
        .iter()
        .filter(|s| lines(s) > MAX)
        .map(|s| format!("{}: {} lines before its unit tests", s.file, lines(s)))
        .collect();
    assert_none(&format!("a source file is over {MAX} lines"), offences);
}
