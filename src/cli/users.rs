use clap::{ArgGroup, Subcommand};

use super::{print_json, read_password_stdin};
use crate::error::Error;
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::users::{self, NewUser};
use crate::service::Page;
use crate::storage::Db;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user and print it.
    #[command(group(ArgGroup::new("pw").required(true).args(["password_stdin", "password"])))]
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Full name, shown to apps with the profile scope.
        #[arg(long)]
        name: Option<String>,
        /// May manage every client and see every grant.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The password (visible in the process list; prefer --password-stdin).
        #[arg(long, value_name = "P")]
        password: Option<Secret<String>>,
    },
    /// List users as a JSON array.
    List,
    /// Delete a user with their grants and tokens.
    Delete { username: String },
    /// Sign a user out of every browser (her sessions end at once).
    EndSessions { username: String },
    /// Set a user's password, read from standard input (this also signs her out
    /// everywhere).
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

pub fn run(db: &Db, command: UsersCommand) -> Result<(), Error> {
    match command {
        UsersCommand::Create {
            username,
            email,
            name,
            admin,
            password_stdin,
            password,
        } => {
            let password = match (password, password_stdin) {
                (Some(p), _) => p,
                (None, _) => Secret::new(read_password_stdin()?),
            };
            let user = NewUser {
                username,
                email,
                name,
                password,
                admin,
                phone_number: None,
                address: None,
            };
            print_json(&users::create(db, user, time::now())?)
        }
        UsersCommand::List => {
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let page = Page::new(Some(Page::MAX_LIMIT), Some(offset))
                    .map_err(Error::InvalidRequest)?;
                let (batch, total) = users::list(db, page)?;
                offset += batch.len() as i64;
                let done = batch.is_empty() || offset >= total;
                all.extend(batch);
                if done {
                    break;
                }
            }
            print_json(&all)
        }
        UsersCommand::Delete { username } => {
            users::delete(db, &username)?;
            print_json(&serde_json::json!({ "deleted": username }))
        }
        UsersCommand::EndSessions { username } => {
            let ended = users::end_sessions(db, &username)?;
            print_json(&serde_json::json!({ "username": username, "sessions_ended": ended }))
        }
        UsersCommand::SetPassword { username, .. } => {
            let password = read_password_stdin()?;
            users::set_password(db, &username, &password, time::now())?;
            print_json(&serde_json::json!({ "username": username, "password_changed": true }))
        }
    }
}
