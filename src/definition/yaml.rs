//! The one place svc calls a YAML library: text in, a [`Node`] tree out, with the position of
//! every mapping key and value.
//!
//! The library is granit-parser, an event parser (the one under serde-saphyr); this module
//! builds the tree from its events and decides itself what a scalar means, with the rules svc
//! has always had (YAML 1.2 core schema, as serde_yaml 0.9 read it):
//! - a plain `~`, `null`, `Null`, `NULL` or nothing is null; `true`/`True`/`TRUE` and the
//!   `false` spellings are booleans, and nothing else is (`yes`, `on`, `y` are strings);
//! - integers are decimal without a leading zero (`0755` is a string), or `0x`, `0o`, `0b`
//!   with an optional sign; floats are what Rust reads as a finite `f64`, and `.inf`, `.nan`;
//!   `1_000` is a string;
//! - a quoted or block scalar is always a string;
//! - tags other than `!!str`, `!!map` and `!!seq` are refused, as are several documents,
//!   keys that are not strings and a key given twice in one mapping; aliases are expanded, up
//!   to a budget ([`MAX_ALIASED_NODES`]), nesting up to [`MAX_DEPTH`] collections.
//!
//! Positions count lines at `\n` only and columns in characters, both from 1, as editors,
//! `grep -n` and `wc -l` do (YAML also breaks lines at a lone CR, NEL and U+2028/9, so its own
//! line numbers can point past the end of the file).

use std::collections::{HashMap, HashSet};

use granit_parser::{ErrorKind, Event, Marker, Options, Parser, ScalarStyle, Span, Tag};

/// Collections nested deeper than this are refused (a hostile file cannot exhaust the stack of
/// anything that walks the tree).
pub const MAX_DEPTH: usize = 128;

/// Nodes that aliases may add to a document (a "billion laughs" file is refused).
pub const MAX_ALIASED_NODES: usize = 100_000;

/// Where something starts in the text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A parsed YAML value, independent of the library that parsed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; non-string keys are rejected while parsing.
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping, with where each was written and how the value was spelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_at: Pos,
    pub value: Node,
    pub value_at: Pos,
    pub spelling: Spelling,
}

/// How a mapping value was written, for rules about the spelling rather than the value
/// (`umask` must be quoted; numbers must be written in decimal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spelling {
    /// A plain scalar as written (after folding lines), or an alias as `*name`.
    Plain(String),
    /// A single- or double-quoted scalar.
    Quoted,
    /// A `|` or `>` block scalar.
    Block,
    /// A list or a mapping.
    Collection,
}

impl Node {
    /// A short description of the value's type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    /// The entry of `key`, if this is a mapping that has one.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Map(m) => m.iter().find(|e| e.key == key),
            _ => None,
        }
    }
}

/// A YAML syntax or structure error, with the position YAML gives.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Parses one YAML document. A syntax error's words are the plain ones of
/// [`super::yaml_hint::explain`].
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut options = Options::default();
    // The parser scans ahead of the events, so it must stop deep nesting itself: brackets
    // inside the top-level mapping up to MAX_DEPTH collections in all. The tree builder
    // counts the rest (block and flow mixed).
    options.flow_nesting_limit = MAX_DEPTH - 1;
    options.block_nesting_limit = MAX_DEPTH;
    let mut b = Builder {
        at: Locator::new(text),
        stack: Vec::new(),
        anchors: HashMap::new(),
        aliased: 0,
        documents: 0,
        root: None,
    };
    // A syntax error anywhere comes first (the file must be YAML at all); then the first
    // structure error (a tag, a duplicate key, ...), found while building.
    let mut structure: Option<YamlError> = None;
    for event in Parser::new_from_str_with_options(text, options) {
        match event {
            Ok(_) if structure.is_some() => {}
            Ok((event, span)) => {
                structure = b.event(event, span, text).err();
                // A second document is refused before anything in it is read.
                if b.documents > 1 {
                    return Err(structure.unwrap_or_else(|| b.error_at(Pos::default(), "")));
                }
            }
            Err(e) => return Err(syntax_error(text, &mut b.at, e.marker(), e.kind())),
        }
    }
    match structure {
        Some(e) => Err(e),
        None => Ok(b.root.unwrap_or(Node::Null)),
    }
}

/// The message for a second document in the file (as svc has always said it).
const MORE_THAN_ONE_DOCUMENT: &str =
    "deserializing from YAML containing more than one document is not supported";

/// The namespace of YAML's own tags (`!!str`, `!!map`, ...).
const YAML_TAGS: &str = "tag:yaml.org,2002:";

/// A collection being built.
struct Frame {
    /// Where it starts.
    at: Pos,
    /// Its anchor id, 0 for none.
    anchor: usize,
    /// Nodes in it (itself included), aliases expanded.
    size: usize,
    /// Where it is in the document (`env`, `args[0]`), for naming a duplicate key.
    path: String,
    body: Body,
}

enum Body {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        seen: HashSet<String>,
        /// The key read, waiting for its value.
        key: Option<(String, Pos)>,
    },
}

struct Builder<'t> {
    at: Locator<'t>,
    stack: Vec<Frame>,
    /// Anchored nodes by the parser's anchor id, with how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added by aliases so far.
    aliased: usize,
    documents: usize,
    root: Option<Node>,
}

/// A finished node: its value, where it starts and how it was spelled.
struct Done {
    node: Node,
    at: Pos,
    spelling: Spelling,
    /// Nodes in it, aliases expanded.
    size: usize,
}

impl Builder<'_> {
    fn error_at(&self, p: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            line: Some(p.line),
            column: Some(p.column),
            message: message.into(),
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span, text: &str) -> Result<(), YamlError> {
        let at = self.at.pos(&span.start);
        let is_seq = matches!(event, Event::SequenceStart(..));
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error_at(at, MORE_THAN_ONE_DOCUMENT));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.check_tag(tag.as_deref(), &span)?;
                let (node, spelling) = match style {
                    ScalarStyle::Plain => {
                        let node = match tag.as_deref() {
                            Some(t) if t.is_yaml_core_schema_tag("str") => {
                                Node::Str(value.to_string())
                            }
                            _ => resolve_plain(&value),
                        };
                        (node, Spelling::Plain(value.into_owned()))
                    }
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        (Node::Str(value.into_owned()), Spelling::Quoted)
                    }
                    _ => (Node::Str(value.into_owned()), Spelling::Block),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.add(Done {
                    node,
                    at,
                    spelling,
                    size: 1,
                })?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.error_at(at, "unknown anchor"));
                };
                self.aliased += size;
                if self.aliased > MAX_ALIASED_NODES {
                    return Err(self.error_at(at, "repetition limit exceeded"));
                }
                let written = text
                    .get(self.at.byte(&span.start)..self.at.byte(&span.end))
                    .unwrap_or("*")
                    .to_string();
                self.add(Done {
                    node,
                    at,
                    spelling: Spelling::Plain(written),
                    size,
                })?;
            }
            Event::SequenceStart(_, anchor, tag) | Event::MappingStart(_, anchor, tag) => {
                self.check_tag(tag.as_deref(), &span)?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(self.error_at(at, "recursion limit exceeded"));
                }
                let body = if is_seq {
                    Body::Seq(Vec::new())
                } else {
                    Body::Map {
                        entries: Vec::new(),
                        seen: HashSet::new(),
                        key: None,
                    }
                };
                let path = self.child_path();
                self.stack.push(Frame {
                    at,
                    anchor,
                    size: 1,
                    path,
                    body,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(f) = self.stack.pop() else {
                    return Ok(());
                };
                let node = match f.body {
                    Body::Seq(items) => Node::Seq(items),
                    Body::Map { entries, .. } => Node::Map(entries),
                };
                if f.anchor != 0 {
                    self.anchors.insert(f.anchor, (node.clone(), f.size));
                }
                self.add(Done {
                    node,
                    at: f.at,
                    spelling: Spelling::Collection,
                    size: f.size,
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Tags are refused, but for the three of YAML's own that cannot change what a definition
    /// means: `!!str` (the value is a string, as quoting does), `!!map` and `!!seq`. A type tag
    /// such as `!!bool "true"` or `!!float 5` is refused rather than obeyed or ignored: obeying
    /// it would make one key's type depend on a rarely read marker, ignoring it would accept a
    /// file whose author meant something else.
    fn check_tag(&mut self, tag: Option<&Tag>, span: &Span) -> Result<(), YamlError> {
        let allowed = |t: &Tag| {
            t.suffix_in_namespace(YAML_TAGS)
                .is_some_and(|suffix| matches!(&*suffix, "str" | "map" | "seq"))
        };
        match tag {
            Some(t) if !allowed(t) => {
                let at = self.at.pos(span.tag_start.as_ref().unwrap_or(&span.start));
                let message = format!("YAML tags are not supported (found {})", t.original());
                Err(self.error_at(at, message))
            }
            _ => Ok(()),
        }
    }

    /// The path of the node that comes next.
    fn child_path(&self) -> String {
        let Some(f) = self.stack.last() else {
            return String::new();
        };
        let join = |part: &str| {
            if f.path.is_empty() {
                part.to_string()
            } else {
                format!("{}.{part}", f.path)
            }
        };
        match &f.body {
            Body::Seq(items) => format!("{}[{}]", f.path, items.len()),
            Body::Map {
                key: Some((k, _)), ..
            } => join(k),
            Body::Map { key: None, .. } => f.path.clone(),
        }
    }

    /// Puts a finished node where it belongs: the root, an item, a key or a value.
    fn add(&mut self, done: Done) -> Result<(), YamlError> {
        let Some(f) = self.stack.last_mut() else {
            self.root = Some(done.node);
            return Ok(());
        };
        f.size = f.size.saturating_add(done.size);
        let path = &f.path;
        match &mut f.body {
            Body::Seq(items) => items.push(done.node),
            Body::Map {
                key: key @ None, ..
            } => match done.node {
                Node::Str(s) => *key = Some((s, done.at)),
                other => {
                    let message = format!("mapping keys must be strings, found {}", other.kind());
                    return Err(self.error_at(done.at, message));
                }
            },
            Body::Map {
                entries,
                seen,
                key: key @ Some(_),
            } => {
                let (k, key_at) = key.take().unwrap_or_default();
                if !seen.insert(k.clone()) {
                    let prefix = if path.is_empty() {
                        String::new()
                    } else {
                        format!("{path}: ")
                    };
                    let message = format!("{prefix}duplicate entry with key {k:?}");
                    return Err(self.error_at(key_at, message));
                }
                entries.push(Entry {
                    key: k,
                    key_at,
                    value: done.node,
                    value_at: done.at,
                    spelling: done.spelling,
                });
            }
        }
        Ok(())
    }
}

/// What a plain scalar means (the rules in the module documentation).
fn resolve_plain(v: &str) -> Node {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Bool(true),
        "false" | "False" | "FALSE" => return Node::Bool(false),
        _ => {}
    }
    if let Some(i) = unsigned_int(v).or_else(|| negative_int(v)) {
        return Node::Int(i);
    }
    if !digits_but_not_number(v) {
        if let Some(f) = float(v) {
            return Node::Float(f);
        }
    }
    Node::Str(v.to_string())
}

/// `0755`, `-00`: leading zeros make a string (YAML 1.2), not an octal or decimal number.
fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

const RADIXES: [(&str, u32); 3] = [("0x", 16), ("0o", 8), ("0b", 2)];

/// `12`, `+12`, `0x1f`, `+0o17`, `0b101`.
fn unsigned_int(s: &str) -> Option<i128> {
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in RADIXES {
        if let Some(rest) = unsigned.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(i) = i128::from_str_radix(rest, radix) {
                return Some(i);
            }
        }
    }
    if unsigned.starts_with(['+', '-']) || digits_but_not_number(s) {
        return None;
    }
    unsigned.parse().ok()
}

/// `-12`, `-0x1f`, `-0o17`, `-0b101`.
fn negative_int(s: &str) -> Option<i128> {
    for (prefix, radix) in RADIXES {
        if let Some(rest) = s.strip_prefix('-').and_then(|r| r.strip_prefix(prefix)) {
            if let Ok(i) = i128::from_str_radix(&format!("-{rest}"), radix) {
                return Some(i);
            }
        }
    }
    if digits_but_not_number(s) {
        return None;
    }
    s.parse().ok()
}

/// `1.5`, `-2e3`, `.inf`, `-.Inf`, `.nan`; nothing Rust reads as infinite or NaN otherwise.
fn float(s: &str) -> Option<f64> {
    let unsigned = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return None,
        Some(u) => u,
        None => s,
    };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    match s {
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Turns the parser's character positions into [`Pos`]: lines counted at `\n` only, columns
/// in characters. Positions mostly come in order, so it walks on from the last one.
struct Locator<'t> {
    text: &'t str,
    /// The last position found: character index, byte offset, line, column.
    chars: usize,
    byte: usize,
    line: usize,
    column: usize,
}

impl<'t> Locator<'t> {
    fn new(text: &'t str) -> Self {
        Locator {
            text,
            chars: 0,
            byte: 0,
            line: 1,
            column: 1,
        }
    }

    fn seek(&mut self, chars: usize) {
        if chars < self.chars {
            *self = Locator::new(self.text);
        }
        let mut it = self.text[self.byte..].chars();
        while self.chars < chars {
            let Some(c) = it.next() else { break };
            self.chars += 1;
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }

    fn pos(&mut self, m: &Marker) -> Pos {
        self.seek(m.index());
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn byte(&mut self, m: &Marker) -> usize {
        self.seek(m.index());
        self.byte
    }
}

/// A syntax error in svc's words: the parser's kind of error told as the words
/// [`super::yaml_hint::explain`] knows, at the position that explanation needs.
fn syntax_error(text: &str, at: &mut Locator<'_>, marker: &Marker, kind: &ErrorKind) -> YamlError {
    const TAB: &str = "found a tab character that violates indentation";
    let mut byte = at.byte(marker);
    let mut next_line = false;
    let line_start = text[..byte].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..byte];
    // The tab to blame: on the line where the parser stopped, before that point; or, for a
    // plain scalar that a tab-indented line would continue, the first tab after it.
    let tab_before = before.rfind('\t').map(|i| line_start + i);
    let tab_after = text[byte..].find('\t').map(|i| byte + i);
    let raw: String = match kind {
        ErrorKind::TabInPlainScalar => match tab_after.or(tab_before) {
            Some(t) => {
                byte = t;
                TAB.into()
            }
            None => kind.to_string(),
        },
        ErrorKind::TabNotAllowed
        | ErrorKind::TabInBlockIndentation
        | ErrorKind::TabInIndentation
        | ErrorKind::TabAtBlockScalarStart => match tab_before.or(tab_after) {
            Some(t) => {
                byte = t;
                TAB.into()
            }
            None => kind.to_string(),
        },
        // Stopped after an indentation that holds a tab: the tab is what is wrong.
        ErrorKind::ExpectedBlockMappingKey | ErrorKind::ExpectedBlockSequenceEntry
            if before.contains('\t') && before.chars().all(|c| c == ' ' || c == '\t') =>
        {
            byte = line_start + before.find('\t').unwrap_or(0);
            TAB.into()
        }
        // A comment ended a value that the next line, indented more, would have continued:
        // that line's indentation is what is wrong.
        ErrorKind::CommentInterceptedScalar => {
            let rest = text[byte..].find('\n').map_or(text.len(), |i| byte + i + 1);
            let next = text[rest..]
                .find(|c: char| c != ' ' && c != '\n' && c != '\r')
                .map_or(text.len(), |i| rest + i);
            byte = next;
            "did not find expected key".into()
        }
        ErrorKind::InvalidTrailingDoubleQuotedScalar
        | ErrorKind::InvalidTrailingSingleQuotedScalar => "did not find expected key".into(),
        ErrorKind::ExpectedNodeContent | ErrorKind::BlockEntryInFlowCollection => {
            "did not find expected node content".into()
        }
        ErrorKind::MappingValueNotAllowed => {
            "mapping values are not allowed in this context".into()
        }
        ErrorKind::ExpectedBlockMappingKey => "did not find expected key".into(),
        ErrorKind::ExpectedBlockSequenceEntry => "did not find expected '-' indicator".into(),
        ErrorKind::SimpleKeyExpected => {
            // Explained as libyaml placed it (where the text goes on), reported where it is.
            next_line = true;
            "could not find expected ':'".into()
        }
        ErrorKind::UnclosedQuotedScalar
        | ErrorKind::UnexpectedEof
        | ErrorKind::UnexpectedEofBlockMapping
        | ErrorKind::UnexpectedEofBlockSequence => "found unexpected end of stream".into(),
        ErrorKind::UnclosedFlowCollection { open: '[' } => {
            "did not find expected ',' or ']'".into()
        }
        ErrorKind::UnclosedFlowCollection { .. } => "did not find expected ',' or '}'".into(),
        ErrorKind::MisplacedFlowCollectionEnd => {
            match text[byte..].chars().next() {
                Some(c @ (']' | '}')) => {
                    format!("`{c}` closes nothing: expected a value, or no `{c}` (one bracket too many?)")
                }
                _ => kind.to_string(),
            }
        }
        ErrorKind::ExpectedFlowSequenceSeparator
        | ErrorKind::ExpectedFlowMappingSeparator
        | ErrorKind::InvalidColonPlacement
        | ErrorKind::UnexpectedEofFlowSequence
        | ErrorKind::UnexpectedEofFlowMapping
        | ErrorKind::UnexpectedEofImplicitFlowMapping => {
            match super::yaml_hint::open_bracket(&text[..byte]) {
                Some('[') => "did not find expected ',' or ']'".into(),
                Some(_) => "did not find expected ',' or '}'".into(),
                None => kind.to_string(),
            }
        }
        ErrorKind::UnexpectedCharacter { character } if character.is_control() => {
            "control characters are not allowed".into()
        }
        ErrorKind::UnexpectedCharacter { .. } => {
            "found character that cannot start any token".into()
        }
        ErrorKind::UnknownAnchor => "unknown anchor".into(),
        ErrorKind::RecursionLimitExceeded => "recursion limit exceeded".into(),
        ErrorKind::MissingDocumentEndBeforeDirective | ErrorKind::MultipleDocumentsUnsupported => {
            MORE_THAN_ONE_DOCUMENT.into()
        }
        // "while scanning a block scalar, did not find ...": the part after the context.
        other => {
            let words = other.to_string();
            match words.split_once(", ") {
                Some((context, rest)) if context.starts_with("while ") => rest.to_string(),
                _ => words,
            }
        }
    };
    let (line, column) = position(text, byte);
    // The hint reads a missing `:` at libyaml's position (where the text goes on); the error
    // names the line that lacks it, where the parser stopped.
    let (hint_line, hint_column) = if next_line {
        (line + 1, 1)
    } else {
        (line, column)
    };
    let message = super::yaml_hint::explain(&raw, text, Some(hint_line), Some(hint_column));
    // A tab blamed where the hint looked (starting the line after one without `:`) is placed
    // there, where the fix goes.
    let blame_hint = next_line && message.starts_with("tab character");
    let (line, column) = if blame_hint {
        (hint_line, hint_column)
    } else {
        (line, column)
    };
    YamlError {
        line: Some(line),
        column: Some(column),
        message,
    }
}

/// 1-based line and column (in characters) of byte `index`, counting `\n` line ends only.
fn position(text: &str, index: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..index.min(text.len())];
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Characters, not bytes: count the bytes that start a UTF-8 sequence.
    let column = 1 + before[start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, column)
}

#[cfg(test)]
mod tests;
