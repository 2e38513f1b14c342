//! The ECS document of one event: dotted ECS names nested into objects, keys
//! sorted, written straight to the output.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use serde_json::Value as Json;

/// An ECS document under construction. Every key is a `&'static str` (a
/// segment of a schema or companion ECS name), so building one allocates only
/// for values; keys are kept sorted, as serde_json writes its own maps.
#[derive(Debug, Default)]
pub struct Doc(BTreeMap<&'static str, Node>);

#[derive(Debug)]
enum Node {
    Leaf(Leaf),
    Branch(Doc),
}

/// One value of a [`Doc`]; constants and the host name are not copied per event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    Null,
    Bool(bool),
    U64(u64),
    Str(String),
    Static(&'static str),
    Shared(Arc<str>),
    Statics(&'static [&'static str]),
    List(Vec<&'static str>),
    /// An array of owned strings.
    Strs(Vec<String>),
    /// An array of numbers (rule ids).
    U64s(Vec<u64>),
}

impl Leaf {
    fn write<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        match self {
            Leaf::Null => out.write_all(b"null"),
            Leaf::Bool(v) => out.write_all(if *v { b"true" } else { b"false" }),
            Leaf::U64(v) => write!(out, "{v}"),
            Leaf::Str(v) => Ok(serde_json::to_writer(out, v)?),
            Leaf::Static(v) => Ok(serde_json::to_writer(out, v)?),
            Leaf::Shared(v) => Ok(serde_json::to_writer(out, &**v)?),
            Leaf::Statics(v) => Ok(serde_json::to_writer(out, v)?),
            Leaf::List(v) => Ok(serde_json::to_writer(out, v)?),
            Leaf::Strs(v) => Ok(serde_json::to_writer(out, v)?),
            Leaf::U64s(v) => Ok(serde_json::to_writer(out, v)?),
        }
    }

    fn into_json(self) -> Json {
        match self {
            Leaf::Null => Json::Null,
            Leaf::Bool(v) => Json::Bool(v),
            Leaf::U64(v) => Json::from(v),
            Leaf::Str(v) => Json::String(v),
            Leaf::Static(v) => Json::from(v),
            Leaf::Shared(v) => Json::from(&*v),
            Leaf::Statics(v) => Json::from(v.to_vec()),
            Leaf::List(v) => Json::from(v),
            Leaf::Strs(v) => Json::from(v),
            Leaf::U64s(v) => Json::from(v),
        }
    }
}

impl Doc {
    /// Inserts `value` at the dotted ECS name `path`, nesting objects
    /// (`process.parent.pid` becomes `{"process":{"parent":{"pid":…}}}`). Should
    /// a name ever cross a value, the rest of the name stays one dotted key there.
    pub fn put(&mut self, path: &'static str, value: Leaf) {
        match path.split_once('.') {
            None => {
                self.0.insert(path, Node::Leaf(value));
            }
            Some((head, rest)) => match self.0.entry(head).or_insert_with(|| Node::Branch(Doc::default())) {
                Node::Branch(inner) => inner.put(rest, value),
                Node::Leaf(_) => {
                    self.0.insert(path, Node::Leaf(value));
                }
            },
        }
    }

    /// Writes the document as compact JSON, byte for byte what serde_json
    /// writes for [`Doc::into_json`] of it.
    pub fn write<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(b"{")?;
        for (i, (key, node)) in self.0.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            match node {
                Node::Leaf(value) => value.write(out)?,
                Node::Branch(inner) => inner.write(out)?,
            }
        }
        out.write_all(b"}")
    }

    pub fn into_json(self) -> Json {
        Json::Object(
            self.0
                .into_iter()
                .map(|(k, node)| {
                    let value = match node {
                        Node::Leaf(v) => v.into_json(),
                        Node::Branch(inner) => inner.into_json(),
                    };
                    (k.to_owned(), value)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(doc: &Doc) -> String {
        let mut out = Vec::new();
        doc.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dotted_names_nest_and_keys_come_out_sorted() {
        let mut doc = Doc::default();
        doc.put("process.pid", Leaf::U64(4));
        doc.put("@timestamp", Leaf::Null);
        doc.put("process.parent.pid", Leaf::U64(0));
        doc.put("event.category", Leaf::Statics(&["process"]));
        assert_eq!(
            written(&doc),
            r#"{"@timestamp":null,"event":{"category":["process"]},"process":{"parent":{"pid":0},"pid":4}}"#
        );
    }

    #[test]
    fn a_name_crossing_a_value_stays_one_dotted_key_and_loses_nothing() {
        let mut doc = Doc::default();
        doc.put("a.b", Leaf::Bool(true));
        doc.put("a.b.c", Leaf::Static("x"));
        assert_eq!(written(&doc), r#"{"a":{"b":true,"b.c":"x"}}"#);
        assert_eq!(serde_json::to_string(&doc.into_json()).unwrap(), r#"{"a":{"b":true,"b.c":"x"}}"#);
    }
}
