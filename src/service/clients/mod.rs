//! Registering and managing clients.

mod logos;
mod views;

pub use logos::{delete_logo, logo, set_logo, sniff_image, MAX_LOGO_BYTES};
pub use views::{AppCard, ClientView, CARD_REDIRECT_URI_BYTES, CARD_URL_BYTES};

use super::Page;
use crate::error::{Error, Result};
use crate::protocol::client::{
    validate_client_id, Client, ClientDraft, ClientRequest, ClientType, Quotas,
};
use crate::protocol::merge_patch;
use crate::protocol::principal::{check_self_service, Principal, Role};
use crate::protocol::secret::{self, Secret};
use crate::protocol::time::Timestamp;
use crate::storage::clients::{self as store, ClientWrite};
use crate::storage::{users, Db};

/// Who asks: `None` is the operator at the command line, who may do anything.
pub type Actor<'a> = Option<&'a Principal>;

/// A registration by a user who is not an admin may only hold what such a user may set.
fn check_metadata(actor: Actor<'_>, draft: &ClientDraft) -> Result<()> {
    match actor.map(Principal::role) {
        Some(Role::User) => check_self_service(draft).map_err(Error::OAuth),
        _ => Ok(()),
    }
}

fn check_access(actor: Actor<'_>, client: &Client) -> Result<()> {
    match actor {
        Some(p) if !p.may_manage(client.owner.as_deref()) => {
            Err(Error::not_found("client", &client.id))
        }
        _ => Ok(()),
    }
}

/// Users who are not admins are held to the quotas; admins and the system are trusted
/// to register what they need.
fn held_to_quotas(actor: Actor<'_>) -> bool {
    matches!(actor.map(Principal::role), Some(Role::User))
}

/// The owner a registration gets: users who are not admins always own what they register.
fn effective_owner(actor: Actor<'_>, requested: Option<String>) -> Result<Option<String>> {
    match actor.and_then(|p| p.forced_owner()) {
        Some(me) if requested.as_deref().is_some_and(|r| r != me) => Err(Error::InvalidRequest(
            "owner: you may only register clients you own".into(),
        )),
        Some(me) => Ok(Some(me.to_owned())),
        None => Ok(requested),
    }
}

fn owner_id(db: &Db, owner: Option<&str>) -> Result<Option<String>> {
    match owner {
        None => Ok(None),
        Some(name) => users::id_of(&mut *db.conn()?, name)?
            .map(Some)
            .ok_or_else(|| {
                Error::InvalidRequest(format!("owner: there is no user named {name:?}"))
            }),
    }
}

fn secret_for(draft: &ClientDraft) -> Option<Secret<String>> {
    match draft.client_type {
        ClientType::Public => None,
        ClientType::Confidential => Some(
            draft
                .secret
                .clone()
                .unwrap_or_else(|| Secret::new(secret::random_string(32))),
        ),
    }
}

/// What is stored for a registration: the secret only as its hash, the owner by id.
fn client_write<'a>(
    db: &Db,
    id: &'a str,
    draft: &'a ClientDraft,
    secret: &Option<Secret<String>>,
) -> Result<ClientWrite<'a>> {
    let secret_hash = secret
        .as_ref()
        .map(|s| secret::hash_secret(s.expose_str()))
        .transpose()
        .map_err(Error::internal)?;
    Ok(ClientWrite {
        id,
        draft,
        secret_hash,
        owner_id: owner_id(db, draft.owner.as_deref())?,
    })
}

/// Registers a client. A confidential client without a chosen secret gets a generated
/// one, which is returned here and never again.
pub fn create(
    db: &Db,
    actor: Actor<'_>,
    quotas: &Quotas,
    mut draft: ClientDraft,
    now: Timestamp,
) -> Result<ClientView> {
    draft.owner = effective_owner(actor, draft.owner.take())?;
    check_metadata(actor, &draft)?;
    let id = draft.id.clone().unwrap_or_else(secret::new_id);
    let secret = secret_for(&draft);
    let write = client_write(db, &id, &draft, &secret)?;
    let most_owned = held_to_quotas(actor).then_some(quotas.clients_per_owner);
    store::insert(&mut *db.conn()?, &write, most_owned, now)?;
    Ok(ClientView::new(&get(db, None, &id)?, secret))
}

/// Replaces a registration (PUT). The request must name every field whose default would
/// change the client unasked ([`ClientRequest::missing_for_replacement`]). A secret is
/// returned when one was given or had to be made (a public client turned confidential);
/// otherwise the stored secret stays.
pub fn replace(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    request: ClientRequest,
    now: Timestamp,
) -> Result<ClientView> {
    if request
        .client_id
        .as_deref()
        .is_some_and(|given| given != id)
    {
        return Err(Error::InvalidRequest(
            "client_id in the body differs from the one in the path".into(),
        ));
    }
    let current = get(db, actor, id)?;
    let owner_forced = actor.and_then(|p| p.forced_owner()).is_some();
    let missing = request.missing_for_replacement(&current, !owner_forced);
    if !missing.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "a replacement names every field it would otherwise reset; missing: {} (PATCH changes only the fields sent)",
            missing.join(", ")
        )));
    }
    store_replacement(db, actor, &current, request.validate()?, now)
}

/// The largest registration, as JSON: what one request body may carry.
pub const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

/// Changes only the fields `patch` names (JSON Merge Patch, RFC 7396): the patch is
/// applied to the registration as GET shows it, and the result is checked as a whole.
pub fn patch(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    patch: serde_json::Value,
    now: Timestamp,
) -> Result<ClientView> {
    let Some(members) = patch.as_object() else {
        return Err(Error::InvalidRequest(
            "a merge patch of a client is a JSON object".into(),
        ));
    };
    let known = merge_patch::field_names::<ClientRequest>();
    for (name, value) in members {
        let shown: String = name.chars().take(40).collect();
        if !known.contains(&name.as_str()) {
            return Err(Error::InvalidRequest(format!("unknown field {shown:?}")));
        }
        // Each member alone, so that the refusal can name it.
        let alone = serde_json::json!({ name: value });
        if let Err(e) = serde_json::from_value::<ClientRequest>(alone) {
            let why: String = e.to_string().chars().take(120).collect();
            return Err(Error::InvalidRequest(format!("{shown}: {why}")));
        }
    }
    let current = get(db, actor, id)?;
    let mut document =
        serde_json::to_value(ClientView::new(&current, None)).map_err(Error::internal)?;
    merge_patch::apply(&mut document, patch);
    // One field at a time, a registration could grow past what one request may carry.
    let size = serde_json::to_vec(&document).map_or(usize::MAX, |d| d.len());
    if size > MAX_REGISTRATION_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a registration may be at most {} KiB as JSON",
            MAX_REGISTRATION_BYTES / 1024
        )));
    }
    let request: ClientRequest = serde_json::from_value(document).map_err(|e| {
        let why: String = e.to_string().chars().take(200).collect();
        Error::InvalidRequest(format!("invalid client: {why}"))
    })?;
    if request.client_id.as_deref() != Some(id) {
        return Err(Error::InvalidRequest("client_id cannot be changed".into()));
    }
    store_replacement(db, actor, &current, request.validate()?, now)
}

fn store_replacement(
    db: &Db,
    actor: Actor<'_>,
    current: &Client,
    mut draft: ClientDraft,
    now: Timestamp,
) -> Result<ClientView> {
    let id = current.id.as_str();
    draft.owner = match actor.and_then(|p| p.forced_owner()) {
        Some(_) => effective_owner(actor, draft.owner.take().or(current.owner.clone()))?,
        None => draft.owner.take(),
    };
    check_metadata(actor, &draft)?;
    let keep_secret = draft.client_type == ClientType::Confidential
        && current.client_type == ClientType::Confidential
        && draft.secret.is_none();
    let secret = if keep_secret {
        None
    } else {
        secret_for(&draft)
    };
    let write = client_write(db, id, &draft, &secret)?;
    let checked_owner = current.owner_id.as_deref();
    if !db.change(|tx| store::replace(tx, &write, keep_secret, checked_owner, now))? {
        return Err(Error::not_found("client", id));
    }
    Ok(ClientView::new(&get(db, None, id)?, secret))
}

pub fn get(db: &Db, actor: Actor<'_>, id: &str) -> Result<Client> {
    validate_client_id(id).map_err(|_| Error::not_found("client", id))?;
    let client = store::find(&mut *db.conn()?, id)?
        .map(|s| s.client)
        .ok_or_else(|| Error::not_found("client", id))?;
    check_access(actor, &client)?;
    Ok(client)
}

/// A client for a protocol request (an authorization request, a flow going on), from
/// memory when read recently: a change made in this process counts at once, one made by
/// another within [`crate::storage::memo::MEMO_BOUND`], as for token requests.
pub fn for_protocol(db: &Db, id: &str) -> Result<Client> {
    validate_client_id(id).map_err(|_| Error::not_found("client", id))?;
    store::find_remembered(db, id)?
        .map(|s| s.client)
        .ok_or_else(|| Error::not_found("client", id))
}

pub fn list(
    db: &Db,
    actor: Actor<'_>,
    owner: Option<&str>,
    page: Page,
) -> Result<(Vec<Client>, i64)> {
    let owner = match actor.and_then(|p| p.forced_owner()) {
        Some(me) if owner.is_some_and(|o| o != me) => return Ok((Vec::new(), 0)),
        Some(me) => Some(me),
        None => owner,
    };
    store::list(&mut *db.conn()?, owner, page.limit, page.offset)
}

pub fn delete(db: &Db, actor: Actor<'_>, id: &str) -> Result<()> {
    get(db, actor, id)?;
    if !db.change(|tx| store::delete(tx, id))? {
        return Err(Error::not_found("client", id));
    }
    Ok(())
}

/// Issues a new secret for a confidential client; the old one stops working at once.
pub fn rotate_secret(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    now: Timestamp,
) -> Result<Secret<String>> {
    let client = get(db, actor, id)?;
    if client.client_type == ClientType::Public {
        return Err(Error::InvalidRequest(
            "a public client has no secret to rotate".into(),
        ));
    }
    let secret = secret::random_string(32);
    let hash = secret::hash_secret(&secret).map_err(Error::internal)?;
    if !db.change(|tx| store::set_secret_hash(tx, id, &hash, now))? {
        return Err(Error::not_found("client", id));
    }
    Ok(Secret::new(secret))
}

pub const MAX_CARDS: usize = 100;

/// Public cards for the given ids, skipping unknown ones.
pub fn cards(db: &Db, ids: &[String]) -> Result<Vec<Client>> {
    if ids.len() > MAX_CARDS {
        return Err(Error::InvalidRequest(format!(
            "at most {MAX_CARDS} ids at once"
        )));
    }
    let ids: Vec<String> = ids
        .iter()
        .filter(|id| validate_client_id(id).is_ok())
        .cloned()
        .collect();
    store::find_many(&mut *db.conn()?, &ids)
}
