use super::*;

fn call(params: &str) -> String {
    format!("<?xml version='1.0'?>\n<methodCall>\n<methodName>m.n</methodName>\n<params>{params}</params>\n</methodCall>\n")
}

fn one(value: &str) -> Result<Value, ReadError> {
    let c = read_call(call(&format!("<param><value>{value}</value></param>")).as_bytes())?;
    Ok(c.params.into_iter().next().unwrap_or(Value::Nil))
}

#[test]
fn reads_every_type() {
    assert_eq!(one("<int>-5</int>"), Ok(Value::Int(-5)));
    assert_eq!(one("<i4>7</i4>"), Ok(Value::Int(7)));
    assert_eq!(one("<boolean>1</boolean>"), Ok(Value::Bool(true)));
    assert_eq!(one("<boolean>0</boolean>"), Ok(Value::Bool(false)));
    assert_eq!(
        one("<string>a &amp; b &lt;c&gt; &#65;&#x42;</string>"),
        Ok(Value::str("a & b <c> AB"))
    );
    assert_eq!(one("bare text"), Ok(Value::str("bare text")));
    assert_eq!(one(""), Ok(Value::str("")));
    assert_eq!(one("<string/>"), Ok(Value::str("")));
    assert_eq!(
        one("<string><![CDATA[<x>]]></string>"),
        Ok(Value::str("<x>"))
    );
    assert_eq!(one("<double>1.5</double>"), Ok(Value::Double(1.5)));
    assert_eq!(
        one("<dateTime.iso8601>20260102T03:04:05</dateTime.iso8601>"),
        Ok(Value::DateTime("20260102T03:04:05".into()))
    );
    assert_eq!(
        one("<base64>aGVsbG8=</base64>"),
        Ok(Value::Base64(b"hello".to_vec()))
    );
    assert_eq!(one("<nil/>"), Ok(Value::Nil));
    assert_eq!(
        one("<array><data><value><int>1</int></value><value>x</value></data></array>"),
        Ok(Value::Array(vec![Value::Int(1), Value::str("x")]))
    );
    assert_eq!(
        one("<struct><member><name>a</name><value><int>1</int></value></member></struct>"),
        Ok(Value::record([("a", Value::Int(1))]))
    );
}

#[test]
fn reads_a_call_without_params() {
    let c = read_call(b"<methodCall><methodName>system.listMethods</methodName></methodCall>");
    assert_eq!(
        c,
        Ok(Call {
            method: "system.listMethods".into(),
            params: vec![]
        })
    );
}

#[test]
fn refuses_what_is_not_a_method_call() {
    for bad in [
        &b"not xml"[..],
        b"<methodCall><methodName>x</methodName>",
        b"<methodCall><methodName>x</methodName></methodCall><extra/>",
        b"<methodCall></methodCall>",
        b"<methodResponse/>",
        b"\xff\xfe",
        b"<methodCall><methodName>x</methodName></wrong>",
    ] {
        assert!(
            read_call(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(matches!(one("<int>x</int>"), Err(ReadError::Invalid(_))));
    assert!(matches!(
        one("<int>99999999999</int>"),
        Err(ReadError::Invalid(_))
    ));
    assert!(matches!(
        one("<boolean>yes</boolean>"),
        Err(ReadError::Invalid(_))
    ));
    assert!(matches!(one("<frob>1</frob>"), Err(ReadError::Invalid(_))));
    assert!(matches!(
        one("<base64>!!</base64>"),
        Err(ReadError::Invalid(_))
    ));
}

#[test]
fn refuses_doctype_and_entities() {
    let bomb = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><methodCall><methodName>&a;</methodName></methodCall>";
    assert_eq!(read_call(bomb), Err(ReadError::Doctype));
    let ent = b"<methodCall><methodName>&a;</methodName></methodCall>";
    assert_eq!(read_call(ent), Err(ReadError::Entity("a".into())));
}

#[test]
fn refuses_deep_nesting() {
    let open = "<value><array><data>".repeat(100);
    let close = "</data></array></value>".repeat(100);
    let body = call(&format!("<param>{open}{close}</param>"));
    assert_eq!(read_call(body.as_bytes()), Err(ReadError::TooDeep));
}

#[test]
fn writes_what_it_reads() {
    let v = Value::Array(vec![
        Value::Int(1),
        Value::Bool(true),
        Value::str("a<&>\r\nb"),
        Value::Double(2.5),
        Value::Base64(b"hi!?".to_vec()),
        Value::record([("k", Value::Nil)]),
    ]);
    let doc = String::from_utf8(write_response(&v)).unwrap();
    // Turn the response into a call holding the same value and read it back.
    let inner = doc
        .split_once("<param>\n")
        .and_then(|(_, r)| r.split_once("\n</param>"))
        .map(|(v, _)| v.to_string())
        .unwrap();
    assert_eq!(
        read_call(call(&format!("<param>{inner}</param>")).as_bytes()).map(|c| c.params),
        Ok(vec![v])
    );
}

#[test]
fn writes_a_fault_and_replaces_what_xml_cannot_carry() {
    let doc = String::from_utf8(write_fault(10, "BAD_NAME: a\u{0}b\u{1b}c")).unwrap();
    assert!(
        doc.contains("<name>faultCode</name>\n<value><int>10</int></value>"),
        "{doc}"
    );
    assert!(
        doc.contains("<string>BAD_NAME: a\u{fffd}b\u{fffd}c</string>"),
        "{doc}"
    );
    assert!(doc.contains("<fault>"));
}
