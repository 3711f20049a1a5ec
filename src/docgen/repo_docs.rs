//! Tests of the repository's own documentation (README.md, docs/, packaging/README.md): the
//! README stays a front page with the two set-up commands first, and every link stays inside
//! the repository and leads somewhere — a file that exists, a heading that exists.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files of the documentation.
fn documents() -> Vec<PathBuf> {
    let mut out = vec![repo().join("README.md"), repo().join("packaging/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// The targets of the inline links `[text](target)` of a Markdown text, outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Inline code spans hold no links.
        let plain: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            match after.find(')') {
                Some(end) => {
                    out.push(after[..end].to_string());
                    rest = &after[end..];
                }
                None => break,
            }
        }
    }
    out
}

/// The anchor a heading gets: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn the_readme_is_a_front_page_with_the_two_commands_first() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.len() <= 15_000,
        "README.md is {} bytes",
        readme.len()
    );
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().trim())
        .take(2)
        .collect();
    assert_eq!(
        blocks,
        [
            "cargo build --release && ./target/release/svc --config-dir . start httpd ticker && ./target/release/svc --config-dir . status",
            "cargo test --all-targets",
        ]
    );
    let first_heading = readme.find("\n## ").unwrap();
    assert!(readme.find("```sh").unwrap() < first_heading);
}

#[test]
fn every_link_stays_in_the_repository_and_leads_somewhere() {
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        // The directory beside the checkout that a user's clone does not have (spelled in two
        // pieces so this file does not name it itself).
        let outside = concat!("..", "/shared");
        assert!(!text.contains(outside), "{} names {outside}", doc.display());
        for link in links(&text) {
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            assert!(
                !file.contains("://") && !file.starts_with("mailto:"),
                "{}: link {link} leaves the repository",
                doc.display()
            );
            let target = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(file)
            };
            let target = target
                .canonicalize()
                .unwrap_or_else(|_| panic!("{}: link {link}: no such file", doc.display()));
            assert!(
                target.starts_with(repo().canonicalize().unwrap()),
                "{}: link {link} leaves the repository",
                doc.display()
            );
            if !anchor.is_empty() {
                let there = std::fs::read_to_string(&target).unwrap();
                assert!(
                    anchors(&there).iter().any(|a| a == anchor),
                    "{}: link {link}: no heading #{anchor} in {}",
                    doc.display(),
                    Path::new(&target).display()
                );
            }
        }
    }
}

#[test]
fn links_and_anchors_are_read_as_a_renderer_reads_them() {
    assert_eq!(
        links("see [a](b.md#c) and `[x](y)`\n```\n[p](q)\n```\n[d](e)"),
        ["b.md#c", "e"]
    );
    assert_eq!(
        slug(" The container image (`packaging/Dockerfile`)"),
        "the-container-image-packagingdockerfile"
    );
    assert_eq!(
        slug(" Switching runlevels: switch, boot, runlevel"),
        "switching-runlevels-switch-boot-runlevel"
    );
}
