//! Image layers, and the legacy download user exclusive layers require.

use super::{Validate, ValidationError};
use crate::image_layer::{DigestAlgorithm, MediaType, Type as LayerType};
use crate::ImageLayer;

fn digest_algorithm_known(v: i32) -> bool {
    v == DigestAlgorithm::Sha256 as i32 || v == DigestAlgorithm::Sha512 as i32
}

fn media_type_known(v: i32) -> bool {
    v == MediaType::Tgz as i32 || v == MediaType::Tar as i32 || v == MediaType::Zip as i32
}

fn layer_type_known(v: i32) -> bool {
    v == LayerType::Shared as i32 || v == LayerType::Exclusive as i32
}

impl Validate for ImageLayer {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        let exclusive = self.layer_type == LayerType::Exclusive as i32;
        let no_algorithm = self.digest_algorithm == DigestAlgorithm::Invalid as i32;
        if self.url.is_empty() {
            errs.invalid_field("url");
        }
        if self.destination_path.is_empty() {
            errs.invalid_field("destination_path");
        }
        if !layer_type_known(self.layer_type) {
            errs.invalid_field("layer_type");
        }
        if !media_type_known(self.media_type) {
            errs.invalid_field("media_type");
        }
        if (!self.digest_value.is_empty() || exclusive) && no_algorithm {
            errs.invalid_field("digest_algorithm");
        }
        if (!no_algorithm || exclusive) && self.digest_value.is_empty() {
            errs.invalid_field("digest_value");
        }
        // Diego checks the algorithm a second time when a digest is given,
        // so a digest without algorithm reports digest_algorithm twice.
        if !self.digest_value.is_empty() && !digest_algorithm_known(self.digest_algorithm) {
            errs.invalid_field("digest_algorithm");
        }
        errs.into_result()
    }
}

/// Each bad layer adds "Invalid field: image_layer" and its problems; any
/// exclusive layer requires a legacy download user.
pub(crate) fn check_image_layers(
    errs: &mut ValidationError,
    layers: &[ImageLayer],
    legacy_download_user: &str,
) {
    let mut needs_user = false;
    for layer in layers {
        errs.nested("image_layer", layer.validate());
        if layer.layer_type == LayerType::Exclusive as i32 {
            needs_user = true;
        }
    }
    if needs_user && legacy_download_user.is_empty() {
        errs.invalid_field("legacy_download_user");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> ImageLayer {
        ImageLayer {
            url: "http://x/layer.tgz".into(),
            destination_path: "/tmp".into(),
            layer_type: LayerType::Shared as i32,
            media_type: MediaType::Tgz as i32,
            ..Default::default()
        }
    }

    fn exclusive() -> ImageLayer {
        ImageLayer {
            layer_type: LayerType::Exclusive as i32,
            digest_algorithm: DigestAlgorithm::Sha256 as i32,
            digest_value: "abc".into(),
            ..shared()
        }
    }

    fn msg(l: &ImageLayer) -> String {
        l.validate().unwrap_err().to_string()
    }

    #[test]
    fn valid_layers() {
        assert!(shared().validate().is_ok());
        assert!(exclusive().validate().is_ok());
        let mut errs = ValidationError::default();
        check_image_layers(&mut errs, &[shared(), exclusive()], "vcap");
        assert!(errs.is_empty());
    }

    #[test]
    fn invalid_layers() {
        assert_eq!(
            msg(&ImageLayer::default()),
            "Invalid field: url, Invalid field: destination_path, \
             Invalid field: layer_type, Invalid field: media_type"
        );
        let mut l = shared();
        l.digest_value = "abc".into();
        assert_eq!(
            msg(&l),
            "Invalid field: digest_algorithm, Invalid field: digest_algorithm"
        );
        let mut l = shared();
        l.digest_algorithm = DigestAlgorithm::Sha512 as i32;
        assert_eq!(msg(&l), "Invalid field: digest_value");
        let mut l = exclusive();
        l.digest_algorithm = 0;
        l.digest_value.clear();
        assert_eq!(
            msg(&l),
            "Invalid field: digest_algorithm, Invalid field: digest_value"
        );
        let mut l = shared();
        l.digest_algorithm = 9;
        l.digest_value = "abc".into();
        assert_eq!(msg(&l), "Invalid field: digest_algorithm");
    }

    #[test]
    fn exclusive_needs_legacy_download_user() {
        let mut errs = ValidationError::default();
        let mut bad = shared();
        bad.url.clear();
        check_image_layers(&mut errs, &[bad, exclusive()], "");
        assert_eq!(
            errs.to_string(),
            "Invalid field: image_layer, Invalid field: url, Invalid field: legacy_download_user"
        );
    }
}
