//! RFC 8785 (JCS) canonical JSON, the form every signature in the toolbox covers.
//!
//! Written directly over `serde_json::Value` rather than through a generic
//! serializer: signing and verifying canonicalize every line, and sorting keys by
//! comparing their UTF-16 code units in place (no re-parsing, no key buffers) keeps
//! canonicalization a small fraction of the ed25519 cost.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// The RFC 8785 canonical form of `value`: keys sorted by UTF-16 code units, no
/// whitespace, ECMAScript number formatting, minimal string escapes.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_value(value, &mut out);
    out
}

/// The canonical form of `object` without the top-level keys for which `skip` is
/// true (how a signature leaves out its own `sig` field).
pub fn object_to_vec(object: &Map<String, Value>, skip: impl Fn(&str) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_object(object, &skip, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, &|_| false, out),
    }
}

fn write_object(map: &Map<String, Value>, skip: &dyn Fn(&str) -> bool, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| !skip(k)).collect();
    entries.sort_unstable_by(|a, b| utf16_order(a.0, b.0));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_value(value, out);
    }
    out.push(b'}');
}

/// RFC 8785 sorts property names by their UTF-16 code units, not by code points.
fn utf16_order(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// JSON string escaping as RFC 8785 wants it: `"` and `\`, the short forms
/// `\b \t \n \f \r`, other control characters as lowercase `\u00xx`, and
/// everything else (including `/` and non-ASCII) as itself.
fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Numbers as ECMAScript prints them: integers that a double holds exactly as
/// integers, everything else through the shortest round-trip double form.
fn write_number(n: &Number, out: &mut Vec<u8>) {
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|&u| u <= EXACT) {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64().filter(|&i| i.unsigned_abs() <= EXACT) {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if f == 0.0 {
            out.push(b'0');
        } else {
            let mut buf = ryu_js::Buffer::new();
            out.extend_from_slice(buf.format(f).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        String::from_utf8(to_vec(&value)).unwrap()
    }

    /// RFC 8785 section 3.2.2: whitespace, literals, numbers and string escapes.
    #[test]
    fn rfc8785_section_3_2_2_example() {
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(canon(input), expected);
    }

    /// RFC 8785 section 3.2.3: properties sorted by UTF-16 code units, so the emoji
    /// (a surrogate pair, 0xD83D…) sorts before U+FB33.
    #[test]
    fn rfc8785_section_3_2_3_sorting() {
        let input = r#"{
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\ud83d\ude00": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let value: Value = serde_json::from_str(&canon(input)).unwrap();
        let order: Vec<&str> = value
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
    }

    /// RFC 8785 appendix B: IEEE 754 doubles and their ECMAScript serialization.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let cases: [(u64, &str); 23] = [
            (0x0000_0000_0000_0000, "0"),
            (0x8000_0000_0000_0000, "0"),
            (0x0000_0000_0000_0001, "5e-324"),
            (0x8000_0000_0000_0001, "-5e-324"),
            (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
            (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
            (0x4340_0000_0000_0000, "9007199254740992"),
            (0xc340_0000_0000_0000, "-9007199254740992"),
            (0x4430_0000_0000_0000, "295147905179352830000"),
            (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
            (0x44b5_2d02_c7e1_4af6, "1e+23"),
            (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
            (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
            (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
            (0x444b_1ae4_d6e2_ef50, "1e+21"),
            (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
            (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
            (0x41b3_de43_5555_5553, "333333333.3333332"),
            (0x41b3_de43_5555_5554, "333333333.33333325"),
            (0x41b3_de43_5555_5555, "333333333.3333333"),
            (0x41b3_de43_5555_5556, "333333333.3333334"),
            (0x41b3_de43_5555_5557, "333333333.33333343"),
            (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
        ];
        for (bits, expected) in cases {
            let got = String::from_utf8(to_vec(&json!(f64::from_bits(bits)))).unwrap();
            assert_eq!(got, expected, "bits {bits:016x}");
        }
        let big = String::from_utf8(to_vec(&json!(f64::from_bits(0x4314_3ff3_c1cb_0959)))).unwrap();
        assert_eq!(big, "1424953923781206.2");
    }

    #[test]
    fn control_characters_use_short_or_lowercase_escapes() {
        let value = json!("\u{1}\u{8}\u{c}\u{1f}\u{7f}/é");
        assert_eq!(
            String::from_utf8(to_vec(&value)).unwrap(),
            "\"\\u0001\\b\\f\\u001f\u{7f}/é\""
        );
    }

    #[test]
    fn large_integers_are_printed_as_doubles() {
        assert_eq!(
            to_vec(&json!(9_007_199_254_740_993_u64)),
            b"9007199254740992"
        );
        assert_eq!(to_vec(&json!(-5)), b"-5");
        assert_eq!(to_vec(&json!(1e21)), b"1e+21");
    }

    #[test]
    fn skipped_keys_are_left_out_at_the_top_level_only() {
        let Value::Object(map) = json!({"sig": 1, "a": {"sig": 2}}) else {
            panic!()
        };
        assert_eq!(object_to_vec(&map, |k| k == "sig"), br#"{"a":{"sig":2}}"#);
    }

    #[test]
    fn nested_objects_are_sorted_too() {
        assert_eq!(
            canon(r#"{"b":{"z":1,"a":[{"y":2,"x":1}]},"a":0}"#),
            r#"{"a":0,"b":{"a":[{"x":1,"y":2}],"z":1}}"#
        );
    }
}
