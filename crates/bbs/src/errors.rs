//! Small helpers over Diego's error kinds (compared by kind, as Diego does).

use models::BbsError;

pub fn is_not_found(e: &BbsError) -> bool {
    e.same_kind(&BbsError::resource_not_found())
}

pub fn is_resource_exists(e: &BbsError) -> bool {
    e.same_kind(&BbsError::resource_exists())
}

pub fn is_cannot_be_removed(e: &BbsError) -> bool {
    e.same_kind(&BbsError::cannot_be_removed())
}

pub fn is_cannot_be_unclaimed(e: &BbsError) -> bool {
    e.same_kind(&BbsError::cannot_be_unclaimed())
}

pub fn is_unrecoverable(e: &BbsError) -> bool {
    e.same_kind(&BbsError::unrecoverable(""))
}

/// An UnknownError carrying another error's text (Diego's ConvertError of
/// a non-BBS error).
pub fn unknown(err: impl std::fmt::Display) -> BbsError {
    let mut e = BbsError::unknown();
    e.message = err.to_string();
    e
}
