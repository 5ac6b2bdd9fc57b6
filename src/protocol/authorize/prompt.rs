//! `prompt` and `max_age` (OpenID Connect Core §3.1.2.1).

use super::Prompt;
use crate::protocol::error::OAuthError;

/// `prompt` (OpenID Connect Core §3.1.2.1): known values, each once, `none` alone.
pub fn parse_prompt(value: Option<&str>) -> Result<Vec<Prompt>, OAuthError> {
    let mut prompt = Vec::new();
    for value in value.unwrap_or("").split(' ').filter(|p| !p.is_empty()) {
        let p = match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            _ => {
                return Err(OAuthError::invalid_request(
                    "prompt is not supported; use none, login, consent or select_account",
                ))
            }
        };
        if !prompt.contains(&p) {
            prompt.push(p);
        }
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// `max_age` (OpenID Connect Core §3.1.2.1): a whole, non-negative number of seconds.
pub fn parse_max_age(value: Option<&str>) -> Result<Option<i64>, OAuthError> {
    value
        .map(|text| {
            text.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                OAuthError::invalid_request("max_age must be a whole number of seconds")
            })
        })
        .transpose()
}
