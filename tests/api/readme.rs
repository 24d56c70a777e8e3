//! The README and docs/ as a reader meets them: the README stays a first hour's reading (issue 23
//! item 12), every relative link and `#anchor` leads somewhere, and every pasted `curl` that sends
//! JSON says so (without `Content-Type: application/json` the server answers 415).
//!
//! Each check is a function from a document's text to its problems, tried first on small broken
//! samples, so that a checker that finds nothing cannot pass for a clean tree.

use std::path::{Path, PathBuf};

/// The README's length bound.
const README_MAX_LINES: usize = 350;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as (path, text).
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is there")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// Lines outside fenced code blocks, with their numbers (1-based) and inline code spans blanked.
fn prose(text: &str) -> Vec<(usize, String)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((i + 1, without_code_spans(line)));
        }
    }
    lines
}

fn without_code_spans(line: &str) -> String {
    line.split('`').enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, part)| part).collect::<Vec<_>>().join(" ")
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a document's headings, with GitHub's `-1`, `-2` for repeated ones.
fn anchors(text: &str) -> Vec<String> {
    let (mut found, mut bases): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if fenced || hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..].replace('`', ""));
        let repeats = bases.iter().filter(|b| **b == base).count();
        found.push(if repeats == 0 { base.clone() } else { format!("{base}-{repeats}") });
        bases.push(base);
    }
    found
}

/// The targets of the inline links and images in a document, with their line numbers.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    for (number, line) in prose(text) {
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let end = after.find(')').unwrap_or(after.len());
            // `[text](target "title")`: the target is the first word.
            let target = after[..end].split_whitespace().next().unwrap_or("");
            targets.push((number, target.trim_matches(['<', '>']).to_owned()));
            rest = &after[end..];
        }
        // A reference definition: `[name]: target`.
        if let Some(definition) = line.trim_start().strip_prefix('[')
            && let Some((_, target)) = definition.split_once("]: ")
        {
            targets.push((number, target.split_whitespace().next().unwrap_or("").to_owned()));
        }
    }
    targets
}

/// What is wrong with the relative links of the document at `path` (whose text is `text`):
/// a file that does not exist, or an anchor that no heading of its file has. `read` gives
/// another document's text (a test's samples stand in for files).
fn broken_links(path: &Path, text: &str, read: &dyn Fn(&Path) -> Option<String>) -> Vec<String> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    for (number, target) in link_targets(text) {
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = target.split_once('#').map_or((target.as_str(), None), |(f, a)| (f, Some(a)));
        let (linked, linked_text) = if file.is_empty() {
            (path.to_path_buf(), Some(text.to_owned()))
        } else {
            let linked = dir.join(file);
            let linked_text = read(&linked);
            (linked, linked_text)
        };
        let here = format!("{}:{number}: ({target})", path.display());
        match (linked_text, anchor) {
            (None, _) => problems.push(format!("{here}: no file {}", linked.display())),
            (Some(_), Some(anchor)) if linked.extension().is_none_or(|e| e != "md") => {
                problems.push(format!("{here}: #{anchor} in a file that has no headings"))
            }
            (Some(linked_text), Some(anchor)) if !anchors(&linked_text).iter().any(|a| a == anchor) => {
                problems.push(format!("{here}: no heading #{anchor} in {}", linked.display()))
            }
            _ => {}
        }
    }
    problems
}

/// A file's text, or for a directory an empty one (a link may lead to a folder); `None` if it
/// does not exist.
fn read_file(path: &Path) -> Option<String> {
    if path.is_dir() {
        return Some(String::new());
    }
    match std::fs::read(path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => None,
    }
}

/// The `curl` commands of a document that send JSON with `-d`/`--data…` but no
/// `Content-Type: application/json` (`--json` sets it itself). A command goes on over lines that
/// end in `\`.
fn curls_without_content_type(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.trim_end().strip_suffix('\\') {
            Some(continued) => current.push_str(continued),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    let mut problems = Vec::new();
    for command in commands {
        for (start, _) in command.match_indices("curl ") {
            // To the end of its code span, if it is in one.
            let invocation = command[start..].split('`').next().unwrap_or("");
            let sends_json = invocation.split_whitespace().collect::<Vec<_>>().windows(2).any(|pair| {
                matches!(pair[0], "-d" | "--data" | "--data-raw" | "--data-binary")
                    && pair[1].trim_start_matches(['\'', '"']).starts_with(['{', '['])
            });
            let says_json = invocation.to_ascii_lowercase().contains("content-type: application/json")
                || invocation.split_whitespace().any(|word| word == "--json");
            if sends_json && !says_json {
                problems.push(invocation.trim().to_owned());
            }
        }
    }
    problems
}

#[test]
fn the_checks_find_what_is_broken_in_a_sample() {
    let sample = "# Guide\n\n## Run `it`, twice!\n\nSee [run](#run-it-twice), [gone](#nowhere), \
                  [other](other.md#setup), [missing](missing.md) and [web](https://example.com/x#y).\n\
                  ```\n# a comment, not a heading\n[code](not-a-link.md)\n\
                  curl -X POST http://127.0.0.1:8080/api/todos \\\n  -H \"Authorization: Bearer $T\" \\\n  \
                  -d '{\"title\": \"x\"}'\n\
                  curl -X POST http://127.0.0.1:8080/api/todos -H 'Content-Type: application/json' -d '{\"title\": \"y\"}'\n\
                  curl --json '{\"title\": \"z\"}' http://127.0.0.1:8080/api/todos\n```\n\
                  Or inline: `curl http://h/x -d '[1]'`.\n";
    let other = "# Other\n\n## Install\n";
    let read = |p: &Path| (p == Path::new("docs/other.md")).then(|| other.to_owned());
    let links = broken_links(Path::new("docs/guide.md"), sample, &read);
    assert_eq!(links.len(), 3, "a missing anchor here, one in another file, a missing file: {links:#?}");
    assert!(links[0].contains("#nowhere") && links[1].contains("#setup") && links[2].contains("no file"), "{links:#?}");
    assert_eq!(anchors(sample), ["guide", "run-it-twice"]);
    assert_eq!(anchors("# A\n## A-b\n## A\n## A\n"), ["a", "a-b", "a-1", "a-2"]);

    let curls = curls_without_content_type(sample);
    assert_eq!(curls.len(), 2, "the continued command and the inline one: {curls:#?}");
    assert!(curls[0].contains(r#"{"title": "x"}"#) && curls[1].contains("'[1]'"), "{curls:#?}");
}

#[test]
fn the_readme_is_a_first_hours_reading() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(
        lines < README_MAX_LINES,
        "README.md has {lines} lines; keep it under {README_MAX_LINES}, the rest in docs/"
    );
}

#[test]
fn every_relative_link_and_anchor_in_the_readme_and_docs_resolves() {
    let documents = documents();
    assert!(documents.len() > 1, "README.md and docs/*.md: {documents:?}");
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, text) in &documents {
        checked += link_targets(text).len();
        problems.extend(broken_links(path, text, &read_file));
    }
    assert!(checked > 20, "only {checked} links found: is the link finder still working?");
    assert!(problems.is_empty(), "broken links:\n{}", problems.join("\n"));
}

#[test]
fn every_curl_that_sends_json_in_the_readme_and_docs_says_so() {
    let mut problems = Vec::new();
    for (path, text) in documents() {
        problems.extend(curls_without_content_type(&text).into_iter().map(|c| format!("{}: {c}", path.display())));
    }
    assert!(
        problems.is_empty(),
        "curl sending JSON without -H 'Content-Type: application/json' (415):\n{}",
        problems.join("\n")
    );
}
