//! The SBOM of a file that is not an image (a TensorRT engine, ONNX
//! weights): a CycloneDX ML-BOM whose subject is the model, by name,
//! digest and size, with the model card the training service wrote.

use super::document::{Bom, ModelFacts, Subject};
use serde_json::{Map, Value};
use std::time::SystemTime;

/// A model card is a few KiB of JSON; far more is not one.
pub const MAX_MODEL_CARD: u64 = 1 << 20;
/// The members CycloneDX 1.6 allows in a `modelCard`.
const MODEL_CARD_MEMBERS: [&str; 5] = [
    "bom-ref",
    "modelParameters",
    "quantitativeAnalysis",
    "considerations",
    "properties",
];

/// Checks a `--model-card` file: a JSON object with only the members the
/// CycloneDX schema defines. The sentence names what is wrong.
pub fn parse_model_card(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|err| format!("is not JSON: {err}"))?;
    let Value::Object(card) = value else {
        return Err("is not a JSON object (a CycloneDX modelCard)".into());
    };
    if let Some(unknown) = card
        .keys()
        .find(|key| !MODEL_CARD_MEMBERS.contains(&key.as_str()))
    {
        return Err(format!(
            "has the member {unknown:?}, which a CycloneDX 1.6 modelCard does not define (it may \
             have {})",
            MODEL_CARD_MEMBERS.join(", ")
        ));
    }
    Ok(card)
}

/// The document for one model file.
pub fn model_bom(model: ModelFacts, created: SystemTime) -> Bom {
    Bom::new(Subject::Model(model), Vec::new(), created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_card_is_an_object_of_known_members() {
        let card = parse_model_card(br#"{"modelParameters": {"task": "detection"}}"#).unwrap();
        assert!(card.contains_key("modelParameters"));
        assert!(
            parse_model_card(b"[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(parse_model_card(b"{").unwrap_err().contains("not JSON"));
        let unknown = parse_model_card(br#"{"accuracy": 0.9}"#).unwrap_err();
        assert!(unknown.contains("\"accuracy\""), "{unknown}");
    }
}
