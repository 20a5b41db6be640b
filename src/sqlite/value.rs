//! SQLite values as RESP replies and as JSON.

use base64::Engine as _;
use rusqlite::types::Value;

use super::exec::Rows;
use crate::resp::Reply;

/// Bytes a value adds to a reply (for `sql-max-reply-bytes`).
pub fn size_of(value: &Value) -> u64 {
    match value {
        Value::Text(t) => t.len() as u64,
        Value::Blob(b) => b.len() as u64,
        _ => 8,
    }
}

/// Integers as integers, reals as doubles (bulk strings in RESP2), NULL as null, text and
/// blobs as bulk strings.
pub fn to_reply(value: Value) -> Reply {
    match value {
        Value::Null => Reply::Nil,
        Value::Integer(i) => Reply::Int(i),
        Value::Real(r) => Reply::Double(r),
        Value::Text(t) => Reply::bulk(t.into_bytes()),
        Value::Blob(b) => Reply::bulk(b),
    }
}

/// Blobs become base64 strings; non-finite reals become null (JSON has neither).
pub fn to_json(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => serde_json::Value::from(i),
        Value::Real(r) => {
            serde_json::Number::from_f64(r).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Text(t) => serde_json::Value::String(t),
        Value::Blob(b) => {
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

impl Rows {
    /// `[[column …], [value …] …]`
    pub fn into_reply(self) -> Reply {
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        out.push(Reply::Array(
            self.columns
                .into_iter()
                .map(|c| Reply::bulk(c.into_bytes()))
                .collect(),
        ));
        out.extend(
            self.rows
                .into_iter()
                .map(|row| Reply::Array(row.into_iter().map(to_reply).collect())),
        );
        Reply::Array(out)
    }

    /// One object per row, keyed by column name (a later column of the same name wins).
    pub fn into_json(self) -> serde_json::Value {
        let columns = self.columns;
        serde_json::Value::Array(
            self.rows
                .into_iter()
                .map(|row| {
                    let object: serde_json::Map<String, serde_json::Value> = columns
                        .iter()
                        .cloned()
                        .zip(row.into_iter().map(to_json))
                        .collect();
                    serde_json::Value::Object(object)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_as_reply_and_json() {
        let rows = Rows {
            columns: vec!["id".into(), "score".into(), "blob".into(), "none".into()],
            rows: vec![vec![
                Value::Integer(7),
                Value::Real(0.5),
                Value::Blob(vec![0, 255]),
                Value::Null,
            ]],
        };
        assert_eq!(
            rows.clone().into_json().to_string(),
            r#"[{"id":7,"score":0.5,"blob":"AP8=","none":null}]"#
        );
        let Reply::Array(parts) = rows.into_reply() else {
            panic!("not an array")
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[1],
            Reply::Array(vec![
                Reply::Int(7),
                Reply::Double(0.5),
                Reply::bulk(vec![0u8, 255]),
                Reply::Nil
            ])
        );
    }
}
