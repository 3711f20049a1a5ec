//! XML-RPC values (<http://xmlrpc.com/spec.md>): a `methodCall` read with quick-xml, a
//! `methodResponse` written.
//!
//! Reading is bounded: the body is at most what the HTTP layer accepted (1 MiB), elements nest at
//! most [`MAX_DEPTH`] deep, a `<!DOCTYPE>` is refused (so no entity can be declared), and the only
//! references resolved are XML's five (`&lt;` ...) and character references. Whatever is wrong
//! comes back as a [`ReadError`], never a panic. The call is first read into a small element tree
//! and then interpreted, which keeps the two concerns (well-formed XML, valid XML-RPC) apart.
//!
//! Writing escapes `&`, `<`, `>` and `\r`, and replaces the characters XML 1.0 cannot carry (NUL,
//! most C0 controls, U+FFFE/U+FFFF) with U+FFFD, so a log holding control bytes still gives a
//! document every client parses.

use std::fmt;

/// Elements nested deeper than this are refused (`methodCall/params/param/value` is 4; each
/// array or struct level adds 3).
pub const MAX_DEPTH: usize = 64;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    Bool(bool),
    String(String),
    Double(f64),
    /// `dateTime.iso8601`, kept as its text (`20260102T03:04:05`).
    DateTime(String),
    Base64(Vec<u8>),
    Array(Vec<Value>),
    /// Members in document order.
    Struct(Vec<(String, Value)>),
    Nil,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A struct from `(name, value)` pairs.
    pub fn record<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// The member `name` of a struct.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The XML-RPC type name (`int`, `string`, ...), for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }
}

/// A `methodCall`: the method's name and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// Why a request body is not a `methodCall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The body is not UTF-8.
    Encoding,
    /// Not well-formed XML (quick-xml's message, or ours).
    Xml(String),
    /// A `<!DOCTYPE>`: refused, so no entity can be declared.
    Doctype,
    /// A reference other than XML's five and character references.
    Entity(String),
    /// Elements nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Well-formed XML that is not a valid `methodCall` (what was expected, what came).
    Invalid(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Encoding => write!(f, "the request body is not UTF-8"),
            ReadError::Xml(e) => write!(f, "malformed XML: {e}"),
            ReadError::Doctype => write!(f, "a DOCTYPE is not accepted"),
            ReadError::Entity(e) => write!(f, "unknown entity &{e};"),
            ReadError::TooDeep => write!(f, "elements nest deeper than {MAX_DEPTH}"),
            ReadError::Invalid(e) => write!(f, "not an XML-RPC methodCall: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// One element of the request: its name, its text (concatenated) and its child elements.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

/// Reads a `methodCall` document.
pub fn read_call(body: &[u8]) -> Result<Call, ReadError> {
    let text = std::str::from_utf8(body).map_err(|_| ReadError::Encoding)?;
    let root = parse_tree(text)?;
    if root.name != "methodCall" {
        return Err(invalid(format!("root element <{}>", root.name)));
    }
    let method = root
        .children
        .iter()
        .find(|c| c.name == "methodName")
        .map(|c| c.text.trim().to_string())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("no methodName".into()))?;
    let mut params = Vec::new();
    if let Some(ps) = root.children.iter().find(|c| c.name == "params") {
        for p in &ps.children {
            if p.name != "param" {
                return Err(invalid(format!("<{}> in <params>", p.name)));
            }
            let value = only_child(p, "value")?;
            params.push(read_value(value)?);
        }
    }
    Ok(Call { method, params })
}

fn invalid(what: String) -> ReadError {
    ReadError::Invalid(what)
}

/// The single child of `node`, which must be named `name`.
fn only_child<'a>(node: &'a Node, name: &str) -> Result<&'a Node, ReadError> {
    match node.children.as_slice() {
        [c] if c.name == name => Ok(c),
        _ => Err(invalid(format!("<{}> must hold one <{name}>", node.name))),
    }
}

/// A `<value>` element.
fn read_value(node: &Node) -> Result<Value, ReadError> {
    let typed = match node.children.as_slice() {
        // A value without a type element is a string.
        [] => return Ok(Value::String(node.text.clone())),
        [t] => t,
        _ => return Err(invalid("<value> holds more than one type".into())),
    };
    let text = typed.text.as_str();
    let bad = || invalid(format!("<{}>{}</{}>", typed.name, text, typed.name));
    let value = match typed.name.as_str() {
        "int" | "i4" | "i8" => Value::Int(text.trim().parse().map_err(|_| bad())?),
        "boolean" => match text.trim() {
            "1" => Value::Bool(true),
            "0" => Value::Bool(false),
            _ => return Err(bad()),
        },
        "string" => Value::String(text.to_string()),
        "double" => Value::Double(text.trim().parse().map_err(|_| bad())?),
        "dateTime.iso8601" => Value::DateTime(text.trim().to_string()),
        "base64" => Value::Base64(super::base64::decode_lenient(text).ok_or_else(bad)?),
        "nil" => Value::Nil,
        "array" => {
            let data = only_child(typed, "data")?;
            let mut items = Vec::with_capacity(data.children.len());
            for v in &data.children {
                if v.name != "value" {
                    return Err(invalid(format!("<{}> in <data>", v.name)));
                }
                items.push(read_value(v)?);
            }
            Value::Array(items)
        }
        "struct" => {
            let mut members = Vec::with_capacity(typed.children.len());
            for m in &typed.children {
                let name = m.children.iter().find(|c| c.name == "name");
                let value = m.children.iter().find(|c| c.name == "value");
                match (m.name.as_str(), name, value) {
                    ("member", Some(n), Some(v)) => members.push((n.text.clone(), read_value(v)?)),
                    _ => return Err(invalid("a struct <member> needs <name> and <value>".into())),
                }
            }
            Value::Struct(members)
        }
        other => return Err(invalid(format!("unknown type <{other}>"))),
    };
    Ok(value)
}

/// Reads the document into a tree of elements, with the bounds of the module docs.
fn parse_tree(text: &str) -> Result<Node, ReadError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let xml = |e: quick_xml::Error| ReadError::Xml(e.to_string());
    loop {
        let event = reader.read_event().map_err(xml)?;
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(ReadError::Xml("content after the root element".into()));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ReadError::TooDeep);
                }
                stack.push(Node {
                    name: e.name().as_ref().to_string(),
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                let node = Node {
                    name: e.name().as_ref().to_string(),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(top) => top.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| ReadError::Xml("an end tag without a start".into()))?;
                match stack.last_mut() {
                    Some(top) => top.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => add_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => add_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(ReadError::Entity(other.to_string())),
                    },
                    Err(e) => return Err(ReadError::Xml(e.to_string())),
                };
                add_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(ReadError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                return match (stack.is_empty(), root) {
                    (true, Some(root)) => Ok(root),
                    (true, None) => Err(ReadError::Xml("no root element".into())),
                    (false, _) => Err(ReadError::Xml("the document ends inside an element".into())),
                };
            }
        }
    }
}

/// Text inside the current element; outside any element only whitespace is allowed.
fn add_text(stack: &mut [Node], text: &str) -> Result<(), ReadError> {
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(ReadError::Xml("text outside the root element".into())),
    }
}

/// A `methodResponse` carrying `value`.
pub fn write_response(value: &Value) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n");
    write_value(&mut out, value);
    out.push_str("\n</param>\n</params>\n</methodResponse>\n");
    out.into_bytes()
}

/// A `methodResponse` carrying a fault `{faultCode, faultString}`.
pub fn write_fault(code: i32, text: &str) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n");
    let fault = Value::record([
        ("faultCode", Value::Int(code)),
        ("faultString", Value::str(text)),
    ]);
    write_value(&mut out, &fault);
    out.push_str("\n</fault>\n</methodResponse>\n");
    out.into_bytes()
}

fn write_value(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        Value::Int(i) => out.push_str(&format!("<int>{i}</int>")),
        Value::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
        Value::String(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => out.push_str(&format!("<double>{d:?}</double>")),
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(b) => out.push_str(&format!("<base64>{}</base64>", super::base64::encode(b))),
        Value::Array(items) => {
            out.push_str("<array><data>\n");
            for v in items {
                write_value(out, v);
                out.push('\n');
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>\n");
            for (k, v) in members {
                out.push_str("<member>\n<name>");
                escape_into(out, k);
                out.push_str("</name>\n");
                write_value(out, v);
                out.push_str("\n</member>\n");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// Escapes text for element content; characters XML 1.0 cannot carry become U+FFFD.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A literal CR would be read back as LF.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
