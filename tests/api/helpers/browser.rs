//! A scripted browser for the sign-in pages: a cookie jar, no automatic redirects, and
//! form filling by field name (the Chromium test drives the real pages by their labels).

use url::Url;

use crate::helpers::TestApp;

/// Where a walk through the pages ended.
#[derive(Debug)]
pub enum Landing {
    /// Sent back to the client: the full URL the browser was redirected to.
    Redirect(Url),
    /// A form_post response: the form's action and its fields.
    FormPost(String, Vec<(String, String)>),
    /// An error page shown by the server.
    ErrorPage(u16, String),
}

impl Landing {
    pub fn redirect(self) -> Url {
        match self {
            Landing::Redirect(url) => url,
            other => panic!("expected a redirect to the client, got {other:?}"),
        }
    }

    /// A parameter of the redirect's query (or fragment for fragment mode).
    pub fn param(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .chain(url::form_urlencoded::parse(
                url.fragment().unwrap_or("").as_bytes(),
            ))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// What the person does on the pages that come up.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub credentials: Option<(&'a str, &'a str)>,
    /// Allow (true) or deny; and tick "Remember this decision".
    pub consent: Option<(bool, bool)>,
}

pub const SIGNS_IN_AND_ALLOWS: Person<'static> = Person {
    credentials: Some(("ann", "ann's password")),
    consent: Some((true, true)),
};

pub struct Browser {
    pub http: reqwest::Client,
    base: String,
    /// Pages shown on the last walk: "login", "consent".
    pub seen: std::cell::RefCell<Vec<&'static str>>,
}

/// The session cookie a response sets, as `portcullis_session=VALUE`: what a thief
/// would copy.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("portcullis_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html_unescape(&html[start..end]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            seen: Default::default(),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        }
    }

    /// Follows a flow from `start` (GET) to wherever it leaves this server.
    pub async fn walk(&self, start: &str, person: Person<'_>) -> Landing {
        let response = self.http.get(start).send().await.unwrap();
        self.follow(response, person).await
    }

    pub async fn follow(&self, mut response: reqwest::Response, person: Person<'_>) -> Landing {
        self.seen.borrow_mut().clear();
        for _ in 0..20 {
            let status = response.status().as_u16();
            if response.status().is_redirection() {
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                let next = self.absolute(&location);
                if !next.starts_with(&self.base) {
                    return Landing::Redirect(Url::parse(&next).unwrap());
                }
                response = self.http.get(&next).send().await.unwrap();
                continue;
            }
            let path = response.url().path().to_owned();
            let html = response.text().await.unwrap();
            if status >= 400 {
                return Landing::ErrorPage(status, html);
            }
            if html.contains("document.forms[0].submit()") {
                let action = html
                    .split("action=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let fields = ["code", "state", "iss", "error", "error_description"]
                    .iter()
                    .filter_map(|n| field(&html, n).map(|v| (n.to_string(), v)))
                    .collect();
                return Landing::FormPost(html_unescape(action), fields);
            }
            match path.as_str() {
                "/login" => {
                    self.seen.borrow_mut().push("login");
                    let (username, password) =
                        person.credentials.expect("the flow asked to sign in");
                    let mut form = vec![
                        ("csrf_token", field(&html, "csrf_token").unwrap()),
                        ("username", username.to_owned()),
                        ("password", password.to_owned()),
                    ];
                    if let Some(flow) = field(&html, "flow") {
                        form.push(("flow", flow));
                    }
                    response = self
                        .http
                        .post(self.absolute("/login"))
                        .form(&form)
                        .send()
                        .await
                        .unwrap();
                }
                "/consent" => {
                    self.seen.borrow_mut().push("consent");
                    let (allow, remember) = person.consent.expect("the flow asked for consent");
                    let mut form = vec![
                        ("csrf_token", field(&html, "csrf_token").unwrap()),
                        ("flow", field(&html, "flow").unwrap()),
                        ("decision", if allow { "allow" } else { "deny" }.to_owned()),
                    ];
                    if remember {
                        form.push(("remember", "yes".to_owned()));
                    }
                    response = self
                        .http
                        .post(self.absolute("/consent"))
                        .form(&form)
                        .send()
                        .await
                        .unwrap();
                }
                other => panic!("unexpected page {other} ({status}): {html}"),
            }
        }
        panic!("the flow did not end");
    }

    /// Signs in directly on /login, outside any flow.
    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        let page = self
            .http
            .get(self.absolute("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = [
            ("csrf_token", field(&page, "csrf_token").unwrap()),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        self.http
            .post(self.absolute("/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}
