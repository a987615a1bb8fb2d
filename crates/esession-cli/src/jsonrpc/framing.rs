//! JSON-RPC 2.0 framing: one request per line in, one response or notification per line
//! out.
use serde_json::{json, Map, Value};

/// JSON-RPC 2.0 §5.1: invalid JSON.
pub(super) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 §5.1: not a valid request object.
pub(super) const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0 §5.1: no such method.
pub(super) const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC 2.0 §5.1: invalid method parameters.
pub(super) const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC 2.0 §5.1 (server error range): the method ran and failed.
pub(super) const FAILED: i64 = -32000;

/// An error answer.
#[derive(Debug, PartialEq)]
pub(super) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub(super) fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

/// One request.
#[derive(Debug)]
pub(super) struct Request {
    /// `None` for a notification (JSON-RPC 2.0 §4.1: no answer).
    pub id: Option<Value>,
    pub method: String,
    params: Map<String, Value>,
}

impl Request {
    /// The string parameter `name`.
    pub(super) fn text(&self, name: &str) -> Result<&str, RpcError> {
        match self.params.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(RpcError::new(
                INVALID_PARAMS,
                format!("parameter {name:?} must be a string"),
            )),
            None => Err(RpcError::new(
                INVALID_PARAMS,
                format!("parameter {name:?} is missing"),
            )),
        }
    }

    /// The optional non-negative integer parameter `name`; `default` when absent.
    pub(super) fn count(&self, name: &str, default: usize) -> Result<usize, RpcError> {
        match self.params.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    RpcError::new(
                        INVALID_PARAMS,
                        format!("parameter {name:?} must be a non-negative integer"),
                    )
                }),
        }
    }

    /// The parameter `name` as a contact's bare JID (`local@domain`, resource dropped),
    /// normalized as typed JIDs are (RFC 7622 §3).
    /// Parameter `name` as a string, or `None` when it is absent or null.
    pub(super) fn optional_text(&self, name: &str) -> Result<Option<&str>, RpcError> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.text(name).map(Some),
        }
    }

    pub(super) fn jid(&self, name: &str) -> Result<String, RpcError> {
        let typed = self.text(name)?;
        crate::typed_jid::contact(&format!("parameter {name:?}"), typed)
            .map_err(|why| RpcError::new(INVALID_PARAMS, why))
    }
}

/// The request on `line`, or the error to answer (with the id to answer it under).
pub(super) fn parse(line: &str) -> Result<Request, (Value, RpcError)> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        (
            Value::Null,
            RpcError::new(PARSE_ERROR, format!("parse error: {e}")),
        )
    })?;
    let Value::Object(mut obj) = value else {
        // JSON-RPC 2.0 §6: batches are not supported by this server (decisions.md).
        return Err((
            Value::Null,
            RpcError::new(INVALID_REQUEST, "a request must be a single JSON object"),
        ));
    };
    let id = obj.remove("id");
    // JSON-RPC 2.0 §4: an id is a string, a number or null.
    let answer_id = match &id {
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Null)) => v.clone(),
        Some(_) => {
            return Err((
                Value::Null,
                RpcError::new(INVALID_REQUEST, "id must be a string, a number or null"),
            ))
        }
        None => Value::Null,
    };
    let invalid = |m: &str| (answer_id.clone(), RpcError::new(INVALID_REQUEST, m));
    if obj.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return Err(invalid("method must be a string"));
    };
    let params = match obj.remove("params") {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        // JSON-RPC 2.0 §4.2: by-position parameters exist, but every method here takes
        // named ones.
        Some(_) => {
            return Err((
                answer_id,
                RpcError::new(INVALID_PARAMS, "params must be an object"),
            ))
        }
    };
    Ok(Request { id, method, params })
}

/// A success response (JSON-RPC 2.0 §5).
pub(super) fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response (JSON-RPC 2.0 §5.1).
pub(super) fn error(id: Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

/// A notification (JSON-RPC 2.0 §4.1).
pub(super) fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> (Value, i64) {
        let (id, e) = parse(line).unwrap_err();
        (id, e.code)
    }

    #[test]
    fn bad_requests_get_the_json_rpc_error_codes() {
        assert_eq!(code("{not json"), (Value::Null, PARSE_ERROR));
        assert_eq!(code("[1,2]"), (Value::Null, INVALID_REQUEST));
        assert_eq!(
            code(r#"{"id":1,"method":"send"}"#),
            (json!(1), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":"a","method":7}"#),
            (json!("a"), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":2,"method":"send","params":[1]}"#),
            (json!(2), INVALID_PARAMS)
        );
        let r = parse(r#"{"jsonrpc":"2.0","id":3,"method":"send","params":{"to":5}}"#).unwrap();
        assert_eq!(r.text("to").unwrap_err().code, INVALID_PARAMS);
        assert_eq!(r.text("body").unwrap_err().code, INVALID_PARAMS);
        let r = parse(
            r#"{"jsonrpc":"2.0","id":4,"method":"rename","params":{"p":null,"q":"x","n":1}}"#,
        )
        .unwrap();
        assert_eq!(r.optional_text("p").unwrap(), None);
        assert_eq!(r.optional_text("absent").unwrap(), None);
        assert_eq!(r.optional_text("q").unwrap(), Some("x"));
        assert_eq!(r.optional_text("n").unwrap_err().code, INVALID_PARAMS);
        let r = parse(r#"{"jsonrpc":"2.0","method":"end","params":{"jid":"nobody"}}"#).unwrap();
        assert!(r.id.is_none(), "a notification");
        assert_eq!(r.jid("jid").unwrap_err().code, INVALID_PARAMS);
        let r =
            parse(r#"{"jsonrpc":"2.0","id":4,"method":"end","params":{"jid":"b@x/r"}}"#).unwrap();
        assert_eq!(r.jid("jid").unwrap(), "b@x");
        let r = parse(r#"{"jsonrpc":"2.0","id":5,"method":"add","params":{"jid":"Bob@X.org"}}"#)
            .unwrap();
        assert_eq!(r.jid("jid").unwrap(), "bob@x.org");
        let r =
            parse(r#"{"jsonrpc":"2.0","id":6,"method":"add","params":{"jid":"a@b@c"}}"#).unwrap();
        assert_eq!(r.jid("jid").unwrap_err().code, INVALID_PARAMS);
    }
}
