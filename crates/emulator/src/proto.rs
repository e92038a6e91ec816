//! Decoding of the few Kubernetes protobuf bodies typed clients send. Imperative commands
//! (`kubectl create namespace|configmap|secret|serviceaccount`) POST protobuf and there is
//! no fallback to JSON, so without this they could not work at all; Helm's release storage
//! deletes its Secrets with protobuf `DeleteOptions`. Other kinds are refused with 415 and
//! a hint to use a manifest.

use base64::Engine as _;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Splits a message into (field number, value) pairs; `None` on malformed input.
fn fields(b: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let tag = varint(b, &mut pos)?;
        let value = match tag & 7 {
            0 => Wire::Varint(varint(b, &mut pos)?),
            1 => {
                pos = pos.checked_add(8).filter(|p| *p <= b.len())?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= b.len())?;
                let s = &b[pos..end];
                pos = end;
                Wire::Bytes(s)
            }
            5 => {
                pos = pos.checked_add(4).filter(|p| *p <= b.len())?;
                Wire::Fixed
            }
            _ => return None,
        };
        out.push((tag >> 3, value));
    }
    Some(out)
}

#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    MapStr,
    MapBytes,
    ListStr,
    Msg(&'static [(u64, &'static str, Ty)]),
    ListMsg(&'static [(u64, &'static str, Ty)]),
}

const OWNER_REF: &[(u64, &str, Ty)] = &[
    (1, "kind", Ty::Str),
    (3, "name", Ty::Str),
    (4, "uid", Ty::Str),
    (5, "apiVersion", Ty::Str),
    (6, "controller", Ty::Bool),
    (7, "blockOwnerDeletion", Ty::Bool),
];

const OBJECT_META: &[(u64, &str, Ty)] = &[
    (1, "name", Ty::Str),
    (2, "generateName", Ty::Str),
    (3, "namespace", Ty::Str),
    (5, "uid", Ty::Str),
    (6, "resourceVersion", Ty::Str),
    (11, "labels", Ty::MapStr),
    (12, "annotations", Ty::MapStr),
    (13, "ownerReferences", Ty::ListMsg(OWNER_REF)),
    (14, "finalizers", Ty::ListStr),
];

const NAME_REF: &[(u64, &str, Ty)] = &[(1, "name", Ty::Str)];

fn schema(api_version: &str, kind: &str) -> Option<&'static [(u64, &'static str, Ty)]> {
    const CONFIG_MAP: &[(u64, &str, Ty)] = &[
        (1, "metadata", Ty::Msg(OBJECT_META)),
        (2, "data", Ty::MapStr),
        (3, "binaryData", Ty::MapBytes),
        (4, "immutable", Ty::Bool),
    ];
    const SECRET: &[(u64, &str, Ty)] = &[
        (1, "metadata", Ty::Msg(OBJECT_META)),
        (2, "data", Ty::MapBytes),
        (3, "type", Ty::Str),
        (4, "stringData", Ty::MapStr),
        (5, "immutable", Ty::Bool),
    ];
    const NAMESPACE: &[(u64, &str, Ty)] = &[
        (1, "metadata", Ty::Msg(OBJECT_META)),
        (2, "spec", Ty::Msg(&[(1, "finalizers", Ty::ListStr)])),
    ];
    const SERVICE_ACCOUNT: &[(u64, &str, Ty)] = &[
        (1, "metadata", Ty::Msg(OBJECT_META)),
        (3, "imagePullSecrets", Ty::ListMsg(NAME_REF)),
        (4, "automountServiceAccountToken", Ty::Bool),
    ];
    const DELETE_OPTIONS: &[(u64, &str, Ty)] = &[
        (1, "gracePeriodSeconds", Ty::Int),
        (
            2,
            "preconditions",
            Ty::Msg(&[(1, "uid", Ty::Str), (2, "resourceVersion", Ty::Str)]),
        ),
        (3, "orphanDependents", Ty::Bool),
        (4, "propagationPolicy", Ty::Str),
        (5, "dryRun", Ty::ListStr),
    ];
    match (api_version, kind) {
        // Sent as `meta.k8s.io/v1` or as the resource's own group version.
        (_, "DeleteOptions") => Some(DELETE_OPTIONS),
        ("v1", "ConfigMap") => Some(CONFIG_MAP),
        ("v1", "Secret") => Some(SECRET),
        ("v1", "Namespace") => Some(NAMESPACE),
        ("v1", "ServiceAccount") => Some(SERVICE_ACCOUNT),
        _ => None,
    }
}

fn text(b: &[u8]) -> Option<Value> {
    std::str::from_utf8(b).ok().map(|s| json!(s))
}

fn map_entry(b: &[u8], bytes_value: bool) -> Option<(String, Value)> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, w) in fields(b)? {
        match (n, w) {
            (1, Wire::Bytes(s)) => k = std::str::from_utf8(s).ok()?.to_string(),
            (2, Wire::Bytes(s)) if bytes_value => {
                v = json!(base64::engine::general_purpose::STANDARD.encode(s));
            }
            (2, Wire::Bytes(s)) => v = text(s)?,
            _ => {}
        }
    }
    Some((k, v))
}

fn decode(b: &[u8], schema: &[(u64, &str, Ty)]) -> Option<Value> {
    let mut out = Map::new();
    for (n, w) in fields(b)? {
        let Some(&(_, name, ty)) = schema.iter().find(|(f, _, _)| *f == n) else {
            continue;
        };
        let name = name.to_string();
        match (ty, w) {
            (Ty::Str, Wire::Bytes(s)) => {
                out.insert(name, text(s)?);
            }
            (Ty::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            // Two's complement, as protobuf's int64.
            (Ty::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Ty::MapStr | Ty::MapBytes, Wire::Bytes(s)) => {
                let (k, v) = map_entry(s, matches!(ty, Ty::MapBytes))?;
                if let Value::Object(m) = out.entry(name).or_insert_with(|| json!({})) {
                    m.insert(k, v);
                }
            }
            (Ty::ListStr, Wire::Bytes(s)) => {
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(text(s)?);
                }
            }
            (Ty::Msg(inner), Wire::Bytes(s)) => {
                out.insert(name, decode(s, inner)?);
            }
            (Ty::ListMsg(inner), Wire::Bytes(s)) => {
                let v = decode(s, inner)?;
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(v);
                }
            }
            _ => {}
        }
    }
    Some(Value::Object(out))
}

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProtoError {
    Malformed,
    UnsupportedKind(String),
}

/// Turns a `application/vnd.kubernetes.protobuf` body into the equivalent JSON object.
pub(crate) fn to_json(body: &[u8]) -> Result<Value, ProtoError> {
    let inner = body.strip_prefix(MAGIC).ok_or(ProtoError::Malformed)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    for (n, w) in fields(inner).ok_or(ProtoError::Malformed)? {
        match (n, w) {
            (1, Wire::Bytes(tm)) => {
                for (m, v) in fields(tm).ok_or(ProtoError::Malformed)? {
                    if let Wire::Bytes(s) = v {
                        let s = String::from_utf8_lossy(s).into_owned();
                        match m {
                            1 => api_version = s,
                            2 => kind = s,
                            _ => {}
                        }
                    }
                }
            }
            (2, Wire::Bytes(r)) => raw = Some(r),
            _ => {}
        }
    }
    let schema = schema(&api_version, &kind)
        .ok_or_else(|| ProtoError::UnsupportedKind(format!("{api_version} {kind}")))?;
    let mut obj = decode(raw.unwrap_or_default(), schema).ok_or(ProtoError::Malformed)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(n << 3 | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_a_config_map_envelope() {
        let meta = [
            field(1, b"cm1"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let cm = [
            field(1, &meta),
            field(2, &[field(1, b"k"), field(2, b"v")].concat()),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &cm)].concat();
        let v = to_json(&body).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "cm1", "labels": {"app": "web"}}, "data": {"k": "v"},
                             "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    #[test]
    fn decodes_delete_options() {
        let type_meta = [field(1, b"meta.k8s.io/v1"), field(2, b"DeleteOptions")].concat();
        let options = [vec![1 << 3, 0], field(4, b"Background")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &options)].concat();
        assert_eq!(
            to_json(&body).unwrap(),
            json!({"gracePeriodSeconds": 0, "propagationPolicy": "Background",
                   "apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"})
        );
    }

    #[test]
    fn junk_and_unknown_kinds_are_errors() {
        assert_eq!(to_json(b"nope"), Err(ProtoError::Malformed));
        assert_eq!(to_json(b"k8s\0\x0a\x05"), Err(ProtoError::Malformed));
        let type_meta = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta)].concat();
        assert!(matches!(
            to_json(&body),
            Err(ProtoError::UnsupportedKind(_))
        ));
    }
}
