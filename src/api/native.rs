//! JSON-native endpoints, for callers without a Redis client: `POST /vsearch/<key>` takes
//! `{"vector": [numbers] | "element": name, "count": n, "ef": n, "filter": expr}` and answers
//! `{"result": [{"element", "score", "attributes"}]}`, best first (VSIM underneath).
//! `POST /sql/query` and `POST /sql/exec` take `{"sql": text, "params": [values] | {name:
//! value}}` and answer `{"result": [{column: value}, …]}` (rows) or `{"result": {"changes": n,
//! "last_insert_rowid": r}}` (SQL.QUERY … FORMAT JSON and SQL.EXEC underneath).

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::command::{percent_decode, Admitted};
use super::{json_response, ApiError};
use crate::resp::Reply;

/// The VSIM arguments of a search request.
fn vsim_args(key: Bytes, request: &Value) -> Result<Vec<Bytes>, String> {
    let mut args = vec![Bytes::from_static(b"VSIM"), key];
    match (request.get("vector"), request.get("element")) {
        (Some(Value::Array(v)), None) => {
            args.push(Bytes::from_static(b"VALUES"));
            args.push(Bytes::from(v.len().to_string()));
            for x in v {
                let Value::Number(n) = x else {
                    return Err("ERR \"vector\" must be an array of numbers".into());
                };
                args.push(Bytes::from(n.to_string()));
            }
        }
        (None, Some(Value::String(e))) => {
            args.push(Bytes::from_static(b"ELE"));
            args.push(Bytes::copy_from_slice(e.as_bytes()));
        }
        _ => return Err("ERR give either \"vector\" (an array of numbers) or \"element\"".into()),
    }
    for (field, option) in [("count", "COUNT"), ("ef", "EF"), ("filter_ef", "FILTER-EF")] {
        match request.get(field) {
            None => {}
            Some(Value::Number(n)) => {
                args.push(Bytes::from(option));
                args.push(Bytes::from(n.to_string()));
            }
            Some(_) => return Err(format!("ERR \"{field}\" must be a number")),
        }
    }
    match request.get("filter") {
        None => {}
        Some(Value::String(f)) => {
            args.push(Bytes::from_static(b"FILTER"));
            args.push(Bytes::copy_from_slice(f.as_bytes()));
        }
        Some(_) => return Err("ERR \"filter\" must be a string".into()),
    }
    args.push(Bytes::from_static(b"WITHSCORES"));
    args.push(Bytes::from_static(b"WITHATTRIBS"));
    Ok(args)
}

/// VSIM's RESP2 triples as objects; attributes as JSON when they parse, else as text.
fn hits(reply: Reply) -> Result<Value, String> {
    let items = match reply {
        Reply::Array(items) => items,
        Reply::Error(e) => return Err(e),
        other => return Err(format!("ERR unexpected reply {other:?}")),
    };
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Reply::Double(d) => Some(d.to_string()),
        _ => None,
    };
    Ok(Value::Array(
        items
            .chunks_exact(3)
            .map(|t| {
                let score = match &t[1] {
                    Reply::Double(d) => json!(d),
                    _ => Value::Null,
                };
                let attributes = text(&t[2]).map_or(Value::Null, |a| {
                    serde_json::from_str(&a).unwrap_or(Value::String(a))
                });
                json!({ "element": text(&t[0]), "score": score, "attributes": attributes })
            })
            .collect(),
    ))
}

/// `POST /vsearch/<key>`
pub async fn vsearch(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        mut session,
        uri,
        body,
        ..
    } = request;
    let key = Bytes::from(percent_decode(
        uri.path()
            .strip_prefix("/vsearch/")
            .unwrap_or_default()
            .as_bytes(),
    ));
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("ERR the body is not JSON: {e}")))?;
    let args = vsim_args(key, &request).map_err(ApiError::bad_request)?;
    let found = hits(session.run(&args).await).map_err(ApiError::bad_request)?;
    Ok(json_response(StatusCode::OK, json!({ "result": found })))
}

/// The SQL arguments of a request body.
fn sql_args(command: &'static str, body: &[u8]) -> Result<Vec<Bytes>, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("ERR the body is not JSON: {e}"))?;
    let Some(Value::String(sql)) = request.get("sql") else {
        return Err("ERR \"sql\" must be a string".into());
    };
    let mut args = vec![
        Bytes::from_static(command.as_bytes()),
        Bytes::from(sql.clone()),
    ];
    match request.get("params") {
        None | Some(Value::Null) => {}
        Some(p @ (Value::Array(_) | Value::Object(_))) => {
            args.push(Bytes::from_static(b"PARAMS"));
            args.push(Bytes::from_static(b"JSON"));
            args.push(Bytes::from(p.to_string()));
        }
        Some(_) => return Err("ERR \"params\" must be an array or an object".into()),
    }
    Ok(args)
}

/// An error reply as the HTTP error it is.
fn refused(e: String) -> ApiError {
    let status = if e.starts_with("NOPERM") {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, e)
}

/// `POST /sql/query`: rows as JSON objects.
pub async fn sql_query(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        mut session, body, ..
    } = request;
    let mut args = sql_args("SQL.QUERY", &body).map_err(ApiError::bad_request)?;
    args.push(Bytes::from_static(b"FORMAT"));
    args.push(Bytes::from_static(b"JSON"));
    match session.run(&args).await {
        Reply::Bulk(json) => {
            let rows: Value = serde_json::from_slice(&json)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            Ok(json_response(StatusCode::OK, json!({ "result": rows })))
        }
        Reply::Error(e) => Err(refused(e)),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ERR unexpected reply {other:?}"),
        )),
    }
}

/// `POST /sql/exec`: the changes count and the last rowid inserted.
pub async fn sql_exec(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        mut session, body, ..
    } = request;
    let args = sql_args("SQL.EXEC", &body).map_err(ApiError::bad_request)?;
    match session.run(&args).await {
        Reply::Map(pairs) => {
            let mut result = serde_json::Map::new();
            for (k, v) in pairs {
                if let (Reply::Bulk(k), Reply::Int(v)) = (k, v) {
                    result.insert(String::from_utf8_lossy(&k).into_owned(), json!(v));
                }
            }
            Ok(json_response(StatusCode::OK, json!({ "result": result })))
        }
        Reply::Error(e) => Err(refused(e)),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ERR unexpected reply {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_vsim() {
        let req = json!({"vector": [1, 0.5], "count": 3, "filter": ".a > 1"});
        let args = vsim_args(Bytes::from_static(b"k"), &req).unwrap();
        let text: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into())
            .collect();
        assert_eq!(
            text,
            [
                "VSIM",
                "k",
                "VALUES",
                "2",
                "1",
                "0.5",
                "COUNT",
                "3",
                "FILTER",
                ".a > 1",
                "WITHSCORES",
                "WITHATTRIBS"
            ]
        );
        assert!(vsim_args(Bytes::new(), &json!({"vector": ["x"]})).is_err());
        assert!(vsim_args(Bytes::new(), &json!({})).is_err());
        assert!(vsim_args(Bytes::new(), &json!({"element": "e", "count": "3"})).is_err());
    }
}
