//! Client logos: uploaded images only, recognised by their content.

use super::{get, held_to_quotas, Actor};
use crate::error::{Error, Result};
use crate::protocol::client::{validate_client_id, Quotas};
use crate::protocol::time::Timestamp;
use crate::storage::{logos, Db};

pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// Recognises PNG, JPEG and GIF by their signature. Anything else, SVG included (it can
/// carry script), is refused whatever its name or declared type.
pub fn sniff_image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

pub fn set_logo(
    db: &Db,
    actor: Actor<'_>,
    quotas: &Quotas,
    id: &str,
    data: &[u8],
    now: Timestamp,
) -> Result<()> {
    get(db, actor, id)?;
    if data.len() > MAX_LOGO_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a logo may be at most {} KiB",
            MAX_LOGO_BYTES / 1024
        )));
    }
    let content_type = sniff_image(data).ok_or_else(|| {
        Error::UnsupportedMediaType("the logo must be a PNG, JPEG or GIF image".into())
    })?;
    let budget = held_to_quotas(actor).then_some(quotas.logo_bytes_per_owner);
    if !db.change(|tx| logos::put_logo(tx, id, content_type, data, budget, now))? {
        return Err(Error::not_found("client", id));
    }
    Ok(())
}

pub fn delete_logo(db: &Db, actor: Actor<'_>, id: &str) -> Result<()> {
    get(db, actor, id)?;
    if !db.change(|tx| logos::delete_logo(tx, id))? {
        return Err(Error::NotFound(format!("client {id:?} has no logo")));
    }
    Ok(())
}

pub fn logo(db: &Db, id: &str) -> Result<logos::Logo> {
    validate_client_id(id).map_err(|_| Error::not_found("client", id))?;
    logos::logo(&mut *db.conn()?, id)?
        .ok_or_else(|| Error::NotFound(format!("client {id:?} has no logo")))
}

#[cfg(test)]
mod tests {
    use super::sniff_image;

    #[test]
    fn images_are_recognised_by_content_only() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(
            sniff_image(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(sniff_image(b"<html>\x89PNG"), None);
    }
}
