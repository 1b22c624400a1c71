//! The crate's top-level modules must not import each other in a cycle: the layers read
//! protocol → translate/quirks/relay → upstream/store → http → entry, each using only what
//! is below it. This test reads every `crate::…` path in src/ (test code and comments left
//! out) and fails naming the modules of any cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `text` without `#[cfg(test)]` items (brace-matched) and `//` comments.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let (open, semi) = (item.find('{'), item.find(';'));
        let end = match (open, semi) {
            (_, Some(s)) if open.is_none_or(|o| s < o) => s + 1,
            (Some(o), _) => o + matching_brace(&item[o..]),
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.find("//").map_or(l, |c| &l[..c]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The length of the block that starts at `s[0] == '{'`, through its closing brace.
/// Braces in string literals are skipped; good enough for this crate's own source.
fn matching_brace(s: &str) -> usize {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// The top-level modules named by `crate::name` and `crate::{a, b::c}` in `code`.
fn imported_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let after = &code[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let body = &group[..matching_brace(after) - 2];
            let (mut depth, mut start) = (0, true);
            for (i, c) in body.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        found.insert(word(&body[i..]));
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(word(after));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn crate_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src/");
            let first = rel.components().next().expect("a file name");
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            // lib.rs only declares the modules; properties/ and this file are tests.
            if matches!(module.as_str(), "lib" | "properties" | "module_graph") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let mut uses = imported_modules(&production_code(&text));
            uses.remove(&module);
            graph.entry(module).or_default().extend(uses);
        }
    }
    graph
}

/// Every cycle's modules (the strongly connected groups of more than one module, and
/// modules that import themselves through another path are impossible here).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then collect groups on the reversed graph.
    fn visit(g: &Graph, n: &str, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(n.to_string()) {
            return;
        }
        for m in g.get(n).into_iter().flatten() {
            visit(g, m, seen, order);
        }
        order.push(n.to_string());
    }
    let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
    for n in graph.keys() {
        visit(graph, n, &mut seen, &mut order);
    }
    let mut reversed = Graph::new();
    for (from, tos) in graph {
        for to in tos {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut groups = Vec::new();
    for n in order.iter().rev() {
        let mut group = Vec::new();
        visit(&reversed, n, &mut assigned, &mut group);
        if group.len() > 1 {
            group.sort();
            groups.push(group);
        }
    }
    groups
}

#[test]
fn reads_imports_of_production_code_only() {
    let code = "use crate::a::B;\nuse crate::{c, d::{E, F}, self};\n// crate::g\n\
                fn x() { crate::h::i(\"{\") }\n#[cfg(test)]\nmod tests { use crate::j; }\n\
                #[cfg(test)]\nuse crate::k;\n";
    let found = imported_modules(&production_code(code));
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["a", "c", "d", "h"]);
}

#[test]
fn finds_a_cycle_and_only_cycles() {
    let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "d")];
    let mut g = Graph::new();
    for (from, to) in edges {
        g.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    g.get_mut("c").unwrap().remove("a");
    assert!(cycles(&g).is_empty());
}

#[test]
fn the_modules_form_no_cycle() {
    let graph = crate_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.contains_key("translate") && graph.contains_key("protocol"));
    let found = cycles(&graph);
    let explain: Vec<String> = found
        .iter()
        .map(|group| {
            let edges: Vec<String> = group
                .iter()
                .map(|m| {
                    let inside: Vec<&str> = graph[m]
                        .iter()
                        .filter(|t| group.contains(t))
                        .map(String::as_str)
                        .collect();
                    format!("{m} → {}", inside.join(", "))
                })
                .collect();
            edges.join("; ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles: {}", explain.join(" | "));
}

/// The named layers, bottom first; a module may use its own layer and those below.
const LAYERS: [&[&str]; 5] = [
    &["protocol"],
    &["translate", "quirks", "relay"],
    &["upstream", "store"],
    &["http"],
    &["entry"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn the_layers_use_only_what_is_below() {
    let graph = crate_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut upward = Vec::new();
    for (from, tos) in &graph {
        let Some(at) = layer_of(from) else { continue };
        for to in tos {
            if layer_of(to).is_some_and(|l| l > at) {
                upward.push(format!("{from} → {to}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports up the layers: {}",
        upward.join(", ")
    );
    // protocol is the floor: it uses nothing of the crate's but the JSON helpers.
    let floor: Vec<&String> = graph["protocol"].iter().collect();
    assert!(
        floor
            .iter()
            .all(|m| matches!(m.as_str(), "json_read" | "json_write")),
        "{floor:?}"
    );
}

#[test]
fn translation_is_sans_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src.join("translate"), src.join("protocol")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let code = production_code(&std::fs::read_to_string(&path).expect("a file"));
                assert!(!code.contains("worker::"), "{} uses worker", path.display());
            }
        }
    }
}
