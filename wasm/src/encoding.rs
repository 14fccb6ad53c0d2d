//! Inputs from JS: PEM text or DER bytes, and the fields of option objects.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{MeshError, Result};

#[wasm_bindgen]
extern "C" {
    /// `string | Uint8Array`: PEM text or DER bytes.
    #[wasm_bindgen(typescript_type = "PemOrDer")]
    pub type PemOrDer;
}

/// The bytes of PEM text or of a `Uint8Array` (a Node `Buffer` is one).
pub(crate) fn bytes(input: &JsValue) -> Result<Vec<u8>> {
    if let Some(s) = input.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = input.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if let Some(b) = input.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(b).to_vec());
    }
    Err(MeshError::malformed(
        "expected PEM text (a string) or DER bytes (a Uint8Array)",
    ))
}

pub(crate) fn pem_or_der(input: &PemOrDer) -> Result<Vec<u8>> {
    bytes(input.as_ref())
}

/// Reads the fields of an options object; `undefined` or `null` reads as empty.
pub(crate) struct Options<'a> {
    obj: Option<&'a JsValue>,
    what: &'static str,
}

impl<'a> Options<'a> {
    pub(crate) fn new(obj: &'a JsValue, what: &'static str) -> Result<Self> {
        if obj.is_undefined() || obj.is_null() {
            return Ok(Options { obj: None, what });
        }
        if !obj.is_object() {
            return Err(MeshError::malformed(format!("{what} must be an object")));
        }
        Ok(Options {
            obj: Some(obj),
            what,
        })
    }

    fn get(&self, key: &str) -> Result<Option<JsValue>> {
        let Some(obj) = self.obj else { return Ok(None) };
        let v = Reflect::get(obj, &JsValue::from_str(key))
            .map_err(|_| MeshError::malformed(format!("{}.{key} cannot be read", self.what)))?;
        Ok(if v.is_undefined() || v.is_null() {
            None
        } else {
            Some(v)
        })
    }

    fn wrong(&self, key: &str, ty: &str) -> MeshError {
        MeshError::malformed(format!("{}.{key} must be {ty}", self.what))
    }

    pub(crate) fn value(&self, key: &str) -> Result<Option<JsValue>> {
        self.get(key)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a string")),
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>> {
        let Some(v) = self.get(key)? else {
            return Ok(Vec::new());
        };
        if !Array::is_array(&v) {
            return Err(self.wrong(key, "an array of strings"));
        }
        Array::from(&v)
            .iter()
            .map(|x| {
                x.as_string()
                    .ok_or_else(|| self.wrong(key, "an array of strings"))
            })
            .collect()
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a finite number")),
        }
    }

    /// A whole number in `0..=max`.
    pub(crate) fn integer(&self, key: &str, max: u64) -> Result<Option<u64>> {
        match self.number(key)? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= max as f64 => Ok(Some(n as u64)),
            Some(_) => Err(self.wrong(key, &format!("a whole number from 0 to {max}"))),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a boolean")),
        }
    }
}

/// Lowercase hex without separators (the form the core prints serials and fingerprints in).
pub(crate) fn hex(bytes: &[u8]) -> String {
    meshtls_core::encoding::hex_encode(bytes)
}
