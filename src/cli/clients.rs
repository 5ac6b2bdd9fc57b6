use clap::{Subcommand, ValueEnum};

use super::print_json;
use crate::error::Error;
use crate::protocol::client::ClientRequest;
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::clients::{self, ClientView};
use crate::service::Page;
use crate::storage::Db;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenFormatArg {
    Opaque,
    Jwt,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client and print it, with its secret (shown this once).
    Create {
        /// Name shown to users on the consent page.
        #[arg(long)]
        name: String,
        /// client_id to use instead of a generated one.
        #[arg(long)]
        id: Option<String>,
        /// Secret to use instead of a generated one.
        #[arg(long)]
        secret: Option<Secret<String>>,
        /// A public client (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// An exact redirect URI; repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// authorization_code, refresh_token, client_credentials or password; repeat for
        /// several. Default: authorization_code and refresh_token.
        #[arg(long = "grant-type", value_name = "G")]
        grant_types: Vec<String>,
        /// Space-separated scopes the client may be granted. Default: "openid".
        #[arg(long)]
        scope: Option<String>,
        /// Username of the user who owns the client.
        #[arg(long, value_name = "USERNAME")]
        owner: Option<String>,
        /// First-party client: users are not asked for consent.
        #[arg(long)]
        skip_consent: bool,
        #[arg(long, value_enum, default_value = "opaque")]
        access_token_format: TokenFormatArg,
    },
    /// List clients as a JSON array (never secrets).
    List,
    /// Print one client.
    Get { id: String },
    /// Delete a client with its tokens.
    Delete { id: String },
    /// Replace a confidential client's secret and print the new one.
    RotateSecret { id: String },
}

pub fn run(db: &Db, command: ClientsCommand) -> Result<(), Error> {
    match command {
        ClientsCommand::Create {
            name,
            id,
            secret,
            public,
            redirect_uris,
            grant_types,
            scope,
            owner,
            skip_consent,
            access_token_format,
        } => {
            let request = ClientRequest {
                client_id: id,
                client_secret: secret,
                client_name: Some(name),
                redirect_uris: Some(redirect_uris),
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                scope,
                client_type: public.then(|| "public".to_owned()),
                owner,
                skip_consent: Some(skip_consent),
                access_token_format: Some(
                    match access_token_format {
                        TokenFormatArg::Opaque => "opaque",
                        TokenFormatArg::Jwt => "jwt",
                    }
                    .to_owned(),
                ),
                ..Default::default()
            };
            let draft = request.validate()?;
            print_json(&clients::create(
                db,
                None,
                &Default::default(),
                draft,
                time::now(),
            )?)
        }
        ClientsCommand::List => {
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let page = Page::new(Some(Page::MAX_LIMIT), Some(offset))
                    .map_err(Error::InvalidRequest)?;
                let (batch, total) = clients::list(db, None, None, page)?;
                offset += batch.len() as i64;
                let done = batch.is_empty() || offset >= total;
                all.extend(batch.iter().map(|c| ClientView::new(c, None)));
                if done {
                    break;
                }
            }
            print_json(&all)
        }
        ClientsCommand::Get { id } => {
            print_json(&ClientView::new(&clients::get(db, None, &id)?, None))
        }
        ClientsCommand::Delete { id } => {
            clients::delete(db, None, &id)?;
            print_json(&serde_json::json!({ "deleted": id }))
        }
        ClientsCommand::RotateSecret { id } => {
            let secret = clients::rotate_secret(db, None, &id, time::now())?;
            print_json(&serde_json::json!({ "client_id": id, "client_secret": secret }))
        }
    }
}
