DROP INDEX users_email_folded;
DROP INDEX users_username_folded;
