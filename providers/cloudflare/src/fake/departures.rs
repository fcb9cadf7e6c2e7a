//! Where the fake deliberately accepts what Cloudflare's published
//! description refuses, and why.
//!
//! - **The root name `.` as an MX exchange or an SRV target.** The
//!   description gives MX `content` and SRV `data.target` the format
//!   `hostname`, which `.` does not match. But `.` is how RFC 7505's null MX
//!   (`0 .`, "this domain takes no mail") and RFC 2782's "no service" SRV
//!   are written, Cloudflare's dashboard and API store both, and the client
//!   sends them on purpose. So before a body is checked against the
//!   description, such a `.` is replaced by a valid host name; the record
//!   itself is stored as sent.

use std::borrow::Cow;

use serde_json::Value;

/// A stand-in that passes the `hostname` format.
const STAND_IN: &str = "root.invalid";

/// The body as the description check should see it.
pub fn for_validation(body: &[u8]) -> Cow<'_, [u8]> {
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return Cow::Borrowed(body);
    };
    let mut changed = false;
    let mut fix = |rec: &mut Value| {
        let rtype = rec.get("type").and_then(Value::as_str).unwrap_or("");
        let slot = match rtype {
            "MX" => rec.get_mut("content"),
            "SRV" => rec.get_mut("data").and_then(|d| d.get_mut("target")),
            _ => None,
        };
        if let Some(v) = slot {
            if v.as_str() == Some(".") {
                *v = Value::from(STAND_IN);
                changed = true;
            }
        }
    };
    match &mut value {
        Value::Object(map) if map.contains_key("type") => fix(&mut value),
        Value::Object(map) => {
            for key in ["posts", "patches", "puts"] {
                if let Some(Value::Array(items)) = map.get_mut(key) {
                    items.iter_mut().for_each(&mut fix);
                }
            }
        }
        _ => {}
    }
    if changed {
        Cow::Owned(serde_json::to_vec(&value).expect("JSON serialises"))
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_root_target_of_mx_and_srv_is_stood_in_for() {
        let b = br#"{"posts":[{"type":"MX","name":"@","content":".","priority":0},{"type":"TXT","name":"a","content":"."}]}"#;
        let v: Value = serde_json::from_slice(&for_validation(b)).unwrap();
        assert_eq!(v["posts"][0]["content"], STAND_IN);
        assert_eq!(v["posts"][1]["content"], ".");
        let b = br#"{"type":"SRV","name":"_x._tcp","data":{"priority":0,"weight":0,"port":0,"target":"."}}"#;
        let v: Value = serde_json::from_slice(&for_validation(b)).unwrap();
        assert_eq!(v["data"]["target"], STAND_IN);
        let plain = br#"{"type":"MX","name":"@","content":"mx.example.com","priority":1}"#;
        assert!(matches!(for_validation(plain), Cow::Borrowed(_)));
    }
}
