-- Usernames are unique regardless of case (they are ASCII), and an e-mail address
-- belongs to one user at most. The server checks for existing clashes before this
-- runs and, if there are any, names them and stops instead of failing here.
CREATE UNIQUE INDEX users_username_folded ON users (lower(username));
CREATE UNIQUE INDEX users_email_folded ON users (lower(email)) WHERE email IS NOT NULL;
